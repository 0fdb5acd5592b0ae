using LiteVL.Media;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>A clip to upload and what must become of it.</summary>
internal sealed record ClipCase(string Path, string Name, int? ExpectedSegments, int? RejectStatus, string? FailureContains);

/// <summary>≥ 12 varied good clips plus bad files, generated once per test class with ffmpeg.</summary>
public sealed class ClipSetFixture : IAsyncLifetime
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("litevl-clips-").FullName;

    internal List<ClipCase> Cases { get; } = [];

    public async Task InitializeAsync()
    {
        using var clips = new SampleClips();
        using var media = new MediaToolchain();
        foreach (var spec in SampleClips.VariedSet())
        {
            string path = await clips.GenerateAsync(spec, Path.Combine(Directory, spec.FileName));
            var info = await media.ProbeAsync(path);
            int segments = SegmentPlanner.Plan(info.Duration.TotalSeconds, 8, media.Options.SegmentSeconds, media.Options.MinTailSeconds).Count;
            Cases.Add(new ClipCase(path, spec.FileName, segments, null, null));
        }

        Cases.Add(new ClipCase(await clips.MakeTruncatedMp4Async(Path.Combine(Directory, "truncated.mp4")), "truncated.mp4", null, null, ""));
        Cases.Add(new ClipCase(SampleClips.MakeTextAsVideo(Path.Combine(Directory, "text.mp4")), "text.mp4", null, 415, null));
        Cases.Add(new ClipCase(SampleClips.MakeZeroBytes(Path.Combine(Directory, "zero.mp4")), "zero.mp4", null, 400, null));
        Cases.Add(new ClipCase(await clips.MakeAudioOnlyAsync(Path.Combine(Directory, "audio-only.mp4")), "audio-only.mp4", null, null, "'audio-only.mp4' has no video stream"));
        Cases.Add(new ClipCase(await clips.MakeHugeDeclaredSizeAsync(Path.Combine(Directory, "huge.mkv"), 12000, 12000), "huge.mkv", null, null, "huge.mkv' declares 12000"));
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }
}
