using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Media;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl bench pipeline</c>: uploads generated clips to a running platform (embedded or distributed), waits until
/// they are indexed and reports videos/s and where the time went, from each video's stage timeline; then times
/// single-pass frame sampling against per-frame seeking on a long clip. Prints figures; asserts nothing.
/// </summary>
internal static class PipelineBenchmark
{
    private static readonly string[] Stages = ["Uploaded", "Extracting", "Extracted", "Encoding", "Encoded", "Indexing", "Indexed"];

    public static Command Create(TextWriter output)
    {
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var keyFile = new Option<string>("--key-file") { Description = "File holding an admin API key.", DefaultValueFactory = _ => ".litevl/admin-key" };
        var clips = new Option<int>("--clips") { Description = "Clips to ingest.", DefaultValueFactory = _ => 24 };
        var seconds = new Option<double>("--clip-seconds") { Description = "Length of each clip.", DefaultValueFactory = _ => 20 };
        var seek = new Option<bool>("--sampling") { Description = "Also time single-pass sampling vs per-frame seeking on a 5-minute clip.", DefaultValueFactory = _ => true };
        var cmd = new Command("pipeline", "Videos/s through the whole pipeline, the share of time per stage, and single-pass vs seek sampling.") { server, keyFile, clips, seconds, seek };
        cmd.SetAction(async (p, ct) =>
        {
            await RunAsync(p.GetValue(server)!, p.GetValue(keyFile)!, p.GetValue(clips), p.GetValue(seconds), p.GetValue(seek), output, ct).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }

    private static async Task RunAsync(string server, string keyFile, int count, double clipSeconds, bool sampling, TextWriter o, CancellationToken ct)
    {
        if (!File.Exists(keyFile))
        {
            throw new FileNotFoundException($"No admin key at '{keyFile}': start the embedded host (it writes <data>/admin-key) or pass --key-file.", keyFile);
        }

        var baseUri = new Uri(server);
        using var admin = new HttpClient { BaseAddress = baseUri };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(keyFile, ct).ConfigureAwait(false)).Trim());
        string tenant = $"bench-{DateTime.UtcNow:yyyyMMddHHmmss}";
        using var created = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant, name = "bench" }, ct).ConfigureAwait(false);
        created.EnsureSuccessStatusCode();
        using var keyDoc = JsonDocument.Parse(await created.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", keyDoc.RootElement.GetProperty("key").GetString());

        string work = Directory.CreateTempSubdirectory("litevl-bench-").FullName;
        try
        {
            using var generator = new SampleClips();
            var paths = new List<string>();
            for (int i = 0; i < count; i++)
            {
                // Slightly different lengths: distinct bytes, so no upload is deduplicated.
                var spec = new ClipSpec(ClipSource.MovingBox, clipSeconds + (i * 0.04), 640, 360, 25, ClipCodec.H264, "mp4", true);
                paths.Add(await generator.GenerateAsync(spec, Path.Combine(work, $"clip{i:D3}.mp4"), ct).ConfigureAwait(false));
            }

            o.WriteLine($"# litevl bench pipeline — {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, server {server}");
            o.WriteLine();
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} clips of {clipSeconds:F0} s, 640×360 H.264 25 fps with audio, uploaded 4 at a time."));
            var started = DateTime.UtcNow;
            var ids = new List<Guid>();
            await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (path, token) =>
            {
                using var content = new StreamContent(File.OpenRead(path));
                content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
                using var response = await http.PostAsync(new Uri($"/v1/videos?filename={Path.GetFileName(path)}", UriKind.Relative), content, token).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(token).ConfigureAwait(false));
                lock (ids)
                {
                    ids.Add(doc.RootElement.GetProperty("id").GetGuid());
                }
            }).ConfigureAwait(false);
            var uploaded = DateTime.UtcNow;

            var timelines = new Dictionary<Guid, (string State, int Segments, Dictionary<string, DateTime> At)>();
            while (timelines.Count < ids.Count)
            {
                foreach (var id in ids.Where(i => !timelines.ContainsKey(i)))
                {
                    using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/v1/videos/{id}", UriKind.Relative), ct).ConfigureAwait(false));
                    string state = doc.RootElement.GetProperty("state").GetString()!;
                    if (state is "Indexed" or "Failed")
                    {
                        var at = new Dictionary<string, DateTime>();
                        foreach (var e in doc.RootElement.GetProperty("timeline").EnumerateArray())
                        {
                            at[e.GetProperty("state").GetString()!] = e.GetProperty("at").GetDateTime();
                        }

                        timelines[id] = (state, doc.RootElement.GetProperty("segmentCount").GetInt32(), at);
                    }
                }

                await Task.Delay(200, ct).ConfigureAwait(false);
            }

            var done = DateTime.UtcNow;
            var indexed = timelines.Values.Where(t => t.State == "Indexed").ToList();
            int segments = indexed.Sum(t => t.Segments);
            double wall = (done - started).TotalSeconds;
            o.WriteLine();
            o.WriteLine("| figure | value |");
            o.WriteLine("|---|---:|");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| videos indexed / failed | {indexed.Count} / {timelines.Count - indexed.Count} |"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| segments | {segments} |"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| upload phase | {(uploaded - started).TotalSeconds:F1} s |"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| first upload → last indexed | {wall:F1} s |"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| throughput | {indexed.Count / wall:F2} videos/s, {segments / wall:F2} segments/s |"));
            o.WriteLine();
            o.WriteLine("Time per stage, summed over videos (working = in the stage; waiting = queued for it):");
            o.WriteLine();
            o.WriteLine("| stage | mean per video | share |");
            o.WriteLine("|---|---:|---:|");
            var spans = new (string Name, string From, string To)[]
            {
                ("waiting for extraction", "Uploaded", "Extracting"),
                ("extracting frames (ffmpeg)", "Extracting", "Extracted"),
                ("waiting for an encoder", "Extracted", "Encoding"),
                ("encoding (video_encoder + feature store)", "Encoding", "Encoded"),
                ("waiting for the indexer", "Encoded", "Indexing"),
                ("indexing", "Indexing", "Indexed"),
            };
            var totals = spans.Select(s => indexed.Sum(t => t.At.TryGetValue(s.From, out var a) && t.At.TryGetValue(s.To, out var b) ? (b - a).TotalSeconds : 0)).ToArray();
            double all = Math.Max(1e-9, totals.Sum());
            for (int i = 0; i < spans.Length; i++)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {spans[i].Name} | {totals[i] / Math.Max(1, indexed.Count) * 1000:F0} ms | {totals[i] / all:P0} |"));
            }

            if (sampling)
            {
                o.WriteLine();
                o.WriteLine("Frame sampling on a 5-minute 640×360 H.264 clip, 30 segments × 8 frames at 224×224:");
                var result = await ExtractionBenchmark.RunAsync(Path.Combine(work, "sampling"), cancellationToken: ct).ConfigureAwait(false);
                o.WriteLine();
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| single pass | per-frame seeking | ratio | mean |Δpixel| |"));
                o.WriteLine("|---:|---:|---:|---:|");
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {result.SinglePass.TotalSeconds:F2} s | {result.Seek.TotalSeconds:F2} s | {result.Speedup:F1}x | {result.MeanAbsPixelDiff:F3} |"));
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
