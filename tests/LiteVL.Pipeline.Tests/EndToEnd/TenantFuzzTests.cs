using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVL.Media;
using LiteVL.Testing;
using LiteVL.VectorIndex;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// Issue 17, tenant fuzzing: five tenants with three indexed videos each (one of them the same bytes in every tenant),
/// then 10,000 random searches (random queries, every filter, limits), questions, video reads, thumbnail reads, listings
/// and deletes over HTTP, with ids drawn from the caller's videos, other tenants', deleted ones, random GUIDs and garbage.
/// No response may show another tenant's video; another tenant's id must answer exactly like an id that does not exist
/// (404, the same ProblemDetails); a delete with the wrong key must leave the video, its files and its points intact.
/// LITEVL_FUZZ_SEED replays a run (the seed is printed); LITEVL_FUZZ_OPERATIONS changes the count.
/// </summary>
public sealed class TenantFuzzTests(ITestOutputHelper output)
{
    private const int TenantCount = 5;
    private const int Concurrency = 8;

    private static readonly string[] Words =
    [
        "a", "red", "blue", "green", "yellow", "circle", "square", "triangle", "moves", "left", "right", "up", "down", "grows",
        "shrinks", "appears", "then", "box", "across", "frame", "colour", "bars", "fractal", "cells", "the", "slowly",
    ];

    private static readonly string[] OddQueries = ["", "   ", ".!:;~ (*)", new string('x', 1001), "' OR 1=1 --", "<script>alert(1)</script>", "ünïcödé 视频 🎥", "%00%2e%2e/"];

    private static readonly string[] Garbage = ["not-a-guid", "..%2F..%2Fetc%2Fpasswd", "%00", "12345", "00000000-0000-0000-0000-00000000000g", new string('a', 300), "%7B%7D", "null"];

