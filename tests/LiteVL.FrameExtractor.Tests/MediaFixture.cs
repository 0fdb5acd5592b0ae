using LiteVL.Media;

namespace LiteVL.FrameExtractor.Tests;

/// <summary>Generates the sample clips and bad files once for all media tests. Needs ffmpeg on PATH (installs nothing).</summary>
public sealed class MediaFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"litevl-fx-{Guid.NewGuid():N}");

    public Dictionary<ClipSpec, string> Clips { get; } = [];

    public string LongClip { get; private set; } = "";

    public string Dir(string name)
    {
        var d = Path.Combine(Root, name, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        using (var probe = new MediaToolchain())
        {
            try
            {
                await probe.CheckToolsAsync();
            }
            catch (MediaException e) when (e.Kind == MediaErrorKind.ToolMissing)
            {
                throw new InvalidOperationException(
                    $"The LiteVL.FrameExtractor tests run real ffmpeg and ffprobe, which are not on PATH here ({e.Message}). Install them first: apt-get install -y ffmpeg", e);
            }
        }

        using var clips = new SampleClips(new MediaOptions { MaxConcurrentProcesses = 2 });
        var specs = SampleClips.VariedSet();
        var paths = specs.ToDictionary(s => s, s => Path.Combine(Root, "clips", s.FileName));
        await Parallel.ForEachAsync(specs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (s, ct) => await clips.GenerateAsync(s, paths[s], ct));
        foreach (var (s, p) in paths) Clips[s] = p;

        LongClip = await clips.GenerateAsync(
            new ClipSpec(ClipSource.TestSrc2, 60, 640, 360, 25, ClipCodec.H264, "mp4", false), Path.Combine(Root, "clips", "long-60s.mp4"));
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class MediaCollection : ICollectionFixture<MediaFixture>
{
    public const string Name = "media";
}
