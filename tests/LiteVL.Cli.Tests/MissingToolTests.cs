using LiteVL.Testing;

namespace LiteVL.Cli.Tests;

/// <summary>The real <c>litevl</c> program on a machine without ffmpeg: a one-line message that says what to install, not a crash.</summary>
public sealed class MissingToolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-noffmpeg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DataSynth_WithoutFfmpeg_SaysWhatToInstallAndExitsOne()
    {
        // The dotnet host that runs these tests, started with a PATH that holds no ffmpeg.
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "/usr/share/dotnet/dotnet";
        string litevl = typeof(CliApp).Assembly.Location;
        var run = Programs.Run("env", ["PATH=" + Path.Combine(_dir, "empty-bin"), dotnet, litevl, "data", "synth", "--out", Path.Combine(_dir, "out"), "--clips", "12"]);

        Assert.Equal(1, run.ExitCode);
        string[] lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ffmpeg not found", lines[0]);
        Assert.Contains("apt-get install -y ffmpeg", lines[0]);
        Assert.DoesNotContain("   at ", run.Error);
    }
}
