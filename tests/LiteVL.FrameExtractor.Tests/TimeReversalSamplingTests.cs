using LiteVL.Media;

namespace LiteVL.FrameExtractor.Tests;

/// <summary>
/// A clip and its time reversal must give the same T frames in reverse order: otherwise frame positions, not their order,
/// tell the two apart (measured before this rule: a frame-mean model separated the synthetic twins' files, and fine-tuning
/// learnt that shortcut instead of motion). Clips whose frames show their own index as a grey level make every pick visible.
/// </summary>
[Collection(MediaCollection.Name)]
public class TimeReversalSamplingTests(MediaFixture fx)
{
    private const int T = 8;
    private const int S = 32;
    private const double Fps = 25;

    /// <summary>Frame k of an n-frame clip is flat grey 5k + 10 (distinct after H.264 at CRF 18).</summary>
    private static List<byte[]> CounterFrames(int n) =>
        [.. Enumerable.Range(0, n).Select(k => Enumerable.Repeat((byte)((5 * k) + 10), S * S * 3).ToArray())];

    private static int[] FrameIndices(byte[] frames)
    {
        int frameBytes = S * S * 3;
        var indices = new int[frames.Length / frameBytes];
        for (int t = 0; t < indices.Length; t++)
        {
            double mean = 0;
            for (int i = 0; i < frameBytes; i++) mean += frames[(t * frameBytes) + i];
            indices[t] = (int)Math.Round(((mean / frameBytes) - 10) / 5);
        }

        return indices;
    }

    /// <summary>The frame on screen at sample time (i + 0.5)·n/T frames; on a frame boundary, the one toward the middle.</summary>
    private static int Expected(int i, int n)
    {
        double x = (i + 0.5) * n / T;
        int k = (int)Math.Floor(x + 1e-9);
        return Math.Abs(x - k) < 1e-9 && i >= T / 2 ? k - 1 : k;
    }

    [Theory]
    [InlineData(26, SamplingMode.SinglePass)]
    [InlineData(32, SamplingMode.SinglePass)]                                  // every sample time on a frame boundary
    [InlineData(47, SamplingMode.SinglePass)]
    [InlineData(26, SamplingMode.Seek)]
    [InlineData(32, SamplingMode.Seek)]
    public async Task A_clip_and_its_reversal_give_the_same_frames_in_reverse_order(int n, SamplingMode mode)
    {
        using var clips = new SampleClips();
        var frames = CounterFrames(n);
        string dir = fx.Dir($"reversal-{n}-{mode}");
        string forward = await clips.EncodeFramesAsync(frames, S, S, Fps, Path.Combine(dir, "forward.mp4"));
        frames.Reverse();
        string backward = await clips.EncodeFramesAsync(frames, S, S, Fps, Path.Combine(dir, "backward.mp4"));

        using var m = new MediaToolchain();
        var a = await m.ExtractAsync(forward, new ExtractionRequest(Path.Combine(dir, "a"), T, S, mode));
        var b = await m.ExtractAsync(backward, new ExtractionRequest(Path.Combine(dir, "b"), T, S, mode));
        var picked = FrameIndices(await File.ReadAllBytesAsync(Assert.Single(a.Segments).FramesPath));
        var pickedReversed = FrameIndices(await File.ReadAllBytesAsync(Assert.Single(b.Segments).FramesPath));

        Assert.Equal(Enumerable.Range(0, T).Select(i => Expected(i, n)), picked);
        Assert.Equal(picked.Reverse(), pickedReversed);                       // the reversal's frame j is frame n − 1 − j of the clip
    }

    [Fact]
    public void Lookup_time_is_a_quarter_frame_before_the_frame_on_screen()
    {
        Assert.Equal((4 - 0.25) / Fps, SegmentPlanner.FrameLookupTime(4.6 / Fps, 1, Fps), 9);
        Assert.Equal((4 - 0.25) / Fps, SegmentPlanner.FrameLookupTime(4.0 / Fps, 1, Fps), 9);    // boundary before the middle: the later frame
        Assert.Equal((3 - 0.25) / Fps, SegmentPlanner.FrameLookupTime(4.0 / Fps, 0.1, Fps), 9);  // boundary after the middle: the earlier frame
        Assert.Equal(0.123, SegmentPlanner.FrameLookupTime(0.123, 1, 0));                       // unknown frame rate: the sample time
    }
}
