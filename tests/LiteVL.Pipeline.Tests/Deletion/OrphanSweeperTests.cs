using LiteVL.Pipeline.Tests.Stages;
using LiteVL.ServiceDefaults;
using LiteVL.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline.Tests.Deletion;

/// <summary>The orphan sweeper on a real blob store and database.</summary>
public sealed class OrphanSweeperTests
{
    private static readonly DateTime Old = DateTime.UtcNow.AddHours(-3);

    [Fact]
    public async Task Sweep_removes_old_files_of_missing_videos_and_keeps_young_ones_and_those_of_existing_videos()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false);
        var blobs = rig.Services.GetRequiredService<IBlobStore>();

        // A video that exists, with old files everywhere: kept.
        var existing = await rig.SeedVideoAsync();
        await WriteAsync(blobs, BlobKeys.Frames(existing, 0), Old);
        await WriteAsync(blobs, BlobKeys.Tokens(existing, "v1", 0), Old);
        Touch(rig, BlobKeys.Original(PipelineRig.Tenant, existing), Old);

        // An orphan: every kind of file, all old: removed.
        var orphan = Guid.NewGuid();
        await WriteAsync(blobs, BlobKeys.Original(PipelineRig.Tenant, orphan), Old);
        await WriteAsync(blobs, BlobKeys.Frames(orphan, 0), Old);
        await WriteAsync(blobs, BlobKeys.Thumbnail(orphan, 0), Old);
        await WriteAsync(blobs, BlobKeys.Tokens(orphan, "v1", 0), Old);
        await WriteAsync(blobs, BlobKeys.Tokens(orphan, "v1", 1), Old);
        // An old temporary file of an upload that crashed: removed.
        var crashed = Guid.NewGuid();
        await WriteAsync(blobs, $"originals/{PipelineRig.Tenant}/{crashed:N}.{Guid.NewGuid():N}.tmp", Old);
        // The original of an existing video's id under another tenant's directory: an orphan too.
        await WriteAsync(blobs, BlobKeys.Original("other", existing), Old);

        // A young orphan (an upload or a stage in progress): kept, all of it, even its old files.
        var young = Guid.NewGuid();
        await WriteAsync(blobs, BlobKeys.Original(PipelineRig.Tenant, young), DateTime.UtcNow);
        await WriteAsync(blobs, BlobKeys.Frames(young, 0), Old);
        await WriteAsync(blobs, BlobKeys.Thumbnail(young, 0), DateTime.UtcNow);

        // Something that is not a video's file: never touched.
        await WriteAsync(blobs, "media/not-a-video/x.bin", Old);
        await WriteAsync(blobs, "originals/acme/readme.txt", Old);

        var sweeper = new OrphanSweeper(
            rig.Services.GetRequiredService<IServiceScopeFactory>(),
            blobs,
            Options.Create(new SweeperOptions { MinAge = TimeSpan.FromHours(1) }),
            TimeProvider.System,
            NullLogger<OrphanSweeper>.Instance);
        var result = await sweeper.SweepOnceAsync();

        Assert.Equal(new SweepResult(Originals: 3, MediaDirectories: 1, FeatureDirectories: 1, Files: 3 + 2 + 2), result);
        Assert.Empty(DeletionChecks.FilesOf(rig, orphan));
        Assert.Empty(DeletionChecks.DirectoriesOf(rig, orphan));
        Assert.Empty(DeletionChecks.FilesOf(rig, crashed));
        Assert.False(blobs.Exists(BlobKeys.Original("other", existing)));
        Assert.True(blobs.Exists(BlobKeys.Original(PipelineRig.Tenant, existing)));
        Assert.True(blobs.Exists(BlobKeys.Frames(existing, 0)));
        Assert.True(blobs.Exists(BlobKeys.Tokens(existing, "v1", 0)));
        Assert.Equal(3, DeletionChecks.FilesOf(rig, young).Count);
        Assert.True(blobs.Exists("media/not-a-video/x.bin"));
        Assert.True(blobs.Exists("originals/acme/readme.txt"));

        // Nothing more to do; once the young files age, they go too.
        Assert.Equal(new SweepResult(0, 0, 0, 0), await sweeper.SweepOnceAsync());
        Touch(rig, BlobKeys.Original(PipelineRig.Tenant, young), Old);
        Touch(rig, BlobKeys.Thumbnail(young, 0), Old);
        Directory.SetLastWriteTimeUtc(Path.Combine(rig.BlobRoot, "media", young.ToString("N"), "thumbs"), Old);
        Directory.SetLastWriteTimeUtc(Path.Combine(rig.BlobRoot, "media", young.ToString("N"), "frames"), Old);
        Directory.SetLastWriteTimeUtc(Path.Combine(rig.BlobRoot, "media", young.ToString("N")), Old);
        Assert.Equal(new SweepResult(1, 1, 0, 3), await sweeper.SweepOnceAsync());
        Assert.Empty(DeletionChecks.FilesOf(rig, young));
        Assert.True(blobs.Exists(BlobKeys.Original(PipelineRig.Tenant, existing)));
    }

    private static async Task WriteAsync(IBlobStore blobs, string key, DateTime lastWrite)
    {
        await blobs.WriteAsync(key, (s, ct) => s.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask());
        string path = blobs.LocalPath(key);
        File.SetLastWriteTimeUtc(path, lastWrite);
        // Directory times follow the newest entry written into them; age them with their files.
        for (string? dir = Path.GetDirectoryName(path); dir is not null && dir.Length > ((DirectoryBlobStore)blobs).Root.Length; dir = Path.GetDirectoryName(dir))
        {
            if (Directory.GetLastWriteTimeUtc(dir) > lastWrite && lastWrite < DateTime.UtcNow.AddMinutes(-1))
            {
                Directory.SetLastWriteTimeUtc(dir, lastWrite);
            }
        }
    }

    private static void Touch(PipelineRig rig, string key, DateTime lastWrite) =>
        File.SetLastWriteTimeUtc(Path.Combine(rig.BlobRoot, key), lastWrite);
}
