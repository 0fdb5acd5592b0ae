using LiteVL.Contracts;
using LiteVL.Pipeline.Tests.Stages;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline.Tests.Deletion;

/// <summary>No embedding outlives its video: a VideoDeleted lost on the way (broker down at the DELETE) is published again.</summary>
public sealed class DeletionTombstoneTests
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_deletion_writes_a_tombstone_that_stays_until_the_indexer_confirms()
    {
        // No consumers: the VideoDeleted the DELETE publishes is never handled, so the tombstone must stay.
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            Assert.NotNull(await DeletionChecks.NewService(scope.ServiceProvider).DeleteAsync(PipelineRig.Tenant, id));
        }

        Assert.Single(rig.PublishedOf<VideoDeleted>(m => m.VideoId, id));
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var tombstone = await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().DeletedVideos.SingleAsync(d => d.VideoId == id);
            Assert.Equal((PipelineRig.Tenant, _clock.GetUtcNow().UtcDateTime, 0), (tombstone.TenantId, tombstone.DeletedAt, tombstone.Attempts));
            Assert.Equal(0, await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().Videos.CountAsync(v => v.Id == id));
        }
    }

    [Fact]
    public async Task A_lost_VideoDeleted_is_published_again_by_the_reconciler_and_the_points_go()
    {
        await using var rig = await PipelineRig.CreateAsync(clock: _clock);
        var id = await rig.SeedVideoAsync();
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        var video = await rig.WaitForTerminalAsync(id);
        string version = video.ModelVersion!;
        Assert.Equal(3, await rig.CountPointsAsync(id, version));

        // What a DELETE leaves when the broker is down at its end: rows and files gone, tombstone written, no VideoDeleted.
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var blobs = scope.ServiceProvider.GetRequiredService<IBlobStore>();
            blobs.Delete(BlobKeys.Original(PipelineRig.Tenant, id));
            blobs.Delete(BlobKeys.MediaPrefix(id));
            blobs.Delete(BlobKeys.FeaturesPrefix(id));
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            await db.VideoEvents.Where(e => e.VideoId == id).ExecuteDeleteAsync();
            await db.Segments.Where(s => s.VideoId == id).ExecuteDeleteAsync();
            await db.Videos.Where(v => v.Id == id).ExecuteDeleteAsync();
            var now = _clock.GetUtcNow().UtcDateTime;
            db.DeletedVideos.Add(new DeletedVideo { VideoId = id, TenantId = PipelineRig.Tenant, ModelVersion = version, DeletedAt = now, LastPublishedAt = now });
            await db.SaveChangesAsync();
        }

        var reconciler = new PipelineReconciler(
            rig.Services.GetRequiredService<IServiceScopeFactory>(),
            Options.Create(new ReconcilerOptions { StaleAfter = StaleAfter }),
            _clock,
            NullLogger<PipelineReconciler>.Instance);

        // Not before StaleAfter (the first VideoDeleted may simply be on its way)...
        _clock.Advance(StaleAfter - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));
        Assert.Empty(rig.PublishedOf<VideoDeleted>(m => m.VideoId, id));
        Assert.Equal(3, await rig.CountPointsAsync(id, version));

        // ...then once: the indexer removes the points and the tombstone.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, await reconciler.ReconcileOnceAsync(CancellationToken.None));
        var redriven = Assert.Single(rig.PublishedOf<VideoDeleted>(m => m.VideoId, id)).Context.Message;
        Assert.Equal((PipelineRig.Tenant, version), (redriven.TenantId, redriven.ModelVersion));
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        await DeletionChecks.AssertNothingLeftAsync(rig, id, version);

        // Nothing more to do afterwards.
        _clock.Advance(StaleAfter * 2);
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));
        Assert.Single(rig.PublishedOf<VideoDeleted>(m => m.VideoId, id));
    }
}
