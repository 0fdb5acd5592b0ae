using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Xml.Linq;
using LiteVL.Model.Config;
using LiteVL.Model.Weights;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LiteVL.Dashboard.Tests;

/// <summary>
/// The dashboard in a real headless Chromium against the embedded host as a real process. Every figure the page shows
/// is compared with what the public API says about the same videos.
/// </summary>
public sealed class DashboardTests(DashboardFixture fx) : IClassFixture<DashboardFixture>
{
    private static readonly string[] AskCandidates = ["left", "right", "up", "down"];

    [Fact]
    public async Task WithoutTheAdminKey_ThePageAsksForItAndTheApiRefuses()
    {
        using (var anonymous = fx.Client(null))
        using (var tenant = fx.Client(fx.TenantKey))
        {
            foreach (var (client, status) in new[] { (anonymous, HttpStatusCode.Unauthorized), (tenant, HttpStatusCode.Forbidden) })
            {
                using var overview = await client.GetAsync(new Uri("/admin/api/overview", UriKind.Relative));
                Assert.Equal(status, overview.StatusCode);
                Assert.Equal("application/problem+json", overview.Content.Headers.ContentType?.MediaType);
                using var retry = await client.PostAsync(new Uri($"/admin/api/videos/{fx.Videos[DashboardFixture.TruncatedTitle]}/retry", UriKind.Relative), null);
                Assert.Equal(status, retry.StatusCode);
            }

            // The shell itself is public and holds no data.
            using var shell = await anonymous.GetAsync(new Uri("/admin", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, shell.StatusCode);
            Assert.DoesNotContain("Test pattern", await shell.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await using var context = await fx.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(fx.Host.BaseAddress, "/admin").ToString());
        await Expect(page.Locator("#login")).ToBeVisibleAsync();
        await Expect(page.Locator("#view")).ToBeHiddenAsync();
        await Expect(page.Locator("#nav")).ToBeHiddenAsync();
        await DashboardFixture.ScreenshotAsync(page, "login");

        await page.Locator("#login-key").FillAsync("lvk_not-a-real-key");
        await page.Locator("#login-form button").ClickAsync();
        await Expect(page.Locator("#login-error")).ToContainTextAsync("Unknown or revoked key");
        await page.Locator("#login-key").FillAsync(fx.TenantKey);
        await page.Locator("#login-form button").ClickAsync();
        await Expect(page.Locator("#login-error")).ToContainTextAsync("not an admin key");
        await Expect(page.Locator("#view")).ToBeHiddenAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('litevl-admin-key')"));

        await page.Locator("#login-key").FillAsync(fx.Host.AdminKey);
        await page.Locator("#login-form button").ClickAsync();
        await Expect(page.Locator("[data-testid=count-total] .n")).ToHaveTextAsync((await fx.AllVideosAsync()).Count.ToString(CultureInfo.InvariantCulture));
        await Expect(page.Locator("#mode")).ToContainTextAsync("embedded mode");

        // Signing out forgets the key.
        await page.Locator("#sign-out").ClickAsync();
        await Expect(page.Locator("#login")).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('litevl-admin-key')"));
    }

    [Fact]
    public async Task Overview_CountsChartLatencyQueuesAndWorkers_MatchTheApi()
    {
        var videos = await fx.AllVideosAsync();
        Assert.All(videos, v => Assert.True(v.State.IsTerminal(), $"{v.Title} is {v.State}"));
        var (context, page) = await fx.SignedInPageAsync();
        await using var _ = context;

        await Expect(page.Locator("[data-testid=count-total] .n")).ToHaveTextAsync(videos.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var state in Enum.GetValues<VideoState>())
        {
            string expected = videos.Count(v => v.State == state).ToString(CultureInfo.InvariantCulture);
            await Expect(page.Locator($"[data-testid=count-{state}] .n")).ToHaveTextAsync(expected);
        }

        Assert.Contains(videos, v => v.State == VideoState.Failed);
        Assert.Contains(videos, v => v.State == VideoState.Indexed);

        // The chart's totals are the timeline's Uploaded and Indexed entries (all within the last hour).
        var chart = page.Locator("svg.chart");
        await Expect(chart).ToHaveAttributeAsync("data-indexed-total", videos.Sum(v => v.Timeline.Count(t => t.State == VideoState.Indexed)).ToString(CultureInfo.InvariantCulture));
        await Expect(chart).ToHaveAttributeAsync("data-uploaded-total", videos.Sum(v => v.Timeline.Count(t => t.State == VideoState.Uploaded)).ToString(CultureInfo.InvariantCulture));
        Assert.True(await page.Locator("svg.chart rect.indexed").CountAsync() >= 1);

        // Every indexed video contributes one sample to each stage.
        int indexed = videos.Count(v => v.State == VideoState.Indexed);
        foreach (string stage in new[] { "extract", "encode", "index", "total" })
        {
            await Expect(page.Locator($"#latency tr[data-stage={stage}] [data-testid=latency-count]")).ToHaveTextAsync(indexed.ToString(CultureInfo.InvariantCulture));
        }

        // Embedded mode: the in-process figures of the three pipeline queues, all drained.
        await Expect(page.Locator("#queue-source")).ToHaveAttributeAsync("data-source", "in-process");
        await Expect(page.Locator("#queue-source")).ToContainTextAsync("in-memory bus of this process");
        foreach (string queue in new[] { "frame-extractor", "encoder", "indexer" })
        {
            var row = page.Locator($"#queues tr[data-queue={queue}] td");
            await Expect(row.Nth(1)).ToHaveTextAsync("0");
            await Expect(row.Nth(2)).ToHaveTextAsync("0");
            Assert.True(int.Parse(await row.Nth(4).InnerTextAsync(), CultureInfo.InvariantCulture) >= 1, $"{queue} handled nothing");
        }

        // The host's one encoder: alive, on the CPU, at least every indexed segment encoded.
        var worker = page.Locator("#encoders tbody tr[data-worker]");
        await Expect(worker).ToHaveCountAsync(1);
        await Expect(worker.Locator("[data-testid=provider]")).ToHaveTextAsync("cpu");
        await Expect(worker.Locator(".badge")).ToHaveTextAsync("alive");
        int segments = videos.Where(v => v.State == VideoState.Indexed).Sum(v => v.SegmentCount);
        Assert.True(int.Parse(await worker.Locator("[data-testid=segments]").InnerTextAsync(), CultureInfo.InvariantCulture) >= segments);
        await DashboardFixture.ScreenshotAsync(page, "overview");

        // The table: one row per video with the API's state and failure reason.
        await page.Locator("#nav a[data-route=videos]").ClickAsync();
        await Expect(page.Locator("#videos-summary")).ToHaveAttributeAsync("data-total", videos.Count.ToString(CultureInfo.InvariantCulture));
        await Expect(page.Locator("#videos-table tbody tr[data-video-id]")).ToHaveCountAsync(videos.Count);
        foreach (var v in videos)
        {
            var row = page.Locator($"#videos-table tr[data-video-id='{v.Id}']");
            await Expect(row.Locator("[data-testid=state]")).ToHaveTextAsync(v.State.ToString());
            if (v.State == VideoState.Failed)
            {
                await Expect(row.Locator("[data-testid=failure]")).ToContainTextAsync(v.Failure!.Reason!);
            }
        }

        await DashboardFixture.ScreenshotAsync(page, "videos");

        // Searching the table: by text, then by state.
        await page.Locator("#video-q").FillAsync("truncated");
        await Expect(page.Locator("#videos-table tbody tr[data-video-id]")).ToHaveCountAsync(1);
        await Expect(page.Locator($"#videos-table tr[data-video-id='{fx.Videos[DashboardFixture.TruncatedTitle]}']")).ToBeVisibleAsync();
        await page.Locator("#video-q").FillAsync(string.Empty);
        await page.Locator("#video-state").SelectOptionAsync("Failed");
        await Expect(page.Locator("#videos-table tbody tr[data-video-id]")).ToHaveCountAsync(videos.Count(v => v.State == VideoState.Failed));
    }

    [Fact]
    public async Task RetryOnTheVideoPage_RunsAFailedVideoAgain_WithoutReloadingThePage()
    {
        // A transient failure: an indexed video marked Failed at the encoder, as after a CUDA out-of-memory error.
        var id = fx.Videos["Test pattern"];
        await fx.WaitForAsync(id, v => v.State == VideoState.Indexed, TimeSpan.FromMinutes(1));
        await InjectFailureAsync(id, "encode", "simulated: CUDA out of memory");
        var failed = await fx.VideoAsync(id);
        Assert.Equal(VideoState.Failed, failed.State);

        var (context, page) = await fx.SignedInPageAsync($"#/video/{id}");
        await using var _ = context;
        await Expect(page.Locator("#video-state")).ToHaveTextAsync("Failed");
        await Expect(page.Locator("#failure-reason")).ToHaveTextAsync("simulated: CUDA out of memory");
        await Expect(page.Locator("#action-retry")).ToBeEnabledAsync();
        await page.EvaluateAsync("window.__notReloaded = true");

        await page.Locator("#action-retry").ClickAsync();
        await Expect(page.Locator("#video-state")).ToHaveTextAsync("Indexed", new() { Timeout = 90_000 });
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the page must update in place");
        await Expect(page.Locator("#timeline li", new() { HasTextString = "retry from the dashboard" })).ToHaveCountAsync(1);
        await Expect(page.Locator("#video-failure")).ToBeHiddenAsync();
        await Expect(page.Locator("#segments .segment")).ToHaveCountAsync(failed.SegmentCount);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#segments .segment img')].every(i => i.complete && i.naturalWidth > 0)");

        var after = await fx.VideoAsync(id);
        Assert.Equal(VideoState.Indexed, after.State);
        Assert.Null(after.Failure);
        var retryEntry = Assert.Single(after.Timeline, t => t.Detail?.Contains("retry from the dashboard", StringComparison.Ordinal) == true);
        Assert.Equal(VideoState.Uploaded, retryEntry.State);
        Assert.Equal(VideoState.Indexed, after.Timeline[^1].State);
        await DashboardFixture.ScreenshotAsync(page, "video");

        // The truncated upload fails again, but the retry ran: a second Failed entry after the retry's Uploaded one.
        var truncated = fx.Videos[DashboardFixture.TruncatedTitle];
        await page.GotoAsync(new Uri(fx.Host.BaseAddress, $"/admin#/video/{truncated}").ToString());
        await Expect(page.Locator("#video-state")).ToHaveTextAsync("Failed");
        await Expect(page.Locator("#action-reindex")).ToBeEnabledAsync();
        await page.Locator("#action-retry").ClickAsync();
        var again = await fx.WaitForAsync(truncated, v => v.Timeline.Count(t => t.State == VideoState.Failed) == 2, TimeSpan.FromMinutes(1));
        Assert.Equal(VideoState.Failed, again.State);
        Assert.Contains(again.Timeline, t => t.State == VideoState.Uploaded && t.Detail?.Contains("retry from the dashboard", StringComparison.Ordinal) == true);
        await Expect(page.Locator("#timeline li[data-state=Failed]")).ToHaveCountAsync(2);

        // An Indexed video cannot be retried (only re-indexed): the API says 409.
        using var admin = fx.AdminApi();
        using var conflict = await admin.PostAsync(new Uri($"/admin/api/videos/{id}/retry", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
    }

    [Fact]
    public async Task DeleteOnTheVideoPage_RemovesTheVideo()
    {
        var id = fx.Videos["Colonies to delete"];
        var (context, page) = await fx.SignedInPageAsync($"#/video/{id}");
        await using var _ = context;
        await Expect(page.Locator("#action-delete")).ToBeEnabledAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.Locator("#action-delete").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/videos$"));

        using var gone = await fx.TenantApi.GetAsync(new Uri($"/v1/videos/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await Expect(page.Locator($"#videos-table tr[data-video-id='{id}']")).ToHaveCountAsync(0);
        await Expect(page.Locator("#videos-table tbody tr[data-video-id]")).ToHaveCountAsync((await fx.AllVideosAsync()).Count);
    }

    [Fact]
    public async Task SearchPage_ShowsTheApisHitsWithThumbnailsAndTheEvidenceFrame()
    {
        const string query = "a box moving across the frame";
        using var response = await fx.TenantApi.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query, limit = 3, candidates = 32 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var hits = doc.RootElement.GetProperty("hits").EnumerateArray().ToList();
        Assert.NotEmpty(hits);

        var (context, page) = await fx.SignedInPageAsync("#/search");
        await using var _ = context;
        await Expect(page.Locator($"#search-tenant option[value={DashboardFixture.Tenant}]")).ToHaveCountAsync(1);
        await page.Locator("#search-tenant").SelectOptionAsync(DashboardFixture.Tenant);
        await page.Locator("#search-query").FillAsync(query);
        await page.Locator("#search-limit").FillAsync("3");
        await page.Locator("#search-form button").ClickAsync();
        await Expect(page.Locator("#search-status")).ToHaveAttributeAsync("data-hits", hits.Count.ToString(CultureInfo.InvariantCulture));

        var articles = page.Locator("#search-results article.hit");
        await Expect(articles).ToHaveCountAsync(hits.Count);
        for (int h = 0; h < hits.Count; h++)
        {
            var hit = hits[h];
            var article = articles.Nth(h);
            await Expect(article).ToHaveAttributeAsync("data-video-id", hit.GetProperty("videoId").GetGuid().ToString());
            await Expect(article.Locator("h3")).ToContainTextAsync(hit.GetProperty("title").GetString()!);
            var segments = hit.GetProperty("segments").EnumerateArray().ToList();
            var rows = article.Locator(".segment-hit");
            await Expect(rows).ToHaveCountAsync(segments.Count);
            for (int s = 0; s < segments.Count; s++)
            {
                var expected = segments[s];
                var row = rows.Nth(s);
                double start = expected.GetProperty("start").GetDouble(), end = expected.GetProperty("end").GetDouble();
                double evidence = expected.GetProperty("evidenceTime").GetDouble();
                await Expect(row).ToHaveAttributeAsync("data-segment-index", expected.GetProperty("index").GetInt32().ToString(CultureInfo.InvariantCulture));
                Assert.Equal(start, Number(await row.GetAttributeAsync("data-start")));
                Assert.Equal(end, Number(await row.GetAttributeAsync("data-end")));
                Assert.Equal(evidence, Number(await row.GetAttributeAsync("data-evidence-time")), 6);
                await Expect(row.Locator(".times")).ToHaveTextAsync($"{Clock(start)}–{Clock(end)}");

                // Exactly one highlighted frame: the sampled frame nearest the evidence time, inside the segment.
                var frames = row.Locator(".frames canvas");
                var times = new List<double>();
                for (int f = 0; f < await frames.CountAsync(); f++)
                {
                    times.Add(Number(await frames.Nth(f).GetAttributeAsync("data-time")));
                }

                Assert.NotEmpty(times);
                int nearest = times.IndexOf(times.MinBy(t => Math.Abs(t - evidence)));
                var highlighted = row.Locator(".frames canvas.evidence");
                await Expect(highlighted).ToHaveCountAsync(1);
                await Expect(highlighted).ToHaveAttributeAsync("data-frame", nearest.ToString(CultureInfo.InvariantCulture));
                Assert.InRange(evidence, start, end);
                await Expect(row.Locator(".frames")).ToHaveAttributeAsync("data-loaded", "true");
                Assert.True(await highlighted.EvaluateAsync<int>("c => c.width") > 1, "the evidence frame must be drawn");
                await Expect(row.Locator("img.thumb")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("^blob:"));
            }
        }

        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#search-results img.thumb')].every(i => i.complete && i.naturalWidth > 0)");
        await DashboardFixture.ScreenshotAsync(page, "search");
    }

    [Fact]
    public async Task AskBoxOnTheVideoPage_ShowsWhatTheApiAnswers_OrWhyItCannot()
    {
        // The host's random tiny model has no QA heads, so the API refuses with a 409 that says how to add them; a model
        // with them answers. Either way the page must show exactly what the public API says for the same question.
        var id = fx.Videos["A box moving across the frame"];
        await fx.WaitForAsync(id, v => v.State == VideoState.Indexed, TimeSpan.FromMinutes(1));
        const string question = "which way does the box move";
        using var response = await fx.TenantApi.PostAsJsonAsync(new Uri($"/v1/videos/{id}/ask", UriKind.Relative), new { question, answers = AskCandidates });
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var (context, page) = await fx.SignedInPageAsync($"#/video/{id}");
        await using var _ = context;
        await page.Locator("#ask-question").FillAsync(question);
        await page.Locator("#ask-answers").FillAsync(string.Join(", ", AskCandidates));
        await page.Locator("#ask-form button").ClickAsync();
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var r = doc.RootElement;
            await Expect(page.Locator("#ask-status")).ToHaveAttributeAsync("data-outcome", "answered");
            await Expect(page.Locator("#ask-answer")).ToHaveTextAsync(r.GetProperty("answer").GetString()!);
            await Expect(page.Locator("#ask-evidence")).ToHaveAttributeAsync("data-segment-index", r.GetProperty("segment").GetProperty("index").GetInt32().ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            string detail = doc.RootElement.GetProperty("detail").GetString()!;
            Assert.Contains("has no video QA heads", detail, StringComparison.Ordinal);
            Assert.Contains("litevl model import-qa", detail, StringComparison.Ordinal);
            await Expect(page.Locator("#ask-status")).ToHaveAttributeAsync("data-outcome", "refused");
            await Expect(page.Locator("#ask-status")).ToHaveTextAsync(detail);
            await Expect(page.Locator("#ask-answer")).ToHaveCountAsync(0);
        }

        await DashboardFixture.ScreenshotAsync(page, "video-ask");
    }

    [Fact]
    public async Task TemporalScaling_IsTheHostModelsPerLayerMeanOverFrames_ForAdminsOnly_AndChartedOnTheOverview()
    {
        // The expectation straight from the host's model files: mean over the T frame slots of 1 + tanh(α), per layer.
        string modelDir = Path.Combine(fx.Host.DataDirectory, "model");
        var config = ModelConfig.Load(modelDir);
        var weights = ModelWeights.Load(config, Path.Combine(modelDir, ModelWeights.FileName));
        var expected = Enumerable.Range(0, config.Vision.NumLayers)
            .Select(l => weights[$"vision_model.encoder.layers.{l}.temporal_scaling"].Data.Take(config.NumFrames).Average(a => 1 + Math.Tanh(a)))
            .ToList();
        Assert.Equal(2, expected.Count);
        Assert.DoesNotContain(expected, m => Math.Abs(m - 1) < 1e-3); // random α: a chart of 1.000s would prove nothing

        using (var anonymous = fx.Client(null))
        using (var tenant = fx.Client(fx.TenantKey))
        {
            foreach (var (client, status) in new[] { (anonymous, HttpStatusCode.Unauthorized), (tenant, HttpStatusCode.Forbidden) })
            {
                foreach (string path in new[] { "/admin/api/model/temporal-scaling", "/admin/api/model/temporal-scaling.svg" })
                {
                    using var refused = await client.GetAsync(new Uri(path, UriKind.Relative));
                    Assert.Equal(status, refused.StatusCode);
                    Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                }
            }
        }

        using var admin = fx.AdminApi();
        var view = (await admin.GetFromJsonAsync<TemporalScalingView>(new Uri("/admin/api/model/temporal-scaling", UriKind.Relative), DashboardFixture.Json))!;
        Assert.Equal(config.Version, view.ModelVersion);
        Assert.Equal("tiny", view.Preset);
        Assert.Equal(config.NumFrames, view.Frames);
        Assert.Equal([0, 1], view.Layers.Select(l => l.Layer));
        for (int l = 0; l < expected.Count; l++)
        {
            Assert.Equal(expected[l], view.Layers[l].Mean, 9);
        }

        using var svgResponse = await admin.GetAsync(new Uri("/admin/api/model/temporal-scaling.svg", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, svgResponse.StatusCode);
        Assert.Equal("image/svg+xml", svgResponse.Content.Headers.ContentType?.MediaType);
        var svg = XDocument.Parse(await svgResponse.Content.ReadAsStringAsync());
        XNamespace ns = "http://www.w3.org/2000/svg";
        var values = expected.Select(m => m.ToString("F3", CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(values, svg.Descendants(ns + "g").Where(g => (string?)g.Attribute("class") == "layer").Select(g => (string?)g.Attribute("data-value")));

        // The overview page shows the same chart.
        var (context, page) = await fx.SignedInPageAsync();
        await using var _ = context;
        var panel = page.Locator("#scaling-panel");
        await Expect(panel.Locator("h2")).ToHaveTextAsync("Dynamic temporal scaling per layer");
        await Expect(panel.Locator("svg rect.bar")).ToHaveCountAsync(expected.Count);
        await Expect(panel.Locator("svg text.value")).ToHaveTextAsync(values.ToArray());
        await Expect(panel.Locator("svg text.subtitle")).ToContainTextAsync(config.Version);
        await Expect(page.Locator("[data-testid=count-total] .n")).ToHaveTextAsync((await fx.AllVideosAsync()).Count.ToString(CultureInfo.InvariantCulture));
        await DashboardFixture.ScreenshotAsync(page, "overview-scaling");
    }

    private async Task InjectFailureAsync(Guid id, string stage, string reason)
    {
        var options = new DbContextOptionsBuilder<SqliteLiteVLDbContext>()
            .UseSqlite($"Data Source={Path.Combine(fx.Host.DataDirectory, "litevl.db")}")
            .Options;
        await using var db = new SqliteLiteVLDbContext(options);
        var now = DateTime.UtcNow;
        int changed = await db.Videos.Where(v => v.Id == id && v.State == VideoState.Indexed).ExecuteUpdateAsync(s => s
            .SetProperty(v => v.State, VideoState.Failed)
            .SetProperty(v => v.FailedStage, stage)
            .SetProperty(v => v.FailureReason, reason)
            .SetProperty(v => v.StateChangedAt, now)
            .SetProperty(v => v.UpdatedAt, now));
        Assert.Equal(1, changed);
        db.VideoEvents.Add(new VideoEvent { VideoId = id, State = VideoState.Failed, At = now, Detail = $"{stage}: {reason}" });
        await db.SaveChangesAsync();
    }

    private static double Number(string? text) => double.Parse(text!, CultureInfo.InvariantCulture);

    /// <summary>The page's m:ss.s format.</summary>
    private static string Clock(double seconds)
    {
        int minutes = (int)Math.Floor(seconds / 60);
        return $"{minutes}:{(seconds - (minutes * 60)).ToString("0.0", CultureInfo.InvariantCulture).PadLeft(4, '0')}";
    }
}
