using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;
using LiteVL.VectorIndex;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// The embedded host as a newcomer runs it, fed ≥ 12 varied clips and bad files concurrently over HTTP: every good
/// clip ends Indexed with the planned number of segments and exactly one vector point per segment; every bad file is
/// rejected (4xx) or ends Failed with a reason, while the good ones still index.
/// </summary>
public sealed class EmbeddedHostEndToEndTests(ClipSetFixture clips, ITestOutputHelper output) : IClassFixture<ClipSetFixture>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public Task Sqlite_EveryClipEndsIndexedOrFailedWithAReason() => RunAsync(new Dictionary<string, string>());

    [SkippableFact]
    public async Task Postgres_EveryClipEndsIndexedOrFailedWithAReason()
    {
        await using var database = await PostgresDatabase.CreateAsync("litevl_e2e");
        await RunAsync(new Dictionary<string, string>
        {
            ["LiteVL__Storage__Provider"] = "Postgres",
            ["LiteVL__Storage__ConnectionString"] = database.ConnectionString,
        });
    }

    private async Task RunAsync(IReadOnlyDictionary<string, string> environment)
    {
        string data = Directory.CreateTempSubdirectory("litevl-e2e-").FullName;
        try
        {
            var results = new Dictionary<ClipCase, (HttpStatusCode Status, UploadResponse? Body)>();
            string? version;
            await using (var host = await HostProcess.StartAsync(data, environment))
            {
                using var http = await TenantClientAsync(host, "e2e");
                var started = DateTime.UtcNow;
                await Parallel.ForEachAsync(clips.Cases, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (clip, ct) =>
                {
                    var result = await UploadAsync(http, clip, ct);
                    lock (results)
                    {
                        results[clip] = result;
                    }
                });

                var final = await WaitForTerminalAsync(http, results.Values.Where(r => r.Body is not null).Select(r => r.Body!.Id).ToList(), host);
                output.WriteLine($"{results.Count} uploads reached a final state in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
                foreach (var (clip, (status, body)) in results.OrderBy(r => r.Key.Name, StringComparer.Ordinal))
                {
                    if (clip.RejectStatus is { } expectedStatus)
                    {
                        Assert.True((int)status == expectedStatus, $"{clip.Name}: expected HTTP {expectedStatus}, got {(int)status}");
                        output.WriteLine($"  {clip.Name,-48} rejected with {(int)status}");
                        continue;
                    }

                    Assert.True(status == HttpStatusCode.Accepted, $"{clip.Name}: upload answered {(int)status}");
                    var video = final[body!.Id];
                    output.WriteLine($"  {clip.Name,-48} {video.State,-8} {video.SegmentCount} segments {video.Failure?.Reason}");
                    if (clip.ExpectedSegments is { } segments)
                    {
                        Assert.True(video.State == VideoState.Indexed, $"{clip.Name} ended {video.State}: {video.Failure?.Reason}\n{host.Log[^Math.Min(4000, host.Log.Length)..]}");
                        Assert.Equal(segments, video.SegmentCount);
                        Assert.Equal(segments, video.Segments.Count);
                        Assert.Equal(Enumerable.Range(0, segments), video.Segments.Select(s => s.Index));
                        Assert.All(video.Segments, s => Assert.True(s.End > s.Start));
                    }
                    else
                    {
                        Assert.True(video.State == VideoState.Failed, $"{clip.Name} should have failed but ended {video.State}");
                        Assert.Equal("extract", video.Failure!.Stage);
                        Assert.False(string.IsNullOrWhiteSpace(video.Failure.Reason));
                        Assert.Contains(clip.FailureContains!, video.Failure.Reason!, StringComparison.OrdinalIgnoreCase);
                    }
                }

                var thumbnail = final.Values.First(v => v.State == VideoState.Indexed).Segments[0].ThumbnailUrl;
                using var jpeg = await http.GetAsync(new Uri(thumbnail, UriKind.Relative));
                Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType?.MediaType);
                Assert.Equal([0xFF, 0xD8], (await jpeg.Content.ReadAsByteArrayAsync())[..2]);
                await SearchAsync(host, http, final);
                version = final.Values.First(v => v.State == VideoState.Indexed).ModelVersion;
                Assert.All(final.Values.Where(v => v.State == VideoState.Indexed), v => Assert.Equal(version, v.ModelVersion));
            }

            // Exactly one point per segment, read from the index the host left on disk.
            using var index = EmbeddedVectorIndex.Open(Path.Combine(data, "vectors"));
            long total = 0;
            foreach (var (clip, (_, body)) in results.Where(r => r.Key.ExpectedSegments is not null))
            {
                long points = await index.CountAsync(version!, new VectorFilter("e2e") { VideoIds = [body!.Id] });
                Assert.True(clip.ExpectedSegments == points, $"{clip.Name}: {points} points for {clip.ExpectedSegments} segments");
                total += points;
            }

            Assert.Equal(total, await index.CountAsync(version!, new VectorFilter("e2e")));
            output.WriteLine($"{total} points for {results.Count(r => r.Key.ExpectedSegments is not null)} indexed videos");
        }
        finally
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Search over HTTP and through `litevl search`: hits from this tenant's indexed videos, evidence inside segments.</summary>
    private async Task SearchAsync(HostProcess host, HttpClient http, Dictionary<Guid, VideoView> final)
    {
        var indexed = final.Values.Where(v => v.State == VideoState.Indexed).ToDictionary(v => v.Id);
        // The shipped model does not re-rank unless asked (rerank_by_default: false); this test exercises the re-ranked path.
        using var response = await http.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query = "a yellow box moving across a blue frame", limit = 5, candidates = 16, rerank = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var hits = doc.RootElement.GetProperty("hits");
        Assert.InRange(hits.GetArrayLength(), 1, 5);
        Assert.True(doc.RootElement.GetProperty("reranked").GetBoolean());
        foreach (var hit in hits.EnumerateArray())
        {
            Assert.True(indexed.ContainsKey(hit.GetProperty("videoId").GetGuid()), "a hit must be one of this tenant's indexed videos");
            foreach (var s in hit.GetProperty("segments").EnumerateArray())
            {
                Assert.InRange(s.GetProperty("evidenceTime").GetDouble(), s.GetProperty("start").GetDouble(), s.GetProperty("end").GetDouble());
            }
        }

        using var bad = await http.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query = "  " });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);

        using var cliOut = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using var cliErr = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        int exit = LiteVL.Cli.CliApp.Run(["search", "a yellow box moving", "--server", host.BaseAddress.ToString(), "--key", http.DefaultRequestHeaders.Authorization!.Parameter!, "--limit", "3", "--rerank"], cliOut, cliErr);
        output.WriteLine(cliOut.ToString());
        Assert.True(exit == 0, cliErr.ToString());
        Assert.Contains("re-ranked", cliOut.ToString(), StringComparison.Ordinal);
        Assert.True(
            indexed.Values.Any(v => cliOut.ToString().Contains(v.Title![..Math.Min(27, v.Title!.Length)], StringComparison.Ordinal)),
            "the table must show the title of an indexed video");
    }

    private static async Task<HttpClient> TenantClientAsync(HostProcess host, string tenant)
    {
        string adminKey = (await File.ReadAllTextAsync(Path.Combine(host.DataDirectory, "admin-key"))).Trim();
        using var admin = new HttpClient { BaseAddress = host.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        using var created = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant, name = "e2e" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var doc = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", doc.RootElement.GetProperty("key").GetString());
        return client;
    }

    private static async Task<(HttpStatusCode, UploadResponse?)> UploadAsync(HttpClient http, ClipCase clip, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(clip.Name), "title");
        form.Add(new StringContent("e2e"), "tags");
        var file = new StreamContent(File.OpenRead(clip.Path));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        form.Add(file, "file", clip.Name);
        using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form, ct);
        return response.StatusCode == HttpStatusCode.Accepted
            ? (response.StatusCode, await response.Content.ReadFromJsonAsync<UploadResponse>(Json, ct))
            : (response.StatusCode, null);
    }

    private static async Task<Dictionary<Guid, VideoView>> WaitForTerminalAsync(HttpClient http, List<Guid> ids, HostProcess host)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        var final = new Dictionary<Guid, VideoView>();
        while (DateTime.UtcNow < deadline)
        {
            foreach (var id in ids.Where(i => !final.ContainsKey(i)))
            {
                var view = (await http.GetFromJsonAsync<VideoView>(new Uri($"/v1/videos/{id}", UriKind.Relative), Json))!;
                if (view.State is VideoState.Indexed or VideoState.Failed)
                {
                    final[id] = view;
                }
            }

            if (final.Count == ids.Count)
            {
                return final;
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"{ids.Count - final.Count} videos did not finish in 5 minutes.\n{host.Log[^Math.Min(6000, host.Log.Length)..]}");
    }
}