    [Fact]
    public async Task Ten_thousand_random_operations_across_five_tenants_never_cross_a_tenant()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("LITEVL_FUZZ_SEED"), CultureInfo.InvariantCulture, out int s) ? s : Environment.TickCount;
        int operations = int.TryParse(Environment.GetEnvironmentVariable("LITEVL_FUZZ_OPERATIONS"), CultureInfo.InvariantCulture, out int n) ? n : 10_000;
        output.WriteLine($"seed {seed} (LITEVL_FUZZ_SEED={seed} replays the same operations), {operations} operations, {TenantCount} tenants");

        string root = Directory.CreateTempSubdirectory("litevl-fuzz-").FullName;
        string data = Path.Combine(root, "data");
        try
        {
            var clock = Stopwatch.StartNew();
            var clipFiles = await MakeClipsAsync(Path.Combine(root, "clips"));
            output.WriteLine($"{clipFiles.Shared.Count + clipFiles.Own.Sum(o => o.Count)} clips generated in {clock.Elapsed.TotalSeconds:F1} s");

            var tenants = new List<Tenant>();
            string? version;
            await using (var host = await HostProcess.StartAsync(data, new Dictionary<string, string>()))
            {
                await host.WaitUntilRunningAsync(TimeSpan.FromMinutes(3));
                using var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
                for (int t = 0; t < TenantCount; t++)
                {
                    string name = $"fuzz{t}";
                    var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
                    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await host.CreateTenantKeyAsync(name, "fuzz"));
                    tenants.Add(new Tenant(t, name, http));
                }

                clock.Restart();
                await UploadAllAsync(tenants, clipFiles);
                version = await WaitUntilIndexedAsync(tenants, host);
                output.WriteLine($"{tenants.Sum(t => t.Videos.Count)} videos ({tenants.Sum(t => t.Videos.Sum(v => v.Segments))} segments) uploaded and indexed in {clock.Elapsed.TotalSeconds:F1} s");

                var plan = Plan(new Random(seed), tenants, operations);
                var tally = new Tally();
                clock.Restart();
                await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (op, ct) => await RunAsync(op, tenants, tally));
                double seconds = clock.Elapsed.TotalSeconds;

                output.WriteLine($"{plan.Count} operations in {seconds:F1} s ({plan.Count / seconds:F0}/s, {Concurrency} at a time)");
                foreach (var line in tally.Report())
                {
                    output.WriteLine(line);
                }

                output.WriteLine($"cross-tenant results or side effects: {tally.CrossTenant.Count}; unexpected answers: {tally.Unexpected.Count}");
                Assert.True(tally.CrossTenant.IsEmpty, "cross-tenant: " + string.Join("\n", tally.CrossTenant.Take(20)));
                Assert.True(tally.Unexpected.IsEmpty, "unexpected: " + string.Join("\n", tally.Unexpected.Take(20)));
                foreach (var (kind, bodies) in tally.NotFoundBodies.OrderBy(k => k.Key, StringComparer.Ordinal))
                {
                    // Another tenant's id, a deleted one and one that never existed must be told apart by nothing.
                    Assert.True(bodies.Count == 1, $"{kind}: the 404s differ between ids:\n{string.Join("\n", bodies.Keys)}");
                }

                Assert.True(tally.Count("delete", 204) > 0 && tally.Count("delete", 404) > 0 && tally.Count("search", 200) > 0 && tally.Count("ask", 200) > 0, "the plan must exercise every path");
                await VerifySurvivorsAsync(tenants);
            }

            // Every video its own tenant did not delete keeps exactly one point per segment; the deleted ones have none.
            using var index = EmbeddedVectorIndex.Open(Path.Combine(data, "vectors"));
            foreach (var video in tenants.SelectMany(t => t.Videos))
            {
                long points = await index.CountAsync(version, new VectorFilter(tenants[video.Tenant].Name) { VideoIds = [video.Id] });
                Assert.True(points == (video.IsDeleted ? 0 : video.Segments), $"{video}: {points} points");
                Assert.Equal(!video.IsDeleted, File.Exists(Path.Combine(data, "blobs", "originals", tenants[video.Tenant].Name, video.Id.ToString("N"))));
            }

            output.WriteLine($"{tenants.Sum(t => t.Videos.Count(v => !v.IsDeleted))} surviving videos keep their rows, originals and points; {tenants.Sum(t => t.Videos.Count(v => v.IsDeleted))} deleted by their own tenant have none");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A clip every tenant uploads (the same bytes: deduplication must not cross tenants) and two of each tenant's own (one of them two segments long).</summary>
    private static async Task<(List<string> Shared, List<List<string>> Own)> MakeClipsAsync(string dir)
    {
        using var clips = new SampleClips();
        var shared = new List<string>
        {
            await clips.GenerateAsync(new ClipSpec(ClipSource.MovingBox, 4, 128, 96, 10, ClipCodec.H264, "mp4", false), Path.Combine(dir, "shared-box.mp4")),
        };
        string[] colours = ["red", "green", "blue", "yellow", "white", "purple", "orange", "cyan"];
        var own = new List<List<string>>();
        for (int t = 0; t < TenantCount; t++)
        {
            own.Add(
            [
                await clips.GenerateAsync(new ClipSpec(ClipSource.Color, 3, 96, 64, 10, ClipCodec.H264, "mp4", false, colours[t % colours.Length]), Path.Combine(dir, $"t{t}-colour.mp4")),
                await clips.GenerateAsync(new ClipSpec(t % 2 == 0 ? ClipSource.Mandelbrot : ClipSource.Life, t == 0 ? 11 : 3 + (0.5 * t), 96, 64, 10, ClipCodec.H264, "mp4", false), Path.Combine(dir, $"t{t}-pattern.mp4")),
            ]);
        }

        return (shared, own);
    }

    private static async Task UploadAllAsync(List<Tenant> tenants, (List<string> Shared, List<List<string>> Own) clips)
    {
        var uploads = tenants.SelectMany(t => clips.Shared.Concat(clips.Own[t.Index]).Select(path => (Tenant: t, Path: path)));
        await Parallel.ForEachAsync(uploads, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (u, ct) =>
        {
            string tags = $"fuzz,common,{u.Tenant.Name},{Path.GetFileNameWithoutExtension(u.Path)}";
            using var content = new StreamContent(File.OpenRead(u.Path));
            content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
            using var response = await u.Tenant.Http.PostAsync(new Uri($"/v1/videos?title={Uri.EscapeDataString(Path.GetFileName(u.Path))}&tags={tags}", UriKind.Relative), content, ct);
            string body = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
            using var doc = JsonDocument.Parse(body);
            Assert.False(doc.RootElement.GetProperty("duplicate").GetBoolean(), $"{u.Tenant.Name}'s first upload of {u.Path} was taken for another tenant's copy");
            lock (u.Tenant.Videos)
            {
                u.Tenant.Videos.Add(new FuzzVideo(doc.RootElement.GetProperty("id").GetGuid(), u.Tenant.Index, [.. tags.Split(',')]));
            }
        });
    }

    /// <summary>Waits until every video is Indexed; records its segments and upload time; returns the model version.</summary>
    private static async Task<string> WaitUntilIndexedAsync(List<Tenant> tenants, HostProcess host)
    {
        var deadline = DateTime.UtcNow.AddMinutes(4);
        string? version = null;
        foreach (var (tenant, video) in tenants.SelectMany(t => t.Videos.Select(v => (t, v))))
        {
            while (true)
            {
                using var doc = JsonDocument.Parse(await tenant.Http.GetStringAsync(new Uri($"/v1/videos/{video.Id}", UriKind.Relative)));
                string state = doc.RootElement.GetProperty("state").GetString()!;
                Assert.True(state != "Failed", $"{video} failed: {doc.RootElement.GetProperty("failure")}");
                if (state == "Indexed")
                {
                    video.Segments = doc.RootElement.GetProperty("segmentCount").GetInt32();
                    video.CreatedAt = doc.RootElement.GetProperty("createdAt").GetDateTime();
                    version = doc.RootElement.GetProperty("modelVersion").GetString();
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"{video} is still {state} after 4 minutes\n{host.Tail()}");
                await Task.Delay(250);
            }
        }

        return version!;
    }

    /// <summary>The operations, drawn in order from one seeded generator (the same seed gives the same plan).</summary>
    private static List<Operation> Plan(Random random, List<Tenant> tenants, int count)
    {
        var all = tenants.SelectMany(t => t.Videos).ToList();
        var doomed = new HashSet<FuzzVideo>();
        var plan = new List<Operation>(count);
        while (plan.Count < count)
        {
            var tenant = tenants[random.Next(tenants.Count)];
            int roll = random.Next(100);
            string kind = roll switch
            {
                < 25 => "search",
                < 35 => "ask",
                < 55 => "video",
                < 72 => "thumbnail",
                < 82 => "list",
                _ => "delete",
            };
            var (target, text, category) = DrawId(random, tenant, all, doomed);
            if (kind == "delete" && category == Category.Own)
            {
                // Each tenant deletes at most half of its own videos (so most survive to be checked), at a random moment.
                if (random.Next(20) != 0 || doomed.Contains(target!) || doomed.Count(v => v.Tenant == tenant.Index) >= tenant.Videos.Count / 2)
                {
                    continue;
                }

                doomed.Add(target!);
            }

            plan.Add(new Operation(kind, tenant.Index, target, text, category, random.Next()));
        }

        return plan;
    }

    private static (FuzzVideo? Target, string Text, Category Category) DrawId(Random random, Tenant tenant, List<FuzzVideo> all, HashSet<FuzzVideo> doomed)
    {
        int roll = random.Next(100);
        if (roll < 35)
        {
            var own = tenant.Videos[random.Next(tenant.Videos.Count)];
            return (own, own.Id.ToString(), Category.Own);
        }

        if (roll < 75)
        {
            var others = all.Where(v => v.Tenant != tenant.Index).ToList();
            var other = others[random.Next(others.Count)];
            // The same id in the other spellings a Guid route accepts must not reach the video either.
            string text = random.Next(6) switch
            {
                0 => other.Id.ToString().ToUpperInvariant(),
                1 => other.Id.ToString("N"),
                2 => Uri.EscapeDataString(other.Id.ToString("B")),
                _ => other.Id.ToString(),
            };
            return (other, text, Category.Other);
        }

        if (roll < 90)
        {
            return (null, Guid.NewGuid().ToString(), Category.Missing);
        }

        return (null, Garbage[random.Next(Garbage.Length)], Category.Garbage);
    }

    private static async Task RunAsync(Operation op, List<Tenant> tenants, Tally tally)
    {
        var tenant = tenants[op.Tenant];
        var random = new Random(op.Seed);
        long started = Stopwatch.GetTimestamp();
        try
        {
            switch (op.Kind)
            {
                case "search":
                    await SearchAsync(op, tenants, tally, random);
                    break;
                case "ask":
                    await AskAsync(op, tenant, tally, random);
                    break;
                case "video":
                    await ReadVideoAsync(op, tenant, tally);
                    break;
                case "thumbnail":
                    await ReadThumbnailAsync(op, tenant, tally, random);
                    break;
                case "list":
                    await ListAsync(op, tenant, tally, random);
                    break;
                default:
                    await DeleteAsync(op, tenant, tally);
                    break;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            tally.Unexpected.Add($"{op}: {e.GetType().Name}: {e.Message}");
        }

        tally.Time(op.Kind, Stopwatch.GetElapsedTime(started));
    }

    private static async Task SearchAsync(Operation op, List<Tenant> tenants, Tally tally, Random random)
    {
        var tenant = tenants[op.Tenant];
        var all = tenants.SelectMany(t => t.Videos).ToList();
        bool valid = true;
        string query = random.Next(12) == 0
            ? OddQueries[random.Next(OddQueries.Length)]
            : string.Join(' ', Enumerable.Range(0, random.Next(1, 8)).Select(_ => Words[random.Next(Words.Length)]));
        string trimmed = query.Trim();
        // Refused: empty, too long, or nothing left once BLIP's caption punctuation is removed.
        valid &= trimmed.Length is > 0 and <= 1000 && trimmed.Any(c => !char.IsWhiteSpace(c) && ".!\"()*#:;~".IndexOf(c, StringComparison.Ordinal) < 0);
        var body = new JsonObject { ["query"] = query };
        if (random.Next(2) == 0)
        {
            int limit = random.Next(20) == 0 ? (random.Next(2) == 0 ? 0 : 101) : random.Next(1, 101);
            body["limit"] = limit;
            valid &= limit is >= 1 and <= 100;
        }

        if (random.Next(3) == 0)
        {
            int candidates = random.Next(30) == 0 ? 257 : random.Next(1, 65);
            body["candidates"] = candidates;
            valid &= candidates <= 256;
        }

        // Re-ranking costs most of a search's time; a third of the searches skip it, as a client may.
        if (random.Next(3) == 0)
        {
            body["rerank"] = false;
        }

        var filter = new JsonObject();
        if (random.Next(3) == 0)
        {
            string[] tags = ["fuzz", "common", "shared-box", .. tenants.Select(t => t.Name), "nobody"];
            filter["tags"] = new JsonArray([.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => (JsonNode)tags[random.Next(tags.Length)])]);
        }

        if (random.Next(3) == 0)
        {
            // Own, other tenants' and unknown ids: only the caller's own may come back.
            filter["videoIds"] = new JsonArray([.. Enumerable.Range(0, random.Next(1, 6)).Select(_ => (JsonNode)(random.Next(4) switch
            {
                0 => tenant.Videos[random.Next(tenant.Videos.Count)].Id,
                3 => Guid.NewGuid(),
                _ => all[random.Next(all.Count)].Id,
            }).ToString())]);
        }

        if (random.Next(4) == 0)
        {
            var from = DateTimeOffset.UtcNow.AddMinutes(-random.Next(0, 120));
            var to = from.AddMinutes(random.Next(-5, 240));
            if (random.Next(2) == 0)
            {
                filter["uploadedFrom"] = from;
            }

            if (random.Next(2) == 0)
            {
                filter["uploadedTo"] = to;
                valid &= !(filter["uploadedFrom"] is not null && to <= from);
            }
        }

        if (filter.Count > 0)
        {
            body["filter"] = filter;
        }

        using var response = await tenant.Http.PostAsync(new Uri("/v1/search", UriKind.Relative), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        tally.Record("search", response.StatusCode);
        if (!tally.Expect(op, response, text, valid ? HttpStatusCode.OK : HttpStatusCode.BadRequest))
        {
            return;
        }

        if (!valid)
        {
            return;
        }

        using var doc = JsonDocument.Parse(text);
        foreach (var hit in doc.RootElement.GetProperty("hits").EnumerateArray())
        {
            var id = hit.GetProperty("videoId").GetGuid();
            if (tenant.Videos.All(v => v.Id != id))
            {
                tally.CrossTenant.Add($"{op}: search hit {id} of {Owner(tenants, id)} for {tenant.Name}");
            }

            foreach (var segment in hit.GetProperty("segments").EnumerateArray())
            {
                if (!segment.GetProperty("thumbnailUrl").GetString()!.Contains(id.ToString(), StringComparison.Ordinal))
                {
                    tally.CrossTenant.Add($"{op}: a hit of {id} points at {segment.GetProperty("thumbnailUrl").GetString()}");
                }
            }
        }
    }

    private static async Task AskAsync(Operation op, Tenant tenant, Tally tally, Random random)
    {
        bool rank = random.Next(3) != 0;
        var body = new JsonObject { ["question"] = string.Join(' ', Enumerable.Range(0, random.Next(2, 7)).Select(_ => Words[random.Next(Words.Length)])) + "?" };
        if (rank)
        {
            body["answers"] = new JsonArray("left", "right", "up", "down", "grows", "shrinks");
        }
        else
        {
            body["mode"] = "generate";
        }

        using var response = await tenant.Http.PostAsync(new Uri($"/v1/videos/{op.Text}/ask", UriKind.Relative), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        tally.Record("ask", response.StatusCode);
        CheckById(op, response, text, tally, "ask");
    }

    private static async Task ReadVideoAsync(Operation op, Tenant tenant, Tally tally)
    {
        using var response = await tenant.Http.GetAsync(new Uri($"/v1/videos/{op.Text}", UriKind.Relative));
        string text = await response.Content.ReadAsStringAsync();
        tally.Record("video", response.StatusCode);
        if (CheckById(op, response, text, tally, "video") && response.StatusCode == HttpStatusCode.OK)
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.GetProperty("id").GetGuid() != op.Target!.Id
                || doc.RootElement.GetProperty("segments").EnumerateArray().Any(s => !s.GetProperty("thumbnailUrl").GetString()!.Contains(op.Target.Id.ToString(), StringComparison.Ordinal)))
            {
                tally.CrossTenant.Add($"{op}: the video read shows another video: {text}");
            }
        }
    }

    private static async Task ReadThumbnailAsync(Operation op, Tenant tenant, Tally tally, Random random)
    {
        int index = random.Next(10) == 0 ? (random.Next(2) == 0 ? -1 : int.MaxValue) : random.Next(0, 3);
        using var response = await tenant.Http.GetAsync(new Uri($"/v1/videos/{op.Text}/segments/{index}/thumbnail", UriKind.Relative));
        string text = response.Content.Headers.ContentType?.MediaType == "image/jpeg" ? "(jpeg)" : await response.Content.ReadAsStringAsync();
        tally.Record("thumbnail", response.StatusCode);
        bool exists = op.Category == Category.Own && index >= 0 && index < op.Target!.Segments;
        if (!exists && response.StatusCode == HttpStatusCode.OK)
        {
            tally.CrossTenant.Add($"{op} segment {index}: a thumbnail came back");
            return;
        }

        if (exists && !OwnGone(op) && response.StatusCode != HttpStatusCode.OK)
        {
            tally.Unexpected.Add($"{op} segment {index}: {(int)response.StatusCode} for an own thumbnail: {text}");
            return;
        }

        if (op.Category == Category.Garbage && response.StatusCode == HttpStatusCode.BadRequest && text.Length == 0)
        {
            return; // Kestrel's own refusal of a NUL in the path
        }

        if (response.StatusCode == HttpStatusCode.NotFound && op.Category != Category.Garbage)
        {
            tally.NotFound("thumbnail", op, text.Replace($"segment {index} ", "segment {index} ", StringComparison.Ordinal));
        }
        else if (response.StatusCode != HttpStatusCode.OK && response.StatusCode != HttpStatusCode.NotFound)
        {
            tally.Unexpected.Add($"{op} segment {index}: {(int)response.StatusCode} {text}");
        }
    }

    private static async Task ListAsync(Operation op, Tenant tenant, Tally tally, Random random)
    {
        string[] states = ["", "Indexed", "Uploaded", "Failed", "Bogus"];
        string state = states[random.Next(states.Length)];
        int page = random.Next(15) == 0 ? 0 : random.Next(1, 4);
        int size = random.Next(15) == 0 ? 1000 : random.Next(1, 11);
        using var response = await tenant.Http.GetAsync(new Uri($"/v1/videos?page={page}&pageSize={size}{(state.Length > 0 ? "&state=" + state : string.Empty)}", UriKind.Relative));
        string text = await response.Content.ReadAsStringAsync();
        tally.Record("list", response.StatusCode);
        bool valid = page >= 1 && size <= 500 && state != "Bogus";
        if (!tally.Expect(op, response, text, valid ? HttpStatusCode.OK : HttpStatusCode.BadRequest) || !valid)
        {
            return;
        }

        using var doc = JsonDocument.Parse(text);
        foreach (var item in doc.RootElement.GetProperty("items").EnumerateArray())
        {
            var id = item.GetProperty("id").GetGuid();
            if (tenant.Videos.All(v => v.Id != id))
            {
                tally.CrossTenant.Add($"{op}: listing shows {id}, not {tenant.Name}'s");
            }
        }

        if (doc.RootElement.GetProperty("total").GetInt32() > tenant.Videos.Count)
        {
            tally.CrossTenant.Add($"{op}: listing counts {doc.RootElement.GetProperty("total").GetInt32()} videos, {tenant.Name} has {tenant.Videos.Count}");
        }
    }

    private static async Task DeleteAsync(Operation op, Tenant tenant, Tally tally)
    {
        if (op.Category == Category.Own)
        {
            op.Target!.State = VideoState.Deleting; // before the request: a read that races with it may then answer 404
        }

        using var response = await tenant.Http.DeleteAsync(new Uri($"/v1/videos/{op.Text}", UriKind.Relative));
        string text = await response.Content.ReadAsStringAsync();
        tally.Record("delete", response.StatusCode);
        if (op.Category == Category.Own && response.StatusCode == HttpStatusCode.NoContent)
        {
            op.Target!.State = VideoState.Deleted;
            return;
        }

        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            tally.CrossTenant.Add($"{op}: deleted with {tenant.Name}'s key");
            return;
        }

        CheckById(op, response, text, tally, "delete");
    }

    /// <summary>
    /// An answer about one id: 200 only for the caller's own live video; 404 for everything else, with the same
    /// ProblemDetails whether the id is another tenant's, deleted or unknown. Returns false when it recorded a finding.
    /// </summary>
    private static bool CheckById(Operation op, HttpResponseMessage response, string text, Tally tally, string kind)
    {
        var status = response.StatusCode;
        if (op.Category == Category.Garbage && status == HttpStatusCode.BadRequest && text.Length == 0)
        {
            return true; // Kestrel refuses a request line with a NUL (%00) itself, before any route or key is looked at
        }

        if (op.Category != Category.Own && status is not HttpStatusCode.NotFound)
        {
            if (status is HttpStatusCode.OK or HttpStatusCode.NoContent or HttpStatusCode.Conflict or HttpStatusCode.Forbidden)
            {
                tally.CrossTenant.Add($"{op}: {(int)status} {Trim(text)}");
            }
            else
            {
                tally.Unexpected.Add($"{op}: {(int)status} {Trim(text)}");
            }

            return false;
        }

        if (op.Category == Category.Own && status is not (HttpStatusCode.OK or HttpStatusCode.NoContent) && !(OwnGone(op) && status == HttpStatusCode.NotFound))
        {
            tally.Unexpected.Add($"{op}: {(int)status} for an own video: {Trim(text)}");
            return false;
        }

        if (status == HttpStatusCode.NotFound && op.Category != Category.Garbage)
        {
            if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                tally.Unexpected.Add($"{op}: a 404 without ProblemDetails: {Trim(text)}");
                return false;
            }

            tally.NotFound(kind, op, text);
        }

        return true;
    }

    /// <summary>Every tenant lists exactly its videos that survived, each findable by search and readable; a deleted one is gone.</summary>
    private async Task VerifySurvivorsAsync(List<Tenant> tenants)
    {
        foreach (var tenant in tenants)
        {
            using var doc = JsonDocument.Parse(await tenant.Http.GetStringAsync(new Uri("/v1/videos?pageSize=100", UriKind.Relative)));
            var listed = doc.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()).Order().ToList();
            Assert.Equal(tenant.Videos.Where(v => !v.IsDeleted).Select(v => v.Id).Order(), listed);
            foreach (var video in tenant.Videos)
            {
                using var read = await tenant.Http.GetAsync(new Uri($"/v1/videos/{video.Id}", UriKind.Relative));
                Assert.Equal(video.IsDeleted ? HttpStatusCode.NotFound : HttpStatusCode.OK, read.StatusCode);
                using var search = await tenant.Http.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query = "a video", rerank = false, limit = 100, filter = new { videoIds = new[] { video.Id } } });
                using var hits = JsonDocument.Parse(await search.Content.ReadAsStringAsync());
                var found = hits.RootElement.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("videoId").GetGuid()).ToList();
                Assert.Equal(video.IsDeleted ? Array.Empty<Guid>() : [video.Id], found);
            }

            output.WriteLine($"{tenant.Name}: lists and finds its {listed.Count} surviving videos; {tenant.Videos.Count(v => v.IsDeleted)} it deleted are gone");
        }
    }

    /// <summary>The caller's own target is being deleted or gone by now (read after the answer, so a delete that raced with the call counts).</summary>
    private static bool OwnGone(Operation op) => op.Category == Category.Own && op.Target!.State != VideoState.Live;

    private static string Owner(List<Tenant> tenants, Guid id) =>
        tenants.FirstOrDefault(t => t.Videos.Any(v => v.Id == id))?.Name ?? "nobody";

    private static string Trim(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private enum Category
    {
        Own,
        Other,
        Missing,
        Garbage,
    }

    private enum VideoState
    {
        Live,
        Deleting,
        Deleted,
    }

    private sealed record Tenant(int Index, string Name, HttpClient Http)
    {
        public List<FuzzVideo> Videos { get; } = [];
    }

    private sealed class FuzzVideo(Guid id, int tenant, string[] tags)
    {
        private int _state;

        public Guid Id { get; } = id;

        public int Tenant { get; } = tenant;

        public string[] Tags { get; } = tags;

        public int Segments { get; set; }

        public DateTime CreatedAt { get; set; }

        public VideoState State
        {
            get => (VideoState)Volatile.Read(ref _state);
            set => Volatile.Write(ref _state, (int)value);
        }

        public bool IsDeleted => State == VideoState.Deleted;

        public override string ToString() => $"video {Id} of fuzz{Tenant}";
    }

    private sealed record Operation(string Kind, int Tenant, FuzzVideo? Target, string Text, Category Category, int Seed)
    {
        public override string ToString() => $"{Kind} by fuzz{Tenant} on {Category} id '{Text}'" + (Target is null ? string.Empty : $" (fuzz{Target.Tenant}'s)");
    }

    /// <summary>Counts per operation kind and status; the findings; the distinct 404 bodies per kind.</summary>
    private sealed class Tally
    {
        private readonly ConcurrentDictionary<(string Kind, int Status), int> _counts = new();
        private readonly ConcurrentDictionary<string, long> _ticks = new();

        public ConcurrentBag<string> CrossTenant { get; } = [];

        public ConcurrentBag<string> Unexpected { get; } = [];

        public ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> NotFoundBodies { get; } = new();

        public void Record(string kind, HttpStatusCode status)
        {
            _counts.AddOrUpdate((kind, (int)status), 1, (_, c) => c + 1);
            if ((int)status >= 500)
            {
                Unexpected.Add($"{kind}: {(int)status}");
            }
        }

        public void Time(string kind, TimeSpan elapsed) => _ticks.AddOrUpdate(kind, elapsed.Ticks, (_, t) => t + elapsed.Ticks);

        public int Count(string kind, int status) => _counts.GetValueOrDefault((kind, status));

        public bool Expect(Operation op, HttpResponseMessage response, string text, HttpStatusCode expected)
        {
            if (response.StatusCode == expected)
            {
                return true;
            }

            Unexpected.Add($"{op}: {(int)response.StatusCode}, expected {(int)expected}: {Trim(text)}");
            return false;
        }

        /// <summary>A 404 about an id, with the id written as {id} and the trace id dropped.</summary>
        public void NotFound(string kind, Operation op, string text)
        {
            var node = JsonNode.Parse(text)!.AsObject();
            node.Remove("traceId");
            string normal = node.ToJsonString();
            foreach (string spelling in new[] { op.Text, Uri.UnescapeDataString(op.Text), op.Target?.Id.ToString(), Guid.TryParse(Uri.UnescapeDataString(op.Text), out var g) ? g.ToString() : null }.OfType<string>())
            {
                normal = normal.Replace(spelling, "{id}", StringComparison.OrdinalIgnoreCase);
            }

            NotFoundBodies.GetOrAdd(kind, _ => new()).TryAdd(normal, 0);
        }

        public IEnumerable<string> Report()
        {
            foreach (var kind in _counts.Keys.Select(k => k.Kind).Distinct().Order(StringComparer.Ordinal))
            {
                var statuses = _counts.Where(c => c.Key.Kind == kind).OrderBy(c => c.Key.Status).ToList();
                int total = statuses.Sum(c => c.Value);
                yield return $"  {kind,-10} {total,6}  mean {TimeSpan.FromTicks(_ticks.GetValueOrDefault(kind)).TotalMilliseconds / total,6:F1} ms: " + string.Join(", ", statuses.Select(c => $"{c.Key.Status} ×{c.Value}"));
            }

            yield return $"  {"all",-10} {_counts.Values.Sum(),6}";
        }
    }
}
