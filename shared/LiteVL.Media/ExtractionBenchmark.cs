using System.Diagnostics;

namespace LiteVL.Media;

/// <summary>Figures of one single-pass vs per-frame-seek comparison (for docs/benchmarks.md).</summary>
public sealed record ExtractionBenchmarkResult(
    string Clip, double ClipSeconds, int Segments, int FramesPerSegment, int FrameSize, int MaxConcurrentProcesses,
    TimeSpan SinglePass, TimeSpan Seek, double MeanAbsPixelDiff)
{
    /// <summary>How many times faster the single pass is.</summary>
    public double Speedup => Seek.TotalSeconds / SinglePass.TotalSeconds;

    public override string ToString() =>
        $"{Segments} segments × {FramesPerSegment} frames ({FrameSize}×{FrameSize}) of {Path.GetFileName(Clip)} ({ClipSeconds:0} s), " +
        $"{MaxConcurrentProcesses} concurrent process(es): single pass {SinglePass.TotalSeconds:0.00} s, per-frame seek {Seek.TotalSeconds:0.00} s " +
        $"({Speedup:0.0}× faster single pass); mean |Δpixel| between the two = {MeanAbsPixelDiff:0.###}";
}

/// <summary>An end-to-end benchmark method (not a test): single pass vs per-frame seeking on a long clip. Callable from a CLI command.</summary>
public static class ExtractionBenchmark
{
    /// <summary>
    /// Generates (once, cached in <paramref name="workDirectory"/>) a 640×360 25 fps H.264 clip of <paramref name="clipSeconds"/> s, then
    /// extracts <paramref name="segments"/> × <paramref name="framesPerSegment"/> frames with each sampling mode and times both.
    /// </summary>
    public static async Task<ExtractionBenchmarkResult> RunAsync(
        string workDirectory, double clipSeconds = 300, int segments = 30, int framesPerSegment = 8, int frameSize = 224,
        MediaOptions? options = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(workDirectory);
        var clip = Path.Combine(workDirectory, $"bench_{clipSeconds:0}s_640x360.mp4");
        if (!File.Exists(clip))
        {
            using var clips = new SampleClips(options);
            await clips.GenerateAsync(new ClipSpec(ClipSource.TestSrc2, clipSeconds, 640, 360, 25, ClipCodec.H264, "mp4", false), clip, cancellationToken)
                .ConfigureAwait(false);
        }

        var baseOptions = options ?? new MediaOptions();
        var o = new MediaOptions
        {
            BinaryFolder = baseOptions.BinaryFolder,
            MaxConcurrentProcesses = baseOptions.MaxConcurrentProcesses,
            ProcessTimeout = baseOptions.ProcessTimeout,
            ProbeTimeout = baseOptions.ProbeTimeout,
            UseCudaDecoding = baseOptions.UseCudaDecoding,
            SegmentSeconds = clipSeconds / segments,
            MinTailSeconds = 0,
        };
        using var toolchain = new MediaToolchain(o);
        var media = await toolchain.ProbeAsync(clip, cancellationToken).ConfigureAwait(false);

        async Task<(TimeSpan, ExtractionResult)> Time(SamplingMode mode)
        {
            var dir = Path.Combine(workDirectory, mode.ToString());
            var sw = Stopwatch.StartNew();
            var result = await toolchain.ExtractAsync(clip, new ExtractionRequest(dir, framesPerSegment, frameSize, mode, media), cancellationToken).ConfigureAwait(false);
            return (sw.Elapsed, result);
        }

        var (single, a) = await Time(SamplingMode.SinglePass).ConfigureAwait(false);
        var (seek, b) = await Time(SamplingMode.Seek).ConfigureAwait(false);

        double sum = 0;
        long count = 0;
        foreach (var (x, y) in a.Segments.Zip(b.Segments))
        {
            var p = await File.ReadAllBytesAsync(x.FramesPath, cancellationToken).ConfigureAwait(false);
            var q = await File.ReadAllBytesAsync(y.FramesPath, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < p.Length; i++) sum += Math.Abs(p[i] - q[i]);
            count += p.Length;
        }
        return new ExtractionBenchmarkResult(clip, media.Duration.TotalSeconds, a.Segments.Count, framesPerSegment, frameSize,
            o.MaxConcurrentProcesses, single, seek, sum / Math.Max(1, count));
    }
}
