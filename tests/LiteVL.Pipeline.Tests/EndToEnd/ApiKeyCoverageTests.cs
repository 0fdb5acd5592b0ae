using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// Every operation in the embedded host's OpenAPI document needs a key: without one, and with a wrong one, it answers
/// 401 before touching anything; the admin operations (the dashboard's API and key management) answer 403 to a
/// tenant's key. The list comes from the document the host serves, so a route added later is covered without editing
/// this test (issue 17: "every route in the OpenAPI document is checked to require a key"). The routes outside the
/// document that answer without a key are listed here and checked to be exactly the health probes, /metrics, the
/// document itself and the dashboard's static shell.
/// </summary>
public sealed class ApiKeyCoverageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_documented_operation_refuses_a_missing_or_wrong_key_and_admin_operations_refuse_a_tenant_key()
    {
        string root = Directory.CreateTempSubdirectory("litevl-auth-").FullName;
        string data = Path.Combine(root, "data");
        try
        {
            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string>(), samples: 0, workingDirectory: root);
            await host.WaitUntilRunningAsync(TimeSpan.FromMinutes(3));

            using var http = new HttpClient { BaseAddress = host.BaseAddress };
            using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
            var operations = document.RootElement.GetProperty("paths").EnumerateObject()
                .SelectMany(path => path.Value.EnumerateObject().Select(op => (Method: op.Name.ToUpperInvariant(), Path: path.Name)))
                .ToList();

            // The document must list the public API and the dashboard's, or this test would pass on an empty list.
            Assert.True(operations.Count >= 20, $"only {operations.Count} operations in the OpenAPI document");
            Assert.Contains(("POST", "/v1/search"), operations);
            Assert.Contains(("POST", "/v1/videos/{id}/ask"), operations);
            Assert.Contains(("GET", "/admin/api/videos"), operations);

            string tenantKey = await host.CreateTenantKeyAsync("t1", "auth");

            foreach (var (method, path) in operations)
            {
                string url = path.Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal).Replace("{index}", "0", StringComparison.Ordinal);
                Assert.DoesNotContain('{', url); // a new route parameter must get a value here
                bool adminOnly = path.StartsWith("/admin/", StringComparison.Ordinal) || path.StartsWith("/v1/admin/", StringComparison.Ordinal);
                var none = await SendAsync(http, method, url, key: null);
                var wrong = await SendAsync(http, method, url, key: "lvk_not-a-key");
                var tenant = await SendAsync(http, method, url, tenantKey);
                output.WriteLine($"{method,-6} {path,-55} no key {(int)none}, wrong key {(int)wrong}, tenant key {(int)tenant}");
                Assert.Equal(HttpStatusCode.Unauthorized, none);
                Assert.Equal(HttpStatusCode.Unauthorized, wrong);
                if (adminOnly)
                {
                    Assert.Equal(HttpStatusCode.Forbidden, tenant);
                }
                else
                {
                    Assert.NotEqual(HttpStatusCode.Unauthorized, tenant);
                    Assert.NotEqual(HttpStatusCode.Forbidden, tenant);
                }
            }

            // Outside the document, only these answer without a key: the probes, the metrics scrape, the document itself
            // and the dashboard's static shell (it holds no data: everything it shows comes from /admin/api with the key).
            string[] publicRoutes = ["/health/live", "/health/ready", "/metrics", "/openapi/v1.json", "/admin", "/admin/dashboard.js", "/admin/dashboard.css"];
            foreach (string route in publicRoutes)
            {
                using var response = await http.GetAsync(new Uri(route, UriKind.Relative));
                output.WriteLine($"GET    {route,-55} no key {(int)response.StatusCode} (public)");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.DoesNotContain(tenantKey, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            Assert.DoesNotContain(operations, o => publicRoutes.Contains(o.Path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, string method, string url, string? key)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(url, UriKind.Relative));
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
