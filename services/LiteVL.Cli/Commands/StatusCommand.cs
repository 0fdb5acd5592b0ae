using System.CommandLine;
using System.Net.Http.Headers;
using LiteVL.Cli.Ingest;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl status --server URL --key KEY</c>: videos per pipeline state and the 10 most recent failures.</summary>
internal static class StatusCommand
{
    public static Command Create(TextWriter output)
    {
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var key = new Option<string?>("--key") { Description = "API key (or set LITEVL_API_KEY)." };
        var cmd = new Command("status", "Count videos by pipeline state and list the most recent failures.") { server, key };
        cmd.SetAction(async (p, ct) =>
        {
            string apiKey = p.GetValue(key) ?? Environment.GetEnvironmentVariable("LITEVL_API_KEY")
                ?? throw new ArgumentException("No API key: pass --key KEY or set LITEVL_API_KEY (the embedded host writes one to .litevl/demo-key).");
            string serverUrl = p.GetValue(server)!;
            if (!Uri.TryCreate(serverUrl.EndsWith('/') ? serverUrl : serverUrl + "/", UriKind.Absolute, out var baseUri))
                throw new ArgumentException($"--server {serverUrl} is not an absolute URL.");
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(1) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            var report = await StatusClient.FetchAsync(http, ct).ConfigureAwait(false);
            StatusClient.Write(output, report);
            return 0;
        });
        return cmd;
    }
}
