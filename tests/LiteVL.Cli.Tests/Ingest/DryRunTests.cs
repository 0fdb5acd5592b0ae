using LiteVL.Cli.Ingest;
using LiteVL.Testing;

namespace LiteVL.Cli.Tests.Ingest;

public sealed class DryRunTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DryRun_ProbesRealFiles_EstimatesSegments_AndExitsThreeOnAnUnusableFile()
    {
        string clip = Path.Combine(_dir.Root, "clip.mp4");
        Assert.Equal(0, Programs.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=12", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip]).ExitCode);

        _dir.File("fake.mp4", "not a video");

        var (exit, output, error) = Cli.Run("ingest", _dir.Root, "--dry-run", "--seconds-per-segment", "4.3");

        Assert.True(exit == 3, output + error);
        Assert.Matches(@"clip\.mp4\s+12\.0s\s+64x48\s+h264\s+2", output);
        Assert.Contains("fake.mp4", output, StringComparison.Ordinal);
        Assert.Contains("total: 1 probed, 1 unusable, 12.0 s of video, 2 segments estimated; encoder ≈ 8.6 s at 4.3 s/segment", output, StringComparison.Ordinal);
        Assert.Equal(2, DryRun.EstimateSegments(12));
        Assert.Equal(1, DryRun.EstimateSegments(10.5));
    }

    [Fact]
    public void Ingest_WithoutAKey_IsAOneLineError()
    {
        string clip = _dir.File("a.mp4", "VIDEO");
        string? saved = Environment.GetEnvironmentVariable("LITEVL_API_KEY");
        if (saved is not null) return;
        var (exit, _, error) = Cli.Run("ingest", clip, "--server", "http://127.0.0.1:1");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: No API key", error, StringComparison.Ordinal);
    }
}
