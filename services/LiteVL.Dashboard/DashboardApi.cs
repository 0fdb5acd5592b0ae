using System.Security.Claims;
using LiteVL.Model.Training;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.Videos;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard;

public sealed record DashboardSession(string KeyId, string Tenant, string Mode, string QueueSource, string SearchMode, int RefreshSeconds);

public sealed record Overview(
    DateTime GeneratedAt,
    int Total,
    IReadOnlyList<StateCount> Counts,
    Throughput Throughput,
    IReadOnlyList<StageLatency> Latencies,
    QueueReport Queues,
    IReadOnlyList<EncoderWorkerView> Encoders);

public sealed record VideoRow(
    Guid Id, string TenantId, string? Title, VideoState State, string? FailedStage, string? FailureReason, int SegmentCount, long SizeBytes, DateTime CreatedAt, DateTime UpdatedAt);

public sealed record VideoTable(IReadOnlyList<VideoRow> Items, int Page, int PageSize, int Total);

public sealed record TimelineStep(VideoState State, DateTime At, double SecondsSincePrevious, string? Detail);

public sealed record SegmentDetail(int Index, double Start, double End, IReadOnlyList<double> FrameTimes, bool Encoded, string ThumbnailUrl, string FramesUrl);

public sealed record VideoActionsAllowed(bool Retry, bool Reindex, bool Delete);

public sealed record VideoDetail(
    Guid Id,
    string TenantId,
    string? Title,
    IReadOnlyList<string> Tags,
    VideoState State,
    string? FailedStage,
    string? FailureReason,
    string Sha256,
    long SizeBytes,
    string? OriginalFileName,
    double? DurationSeconds,
    int? Width,
    int? Height,
    int SegmentCount,
    string? ModelVersion,
    int Attempts,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    IReadOnlyList<TimelineStep> Timeline,
    IReadOnlyList<SegmentDetail> Segments,
    VideoActionsAllowed Actions);

public sealed record ActionResult(Guid Id, string Action, VideoState? State);

public sealed record TenantRow(string Id, int Videos);

/// <summary>The dashboard's JSON API under <c>/admin/api</c>; every route needs an admin key.</summary>
public static class DashboardApi
{
    public const string Prefix = "/admin/api";

    public static string ThumbnailUrl(Guid videoId, int index) => $"{Prefix}/videos/{videoId}/segments/{index}/thumbnail";

    public static string FramesUrl(Guid videoId, int index) => $"{Prefix}/videos/{videoId}/segments/{index}/frames";

