using System.Globalization;
using LiteVL.Media;

namespace LiteVL.Cli.Ingest;

/// <summary>One probed file of a dry run: the media facts, or the probe error.</summary>
public sealed record DryRunRow(string Source, MediaInfo? Media, int Segments, string? Error);

/// <summary>
/// <c>--dry-run</c>: probes every file with ffprobe and estimates the segments the pipeline will plan
/// (<see cref="SegmentPlanner.Plan"/> with T = 8 frames, 10 s windows, 1 s minimum tail) and the encoder time at
/// <c>--seconds-per-segment</c> (0.002 s by default: the tiny model's video encoder, 2.7 ms per batch of 4 on 2 CPU cores in
/// docs/benchmarks.md; blip-base on CPU is ≈ 4.3 s per segment, so pass 4.3 to estimate that).
/// </summary>
public static class DryRun
{
    public const int FramesPerSegment = 8;
    public const double SegmentSeconds = 10;
    public const double MinTailSeconds = 1;
    public const double DefaultSecondsPerSegment = 0.002;

    public static async Task<IReadOnlyList<DryRunRow>> ProbeAsync(IReadOnlyList<IngestItem> items, int concurrency, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(items);
        var rows = new DryRunRow[items.Count];
        using var media = new MediaToolchain(new MediaOptions { MaxConcurrentProcesses = Math.Max(1, concurrency) });
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = ct }, async (i, token) =>
        {
            try
            {
                var info = await media.ProbeAsync(items[i].Path, token).ConfigureAwait(false);
                rows[i] = new DryRunRow(items[i].Source, info, EstimateSegments(info.Duration.TotalSeconds), null);
            }
            catch (MediaException e)
            {
                rows[i] = new DryRunRow(items[i].Source, null, 0, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                rows[i] = new DryRunRow(items[i].Source, null, 0, $"probe failed: {e.Message}");
            }
        }).ConfigureAwait(false);
        return rows;
    }

    public static int EstimateSegments(double durationSeconds) =>
        SegmentPlanner.Plan(durationSeconds, FramesPerSegment, SegmentSeconds, MinTailSeconds).Count;

    public static void Write(TextWriter o, IReadOnlyList<DryRunRow> rows, IReadOnlyList<LocalRejection> local, double secondsPerSegment)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(local);
        var inv = CultureInfo.InvariantCulture;
        int width = Math.Clamp(rows.Select(r => r.Source.Length).Concat(local.Select(r => r.Source.Length)).DefaultIfEmpty(4).Max(), 4, 60);
        o.WriteLine($"{"file".PadRight(width)}  {"duration",10}  {"resolution",10}  {"codec",-8}  {"segments",8}  error");
        foreach (var r in rows)
        {
            string source = r.Source.Length > width ? "…" + r.Source[^(width - 1)..] : r.Source;
            if (r.Media is { } m)
            {
                o.WriteLine(string.Create(inv, $"{source.PadRight(width)}  {m.Duration.TotalSeconds,9:F1}s  {$"{m.Video.Width}x{m.Video.Height}",10}  {m.Video.Codec,-8}  {r.Segments,8}"));
            }
            else
            {
                o.WriteLine($"{source.PadRight(width)}  {"-",10}  {"-",10}  {"-",-8}  {"-",8}  {r.Error}");
            }
        }

        foreach (var r in local)
        {
            string source = r.Source.Length > width ? "…" + r.Source[^(width - 1)..] : r.Source;
            o.WriteLine($"{source.PadRight(width)}  {"-",10}  {"-",10}  {"-",-8}  {"-",8}  rejected: {r.Reason}");
        }

        int ok = rows.Count(r => r.Media is not null);
        int segments = rows.Sum(r => r.Segments);
        double seconds = rows.Where(r => r.Media is not null).Sum(r => r.Media!.Duration.TotalSeconds);
        o.WriteLine();
        o.WriteLine(string.Create(inv,
            $"total: {ok} probed, {rows.Count - ok + local.Count} unusable, {seconds:F1} s of video, {segments} segments estimated; encoder ≈ {segments * secondsPerSegment:F1} s at {secondsPerSegment} s/segment (tiny model default; blip-base on CPU ≈ 4.3 s/segment)"));
    }
}
