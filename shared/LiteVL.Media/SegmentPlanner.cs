using System.Globalization;
using System.Text;

namespace LiteVL.Media;

/// <summary>One planned segment: the window [Start, End) and its T sample times, start + (i + 0.5)·len/T.</summary>
public sealed record SegmentPlan(int Index, double Start, double End, IReadOnlyList<double> SampleTimes)
{
    public double Length => End - Start;

    /// <summary>The time of the segment's thumbnail (its middle).</summary>
    public double Middle => Start + (Length / 2);

    /// <summary>Where each sample's frame is looked up in a video of <paramref name="frameRate"/> (<see cref="SegmentPlanner.FrameLookupTime"/>).</summary>
    public double[] LookupTimes(double frameRate) => [.. SampleTimes.Select(t => SegmentPlanner.FrameLookupTime(t, Middle, frameRate))];
}

/// <summary>Pure segmentation and sampling maths (no I/O).</summary>
public static class SegmentPlanner
{
    /// <summary>
    /// The whole video is one segment when <paramref name="durationSeconds"/> ≤ <paramref name="segmentSeconds"/>; otherwise fixed
    /// windows of <paramref name="segmentSeconds"/>, the last one shorter, and a tail shorter than
    /// <paramref name="minTailSeconds"/> merged into the previous window.
    /// </summary>
    public static IReadOnlyList<SegmentPlan> Plan(double durationSeconds, int framesPerSegment, double segmentSeconds, double minTailSeconds)
    {
        if (!(durationSeconds > 0) || double.IsInfinity(durationSeconds))
            throw new ArgumentOutOfRangeException(nameof(durationSeconds), durationSeconds, "Duration must be a positive number of seconds.");
        ArgumentOutOfRangeException.ThrowIfLessThan(framesPerSegment, 1);
        if (!(segmentSeconds > 0) || double.IsInfinity(segmentSeconds))
            throw new ArgumentOutOfRangeException(nameof(segmentSeconds), segmentSeconds, "Segment length must be positive.");
        if (!(minTailSeconds >= 0) || minTailSeconds >= segmentSeconds)
            throw new ArgumentOutOfRangeException(nameof(minTailSeconds), minTailSeconds, "The minimum tail must be in [0, segmentSeconds).");

        var bounds = new List<(double Start, double End)>();
        if (durationSeconds <= segmentSeconds)
        {
            bounds.Add((0, durationSeconds));
        }
        else
        {
            // Window k is [k·W, (k+1)·W): computed by multiplication, never by accumulation, so no drift on long videos.
            var full = (long)Math.Floor(durationSeconds / segmentSeconds);
            var tail = durationSeconds - (full * segmentSeconds);
            if (tail < 1e-9) { tail = 0; }
            for (long k = 0; k < full; k++) bounds.Add((k * segmentSeconds, (k + 1) * segmentSeconds));
            if (tail > 0)
            {
                if (tail < minTailSeconds) bounds[^1] = (bounds[^1].Start, durationSeconds);
                else bounds.Add((full * segmentSeconds, durationSeconds));
            }
            else
            {
                bounds[^1] = (bounds[^1].Start, durationSeconds);
            }
        }

        var plans = new SegmentPlan[bounds.Count];
        for (var s = 0; s < bounds.Count; s++)
        {
            var (start, end) = bounds[s];
            plans[s] = new SegmentPlan(s, start, end, SampleTimes(start, end - start, framesPerSegment));
        }
        return plans;
    }

    /// <summary>T uniform sample times in a window: start + (i + 0.5)·len/T.</summary>
    public static double[] SampleTimes(double start, double length, int count)
    {
        var times = new double[count];
        for (var i = 0; i < count; i++) times[i] = start + ((i + 0.5) * length / count);
        return times;
    }