    public static RouteGroupBuilder MapDashboardApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup(Prefix).RequireAuthorization(ApiKeyAuthenticationHandler.AdminPolicy).WithTags("Dashboard");
        api.MapGet("/session", Session).WithName("DashboardSession").WithSummary("Checks the admin key; what this dashboard shows and where from.");
        api.MapGet("/overview", GetOverview).WithName("DashboardOverview");
        api.MapGet("/tenants", Tenants).WithName("DashboardTenants");
        api.MapGet("/videos", Videos).WithName("DashboardVideos");
        api.MapGet("/videos/{id:guid}", Video).WithName("DashboardVideo");
        api.MapGet("/videos/{id:guid}/segments/{index:int}/thumbnail", Thumbnail).WithName("DashboardThumbnail");
        api.MapGet("/videos/{id:guid}/segments/{index:int}/frames", Frames).WithName("DashboardFrames")
            .WithSummary("The segment's T sampled frames as raw RGB (T×size×size×3), scaled down to ?size= (default 96).");
        api.MapPost("/videos/{id:guid}/retry", Retry).WithName("DashboardRetry");
        api.MapPost("/videos/{id:guid}/reindex", Reindex).WithName("DashboardReindex");
        api.MapDelete("/videos/{id:guid}", Delete).WithName("DashboardDelete");
        api.MapPost("/search", Search).WithName("DashboardSearch");
        api.MapPost("/videos/{id:guid}/ask", Ask).WithName("DashboardAsk")
            .WithSummary("Ask a question about a video, as POST /v1/videos/{id}/ask does (in process, or forwarded to the Query API).");
        api.MapGet("/model/temporal-scaling", TemporalScaling).WithName("DashboardTemporalScaling")
            .WithSummary("The active model's learned dynamic temporal scaling per vision layer: the mean over the T frame slots of 1 + tanh(α).");
        api.MapGet("/model/temporal-scaling.svg", TemporalScalingSvg).WithName("DashboardTemporalScalingSvg")
            .WithSummary("The same figure as an SVG bar chart (fixed 0..2 axis, reference line at 1.0 = as imported).");
        return api;
    }

    internal static Ok<DashboardSession> Session(HttpContext http, DashboardSearch search, IQueueFigures queues, MessagingOptions messaging, IOptions<DashboardOptions> options) =>
        TypedResults.Ok(new DashboardSession(
            http.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? "?",
            http.User.Tenant(),
            messaging.Transport == MessageTransport.InMemory ? "embedded" : "distributed",
            queues is RabbitMqQueueFigures ? "rabbitmq" : "in-process",
            search.Mode,
            options.Value.RefreshSeconds));

    internal static async Task<Ok<Overview>> GetOverview(DashboardStatistics stats, IQueueFigures queues, TimeProvider clock, CancellationToken ct)
    {
        // One DbContext: its queries run one after the other; the broker is asked meanwhile.
        var queueTask = queues.ReadAsync(ct);
        var counts = await stats.CountsByStateAsync(ct).ConfigureAwait(false);
        var throughput = await stats.ThroughputAsync(ct).ConfigureAwait(false);
        var latencies = await stats.LatenciesAsync(ct).ConfigureAwait(false);
        var encoders = await stats.EncodersAsync(ct).ConfigureAwait(false);
        return TypedResults.Ok(new Overview(clock.GetUtcNow().UtcDateTime, counts.Sum(c => c.Count), counts, throughput, latencies, await queueTask.ConfigureAwait(false), encoders));
    }

    internal static async Task<Ok<List<TenantRow>>> Tenants(LiteVLDbContext db, CancellationToken ct)
    {
        var tenants = await db.Tenants.AsNoTracking().OrderBy(t => t.Id).Select(t => t.Id).ToListAsync(ct).ConfigureAwait(false);
        var counts = await db.Videos.AsNoTracking().GroupBy(v => v.TenantId).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct).ConfigureAwait(false);
        return TypedResults.Ok(tenants.Select(t => new TenantRow(t, counts.FirstOrDefault(c => c.Key == t)?.Count ?? 0)).ToList());
    }

    /// <summary>Newest first; <paramref name="q"/> matches a video id exactly, or title, file name, tenant or failure reason (case-insensitive).</summary>
    internal static async Task<Results<Ok<VideoTable>, ProblemHttpResult>> Videos(
        VideoCatalog videos, string? q, VideoState? state, string? tenant, int page = 1, int pageSize = 50, CancellationToken ct = default)
    {
        if (VideoCatalog.PagingProblem(page, pageSize) is { } badPaging)
        {
            return badPaging;
        }

        var rows = await videos.PageAsync(
            new VideoFilter(tenant, state, q), page, pageSize,
            v => new VideoRow(v.Id, v.TenantId, v.Title, v.State, v.FailedStage, v.FailureReason, v.SegmentCount, v.SizeBytes, v.CreatedAt, v.UpdatedAt), ct).ConfigureAwait(false);
        return TypedResults.Ok(new VideoTable(
            [.. rows.Items.Select(r => r with { CreatedAt = DashboardStatistics.Utc(r.CreatedAt), UpdatedAt = DashboardStatistics.Utc(r.UpdatedAt) })], page, pageSize, rows.Total));
    }

    internal static async Task<Results<Ok<VideoDetail>, ProblemHttpResult>> Video(Guid id, VideoCatalog videos, CancellationToken ct)
    {
        var v = await videos.FindAsync(id, tenantId: null, ct).ConfigureAwait(false);
        if (v is null)
        {
            return NotFound(id);
        }

        var events = v.Events.OrderBy(e => e.At).ThenBy(e => e.Id).ToList();
        var timeline = events.Select((e, i) => new TimelineStep(
            e.State, DashboardStatistics.Utc(e.At), i == 0 ? 0 : Math.Round((e.At - events[i - 1].At).TotalSeconds, 3), e.Detail)).ToList();
        return TypedResults.Ok(new VideoDetail(
            v.Id, v.TenantId, v.Title, v.Tags, v.State,
            v.State == VideoState.Failed ? v.FailedStage : null,
            v.State == VideoState.Failed ? v.FailureReason : null,
            v.Sha256, v.SizeBytes, v.OriginalFileName, v.DurationSeconds, v.Width, v.Height, v.SegmentCount, v.ModelVersion, v.Attempts,
            DashboardStatistics.Utc(v.CreatedAt), DashboardStatistics.Utc(v.UpdatedAt),
            timeline,
            [.. v.Segments.OrderBy(s => s.Index).Select(s => new SegmentDetail(s.Index, s.StartSeconds, s.EndSeconds, s.FrameTimes, s.TokensKey is not null, ThumbnailUrl(v.Id, s.Index), FramesUrl(v.Id, s.Index)))],
            new VideoActionsAllowed(v.State == VideoState.Failed, v.State is VideoState.Indexed or VideoState.Failed, true)));
    }

    internal static Task<IResult> Thumbnail(Guid id, int index, VideoCatalog videos, CancellationToken ct) =>
        videos.ThumbnailAsync(id, index, tenantId: null, ct);

    internal static async Task<IResult> Frames(Guid id, int index, HttpContext http, LiteVLDbContext db, IBlobStore blobs, int size = 96, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        var segment = await db.Segments.AsNoTracking().Where(s => s.VideoId == id && s.Index == index)
            .Select(s => new { s.FramesKey, s.FrameTimes }).FirstOrDefaultAsync(ct).ConfigureAwait(false);
        int count = segment?.FrameTimes.Count ?? 0;
        if (segment is null || count == 0 || !blobs.Exists(segment.FramesKey))
        {
            return TypedResults.Problem(detail: $"Video {id} has no frames for segment {index}.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
        }

        byte[] raw;
        await using (var stream = blobs.OpenRead(segment.FramesKey))
        {
            raw = new byte[stream.Length];
            await stream.ReadExactlyAsync(raw, ct).ConfigureAwait(false);
        }

        int source = (int)Math.Round(Math.Sqrt(raw.Length / (3.0 * count)));
        if (source * source * 3 * count != raw.Length)
        {
            return TypedResults.Problem(detail: $"The frames of segment {index} are not {count} square RGB frames.", statusCode: StatusCodes.Status500InternalServerError, title: "Bad frames");
        }

        int target = Math.Clamp(size, 8, source);
        http.Response.Headers["X-Frame-Count"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.Response.Headers["X-Frame-Size"] = target.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Bytes(Downscale(raw, count, source, target), "application/octet-stream");
    }

    /// <summary>Box-filter down-scaling of T square RGB frames (the page only needs small previews).</summary>
    internal static byte[] Downscale(byte[] frames, int count, int source, int target)
    {
        if (target == source)
        {
            return frames;
        }

        var output = new byte[count * target * target * 3];
        for (int f = 0; f < count; f++)
        {
            int inBase = f * source * source * 3;
            int outBase = f * target * target * 3;
            for (int y = 0; y < target; y++)
            {
                int y0 = y * source / target, y1 = Math.Max(y0 + 1, (y + 1) * source / target);
                for (int x = 0; x < target; x++)
                {
                    int x0 = x * source / target, x1 = Math.Max(x0 + 1, (x + 1) * source / target);
                    int r = 0, g = 0, b = 0;
                    for (int sy = y0; sy < y1; sy++)
                    {
                        for (int sx = x0; sx < x1; sx++)
                        {
                            int p = inBase + ((sy * source) + sx) * 3;
                            r += frames[p];
                            g += frames[p + 1];
                            b += frames[p + 2];
                        }
                    }

                    int n = (y1 - y0) * (x1 - x0);
                    int o = outBase + ((y * target) + x) * 3;
                    output[o] = (byte)(r / n);
                    output[o + 1] = (byte)(g / n);
                    output[o + 2] = (byte)(b / n);
                }
            }
        }

        return output;
    }

    internal static async Task<Results<Ok<ActionResult>, ProblemHttpResult>> Retry(Guid id, HttpContext http, VideoActions actions, CancellationToken ct)
    {
        var (outcome, state) = await actions.RetryAsync(id, By(http), ct).ConfigureAwait(false);
        return Answer(id, "retry", outcome, state, "Only a Failed video can be retried");
    }

    internal static async Task<Results<Ok<ActionResult>, ProblemHttpResult>> Reindex(Guid id, HttpContext http, VideoActions actions, CancellationToken ct)
    {
        var (outcome, state) = await actions.ReindexAsync(id, By(http), ct).ConfigureAwait(false);
        return Answer(id, "reindex", outcome, state, "Only an Indexed or Failed video can be re-indexed");
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, VideoActions actions, CancellationToken ct) =>
        await actions.DeleteAsync(id, ct).ConfigureAwait(false) == ActionOutcome.Done ? TypedResults.NoContent() : NotFound(id);

    internal static async Task<Results<Ok<DashboardSearchResult>, ProblemHttpResult>> Search(DashboardSearchRequest request, HttpContext http, DashboardSearch search, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await search.SearchAsync(request, CallerKey(http), ct).ConfigureAwait(false));
        }
        catch (DashboardSearchException e)
        {
            return TypedResults.Problem(detail: e.Message, statusCode: e.Status, title: "Search failed");
        }
    }

    internal static async Task<Results<Ok<DashboardAskResult>, ProblemHttpResult>> Ask(Guid id, DashboardAskRequest request, HttpContext http, DashboardSearch search, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await search.AskAsync(id, request, CallerKey(http), ct).ConfigureAwait(false));
        }
        catch (DashboardSearchException e)
        {
            return TypedResults.Problem(detail: e.Message, statusCode: e.Status, title: "Question not answered");
        }
    }

    /// <summary>The admin's own key, forwarded to the Query API when no tenant key is given.</summary>
    private static string? CallerKey(HttpContext http)
    {
        string? authorization = http.Request.Headers.Authorization;
        return authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : http.Request.Headers["X-Api-Key"].ToString();
    }

    internal static Results<Ok<TemporalScalingView>, ProblemHttpResult> TemporalScaling(DashboardModel model)
    {
        try
        {
            var (config, means) = model.ReadScaling();
            return TypedResults.Ok(new TemporalScalingView(config.Version, config.Preset, config.NumFrames, [.. means.Select((m, l) => new LayerScaling(l, m))]));
        }
        catch (DashboardModelException e)
        {
            return ModelProblem(e);
        }
    }

    internal static Results<ContentHttpResult, ProblemHttpResult> TemporalScalingSvg(DashboardModel model)
    {
        try
        {
            var (config, means) = model.ReadScaling();
            return TypedResults.Text(ScalingChart.Svg(means, $"{config.Version} ({config.Preset}, T={config.NumFrames})"), "image/svg+xml", System.Text.Encoding.UTF8);
        }
        catch (DashboardModelException e)
        {
            return ModelProblem(e);
        }
    }

    private static ProblemHttpResult ModelProblem(DashboardModelException e) =>
        TypedResults.Problem(detail: e.Message, statusCode: e.Status, title: e.Status == StatusCodes.Status404NotFound ? "No model" : "Unreadable model");

    private static string By(HttpContext http) => $"admin key {http.User.FindFirstValue(ClaimTypes.NameIdentifier)}";

    private static Results<Ok<ActionResult>, ProblemHttpResult> Answer(Guid id, string action, ActionOutcome outcome, VideoState? state, string conflict) => outcome switch
    {
        ActionOutcome.Done => TypedResults.Ok(new ActionResult(id, action, state)),
        ActionOutcome.NotFound => NotFound(id),
        _ => TypedResults.Problem(detail: $"{conflict}; video {id} is {state}.", statusCode: StatusCodes.Status409Conflict, title: "Not possible now"),
    };

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(detail: $"No video {id}.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
