using LiteVL.Media;
using LiteVL.Testing;

namespace LiteVL.FrameExtractor.Tests;

/// <summary><see cref="SampleClips.EncodeFramesAsync"/>: caller-drawn frames become an H.264 MP4 that decodes back to them, in order.</summary>
public sealed class EncodeFramesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-encode-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task EncodeFrames_WritesAnH264Mp4_WhoseFramesDecodeInOrder()
    {
        const int W = 48, H = 32;
        byte[] levels = [0, 50, 100, 150, 200, 250];
        var frames = levels.Select(l => Enumerable.Repeat(l, W * H * 3).ToArray()).ToList();
        string path = Path.Combine(_dir, "grey.mp4");
        using var clips = new SampleClips();
        Assert.Equal(path, await clips.EncodeFramesAsync(frames, W, H, 10, path));

        using var media = new MediaToolchain();
        var info = await media.ProbeAsync(path);
        Assert.Equal("h264", info.Video.Codec);
        Assert.Equal((W, H), (info.Video.Width, info.Video.Height));
        Assert.Equal(0.6, info.Duration.TotalSeconds, 2);
        Assert.Empty(Directory.GetFiles(_dir, ".*"));                              // no temporary file left

        var run = await Programs.RunAsync("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray", "-"]);
        Assert.True(run.ExitCode == 0, run.Error);
        var bytes = run.OutputBytes;
        Assert.Equal(levels.Length * W * H, bytes.Length);
        for (var i = 0; i < levels.Length; i++)
        {
            var mean = bytes.AsSpan(i * W * H, W * H).ToArray().Average(b => (double)b);
            Assert.InRange(mean, levels[i] - 4, levels[i] + 4);
        }
    }

    [Fact]
    public async Task EncodeFrames_RefusesOddSizesAndFramesOfTheWrongLength()
    {
        using var clips = new SampleClips();
        var frame = new byte[16 * 16 * 3];
        await Assert.ThrowsAsync<ArgumentException>(() => clips.EncodeFramesAsync([new byte[17 * 16 * 3]], 17, 16, 10, Path.Combine(_dir, "odd.mp4")));
        await Assert.ThrowsAsync<ArgumentException>(() => clips.EncodeFramesAsync([], 16, 16, 10, Path.Combine(_dir, "none.mp4")));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => clips.EncodeFramesAsync([frame, new byte[10]], 16, 16, 10, Path.Combine(_dir, "short.mp4")));
        Assert.Contains("Frame 1 holds 10 bytes", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir, "*", SearchOption.AllDirectories));  // nothing written, temporary files removed
    }

    [Fact]
    public async Task EncodeFrames_WithoutFFmpeg_SaysWhatToInstall()
    {
        File.WriteAllText(Path.Combine(_dir, "ffmpeg"), "not a program");
        using var clips = new SampleClips(new MediaOptions { BinaryFolder = _dir });
        var e = await Assert.ThrowsAsync<MediaException>(() => clips.EncodeFramesAsync([new byte[16 * 16 * 3]], 16, 16, 10, Path.Combine(_dir, "out", "x.mp4")));
        Assert.Equal(MediaErrorKind.ToolMissing, e.Kind);
        Assert.Contains("apt-get install -y ffmpeg", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "out", "x.mp4")));
    }
}
