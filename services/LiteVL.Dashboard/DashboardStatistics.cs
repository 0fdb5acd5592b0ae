using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard;

public sealed record StateCount(VideoState State, int Count);

/// <param name="Start">Start of the first one-minute bucket (UTC).</param>
/// <param name="Uploaded">Videos entering the pipeline per minute (uploads and operator retries).</param>
/// <param name="Indexed">Videos that became searchable per minute.</param>
public sealed record Throughput(DateTime Start, int BucketSeconds, IReadOnlyList<int> Uploaded, IReadOnlyList<int> Indexed);

/// <summary>Percentiles (seconds) of one stage over <see cref="Count"/> recently indexed videos.</summary>
public sealed record StageLatency(string Stage, string From, string To, int Count, double? P50, double? P90, double? P99, double? Max);

public sealed record EncoderWorkerView(
    string Id,
    string Provider,
    string? ModelVersion,
    DateTime StartedAt,
    DateTime LastHeartbeatAt,
    double SecondsSinceHeartbeat,
    bool Stale,
    long Batches,
    long Segments,
    int LastBatchSize,
    DateTime? LastBatchAt,
    double SegmentsPerSecond);

/// <summary>
/// The dashboard's figures, from the database only (the source of truth in both modes). Counting and windowed selects
/// run in SQL; percentiles and per-minute bucketing run in memory over a bounded window, because SQLite has no
/// percentile function and date truncation differs between the two providers.
/// </summary>
public sealed class DashboardStatistics(LiteVLDbContext db, TimeProvider clock, IOptions<DashboardOptions> options)
{
    /// <summary>The stages of the timeline the latency table covers, as (name, from, to): each pipeline stage, then the whole.</summary>
    private static readonly (string Stage, VideoState From, VideoState To)[] Stages =
    [
        .. PipelineStages.All.Select(s => (s.Name, s.Waiting, s.Done)),
        ("total", PipelineStages.All[0].Waiting, PipelineStages.All[^1].Done),
    ];

    /// <summary>Every state with its count (zero included), in pipeline order.</summary>
    public async Task<IReadOnlyList<StateCount>> CountsByStateAsync(CancellationToken ct)
    {
        var counts = await db.Videos.AsNoTracking().GroupBy(v => v.State)
            .Select(g => new { State = g.Key, Count = g.Count() })
            .ToListAsync(ct).ConfigureAwait(false);
        return [.. Enum.GetValues<VideoState>().Select(s => new StateCount(s, counts.FirstOrDefault(c => c.State == s)?.Count ?? 0))];
    }

    public async Task<Throughput> ThroughputAsync(CancellationToken ct)
    {
        int minutes = options.Value.ThroughputMinutes;
        var now = clock.GetUtcNow().UtcDateTime;
        var end = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc).AddMinutes(1);
        var start = end.AddMinutes(-minutes);
        var events = await db.VideoEvents.AsNoTracking()
            .Where(e => (e.State == VideoState.Uploaded || e.State == VideoState.Indexed) && e.At >= start)
            .Select(e => new { e.State, e.At })
            .ToListAsync(ct).ConfigureAwait(false);
        var uploaded = new int[minutes];
        var indexed = new int[minutes];
        foreach (var e in events)
        {
            int bucket = (int)((e.At - start).Ticks / TimeSpan.TicksPerMinute);
            if (bucket >= 0 && bucket < minutes)
            {
                (e.State == VideoState.Indexed ? indexed : uploaded)[bucket]++;
            }
        }