    /// <summary>
    /// The frame a sample time τ stands for is the frame on screen at τ: frame k = ⌊τ·fps⌋, which shows from k/fps to
    /// (k+1)/fps. When τ falls exactly on a boundary between two frames, the one on the side of the segment's middle is
    /// taken. This rule is mirror-symmetric, so a clip and its time reversal give the same frames in reverse order (the
    /// previous rule, "the first frame at or after τ", took frames one to two frames later in both, which let a model tell
    /// a clip from its reversal by frame positions instead of by their order). Returns the time to look the frame up from,
    /// a quarter of a frame before its start, so that "the first frame at or after" this time is that frame even with
    /// rounded timestamps. With an unknown frame rate, τ itself.
    /// </summary>
    public static double FrameLookupTime(double time, double segmentMiddle, double frameRate)
    {
        if (!(frameRate > 0) || double.IsInfinity(frameRate))
        {
            return time;
        }

        double x = time * frameRate;
        double k = Math.Floor(x + 1e-6);
        if (Math.Abs(x - k) < 1e-6 && time > segmentMiddle)
        {
            k -= 1;                                                            // on a boundary after the middle: the earlier frame
        }

        return Math.Max(0, (k - 0.25) / frameRate);
    }

    /// <summary>
    /// An ffmpeg <c>select</c> expression that keeps, for every sample time τ, the first frame with t ≥ τ (the frame an
    /// accurate <c>-ss τ</c> seek returns); with a known <paramref name="frameRate"/>, instead the frames that
    /// <see cref="FrameLookupTime"/> can pick. Contiguous segments of equal length form one arithmetic progression
    /// o + jΔ (j &lt; n), so the expression has O(1) terms per group (usually 1–2, twice that with a frame rate) whatever
    /// the video length:
    /// <c>clip(floor((t+ε−o)/Δ)+1, 0, n) − clip(floor((t_prev+ε−o)/Δ)+1, 0, n)</c> counts the sample times in (t_prev, t].
    /// </summary>
    /// <param name="middleOnly">Uses the middle of every segment (one time per segment) instead of its sample times.</param>
    /// <param name="frameRate">The video's frame rate (0 when unknown); not used for thumbnails.</param>
    public static string SelectExpression(IReadOnlyList<SegmentPlan> plan, bool middleOnly, double frameRate = 0)
    {
        ArgumentNullException.ThrowIfNull(plan);
        const string Eps = "0.000001";
        const string PrevT = "if(isnan(prev_t),-1e9,prev_t)";
        var sb = new StringBuilder();
        var groups = Progressions(plan, middleOnly);
        if (!middleOnly && frameRate > 0 && !double.IsInfinity(frameRate))
        {
            // First frame at or after τ − 0.95/fps and at or after τ − 1.05/fps: together they hold ⌊τ·fps⌋, and both
            // neighbours when τ sits on a frame boundary (the lookup then picks the one toward the middle).
            groups = [.. groups.SelectMany(g => new[] { (g.Offset - (0.95 / frameRate), g.Step, g.Count), (g.Offset - (1.05 / frameRate), g.Step, g.Count) })];
        }

        foreach (var (offset, step, count) in groups)
        {
            var o = F(offset);
            var d = F(step);
            var n = count.ToString(CultureInfo.InvariantCulture);
            if (sb.Length > 0) sb.Append('+');
            sb.Append(CultureInfo.InvariantCulture,
                $"clip(floor((t+{Eps}-{o})/{d})+1,0,{n})-clip(floor(({PrevT}+{Eps}-{o})/{d})+1,0,{n})");
        }
        return sb.ToString();
    }

    /// <summary>Groups the sample times into arithmetic progressions (offset, step, count).</summary>
    internal static List<(double Offset, double Step, long Count)> Progressions(IReadOnlyList<SegmentPlan> plan, bool middleOnly)
    {
        var groups = new List<(double Offset, double Step, long Count)>();
        var i = 0;
        while (i < plan.Count)
        {
            var first = plan[i];
            var j = i + 1;
            while (j < plan.Count
                   && Math.Abs(plan[j].Length - first.Length) < 1e-9
                   && Math.Abs(plan[j].Start - plan[j - 1].End) < 1e-9) j++;
            var segments = j - i;
            var perSegment = middleOnly ? 1 : first.SampleTimes.Count;
            var step = first.Length / perSegment;
            var offset = first.Start + (step / 2);
            groups.Add((offset, step, (long)segments * perSegment));
            i = j;
        }
        return groups;
    }

    internal static string F(double value) => value.ToString("0.#########", CultureInfo.InvariantCulture);
}