        return new Throughput(start, 60, uploaded, indexed);
    }

    /// <summary>
    /// Per-stage latency over the most recently indexed videos: for each, the last Indexed entry of its timeline and,
    /// going backwards from it, the last Encoded, Extracted and Uploaded entries (so a retried video counts its
    /// successful run, not the time it spent failed).
    /// </summary>
    public async Task<IReadOnlyList<StageLatency>> LatenciesAsync(CancellationToken ct)
    {
        var o = options.Value;
        var since = clock.GetUtcNow().UtcDateTime - o.LatencyWindow;
        var videoIds = await db.VideoEvents.AsNoTracking()
            .Where(e => e.State == VideoState.Indexed && e.At >= since)
            .OrderByDescending(e => e.At)
            .Select(e => e.VideoId)
            .Take(o.LatencySampleSize)
            .ToListAsync(ct).ConfigureAwait(false);
        videoIds = [.. videoIds.Distinct()];
        var timelines = new List<List<(VideoState State, DateTime At)>>();
        foreach (var chunk in videoIds.Chunk(500))
        {
            var rows = await db.VideoEvents.AsNoTracking()
                .Where(e => chunk.Contains(e.VideoId) && (e.State == VideoState.Uploaded || e.State == VideoState.Extracted || e.State == VideoState.Encoded || e.State == VideoState.Indexed))
                .Select(e => new { e.VideoId, e.State, e.At, e.Id })
                .ToListAsync(ct).ConfigureAwait(false);
            timelines.AddRange(rows.GroupBy(r => r.VideoId).Select(g => g.OrderBy(r => r.At).ThenBy(r => r.Id).Select(r => (r.State, r.At)).ToList()));
        }

        var samples = Stages.ToDictionary(s => s.Stage, _ => new List<double>());
        foreach (var timeline in timelines)
        {
            var run = LastRun(timeline);
            foreach (var (stage, from, to) in Stages)
            {
                if (run.TryGetValue(from, out var a) && run.TryGetValue(to, out var b) && b >= a)
                {
                    samples[stage].Add((b - a).TotalSeconds);
                }
            }
        }

        return [.. Stages.Select(s =>
        {
            var values = samples[s.Stage];
            values.Sort();
            return new StageLatency(s.Stage, s.From.ToString(), s.To.ToString(), values.Count, Percentile(values, 50), Percentile(values, 90), Percentile(values, 99), values.Count > 0 ? values[^1] : null);
        })];
    }

    public async Task<IReadOnlyList<EncoderWorkerView>> EncodersAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var workers = await db.EncoderWorkers.AsNoTracking().OrderByDescending(w => w.LastHeartbeatAt).Take(100).ToListAsync(ct).ConfigureAwait(false);
        return [.. workers.Select(w =>
        {
            var heartbeat = Utc(w.LastHeartbeatAt);
            double age = Math.Max(0, (now - heartbeat).TotalSeconds);
            return new EncoderWorkerView(
                w.Id, w.Provider, w.ModelVersion, Utc(w.StartedAt), heartbeat, Math.Round(age, 1), age > options.Value.EncoderStaleAfter.TotalSeconds,
                w.Batches, w.Segments, w.LastBatchSize, w.LastBatchAt is { } at ? Utc(at) : null, Math.Round(w.SegmentsPerSecond, 3));
        })];
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double? Percentile(IReadOnlyList<double> sorted, int p)
    {
        if (sorted.Count == 0)
        {
            return null;
        }

        int rank = (int)Math.Ceiling(p / 100.0 * sorted.Count);
        return Math.Round(sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)], 3);
    }

    /// <summary>SQLite hands DateTime back unspecified; every time the database holds is UTC.</summary>
    internal static DateTime Utc(DateTime t) => t.Kind == DateTimeKind.Utc ? t : DateTime.SpecifyKind(t, DateTimeKind.Utc);

    private static Dictionary<VideoState, DateTime> LastRun(List<(VideoState State, DateTime At)> timeline)
    {
        var run = new Dictionary<VideoState, DateTime>();
        int i = timeline.FindLastIndex(e => e.State == VideoState.Indexed);
        if (i < 0)
        {
            return run;
        }

        run[VideoState.Indexed] = timeline[i].At;
        foreach (var state in new[] { VideoState.Encoded, VideoState.Extracted, VideoState.Uploaded })
        {
            int j = timeline.FindLastIndex(i, e => e.State == state);
            if (j < 0)
            {
                break;
            }

            run[state] = timeline[j].At;
            i = j;
        }

        return run;
    }
}
