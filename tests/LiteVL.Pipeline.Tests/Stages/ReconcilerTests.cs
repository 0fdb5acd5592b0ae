using LiteVL.Contracts;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline.Tests.Stages;

/// <summary>
/// <see cref="PipelineReconciler.ReconcileOnceAsync"/> against the real database on a hand-moved clock. The bus has no
/// consumers here, so what the reconciler publishes stays exactly as it published it.
/// </summary>
public sealed class ReconcilerTests
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);
    private const int MaxAttempts = 3;

    private readonly ManualClock _clock = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private PipelineReconciler Reconciler(PipelineRig rig) => new(
        rig.Services.GetRequiredService<IServiceScopeFactory>(),
        Options.Create(new ReconcilerOptions { StaleAfter = StaleAfter, MaxAttempts = MaxAttempts }),
        _clock,
        NullLogger<PipelineReconciler>.Instance);

    [Fact]
    public async Task A_video_stuck_in_Uploaded_gets_VideoUploaded_again_and_one_more_attempt()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        var seeded = await rig.GetVideoAsync(id);
        Assert.Equal(_clock.UtcNow.UtcDateTime, seeded.StateChangedAt); // the ledger runs on the test clock
        var reconciler = Reconciler(rig);

        _clock.Advance(StaleAfter + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await reconciler.ReconcileOnceAsync(CancellationToken.None));

        Assert.True(await rig.Harness.Published.Any<VideoUploaded>(m => m.Context.Message.VideoId == id));
        var published = Assert.Single(rig.PublishedOf<VideoUploaded>(m => m.VideoId, id));
        Assert.Equal(id, published.Context.CorrelationId);
        Assert.Equal(PipelineRig.Tenant, published.Context.Message.TenantId);
        Assert.Equal(seeded.Sha256, published.Context.Message.Sha256);
        Assert.Equal(seeded.SizeBytes, published.Context.Message.SizeBytes);
        var video = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Uploaded, video.State);
        Assert.Equal(1, video.Attempts);
        Assert.Equal(_clock.UtcNow.UtcDateTime, video.StateChangedAt);

        // Re-driving restarts the stale clock: an immediate second pass leaves it alone.
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));
        Assert.Single(rig.PublishedOf<VideoUploaded>(m => m.VideoId, id));
        Assert.Equal(1, (await rig.GetVideoAsync(id)).Attempts);
    }

    [Fact]
    public async Task A_video_redriven_MaxAttempts_times_ends_Failed_by_the_reconciler()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        var reconciler = Reconciler(rig);

        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            _clock.Advance(StaleAfter + TimeSpan.FromSeconds(1));
            await reconciler.ReconcileOnceAsync(CancellationToken.None);
            var video = await rig.GetVideoAsync(id);
            Assert.Equal(VideoState.Uploaded, video.State);
            Assert.Equal(attempt, video.Attempts);
        }

        Assert.Equal(MaxAttempts, rig.PublishedOf<VideoUploaded>(m => m.VideoId, id).Count);

        _clock.Advance(StaleAfter + TimeSpan.FromSeconds(1));
        await reconciler.ReconcileOnceAsync(CancellationToken.None);

        var failed = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Failed, failed.State);
        Assert.Equal("reconcile", failed.FailedStage);
        Assert.Contains($"stuck in Uploaded after {MaxAttempts} re-drives", failed.FailureReason, StringComparison.Ordinal);
        Assert.Equal(VideoState.Failed, failed.Events.MaxBy(e => e.Id)!.State);
        Assert.Equal(MaxAttempts, rig.PublishedOf<VideoUploaded>(m => m.VideoId, id).Count); // no extra re-drive

        // A Failed video is terminal: later passes leave it alone.
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));
        Assert.Equal(MaxAttempts, rig.PublishedOf<VideoUploaded>(m => m.VideoId, id).Count);
    }

    [Fact]
    public async Task A_fresh_video_is_left_alone()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        var reconciler = Reconciler(rig);

        _clock.Advance(StaleAfter - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));

        Assert.Empty(rig.PublishedOf<VideoUploaded>(m => m.VideoId, id));
        var video = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Uploaded, video.State);
        Assert.Equal(0, video.Attempts);
        Assert.Single(video.Events);
    }

    [Fact]
    public async Task An_Indexed_video_is_left_alone()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var indexed = await rig.SeedVideoAsync();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<VideoLedger>().TryTransitionAsync(indexed, [VideoState.Uploaded], VideoState.Indexed));
        }

        var reconciler = Reconciler(rig);
        _clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(CancellationToken.None));

        Assert.Empty(rig.Harness.Published.Select<VideoUploaded>(new CancellationToken(true)));
        Assert.Empty(rig.Harness.Published.Select<FramesExtracted>(new CancellationToken(true)));
        var video = await rig.GetVideoAsync(indexed);
        Assert.Equal(VideoState.Indexed, video.State);
        Assert.Equal(0, video.Attempts);
        Assert.Null(video.FailedStage);
    }

    [Fact]
    public async Task A_video_stuck_in_Encoded_goes_back_to_Extracted_with_FramesExtracted_of_the_model_geometry()
    {
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            db.Segments.AddRange(Enumerable.Range(0, 2).Select(i => new Segment
            {
                VideoId = id,
                Index = i,
                StartSeconds = i,
                EndSeconds = i + 1,
                FramesKey = BlobKeys.Frames(id, i),
                ThumbnailKey = BlobKeys.Thumbnail(id, i),
            }));
            await db.SaveChangesAsync();
            Assert.True(await scope.ServiceProvider.GetRequiredService<VideoLedger>().TryTransitionAsync(id, [VideoState.Uploaded], VideoState.Encoded));
        }

        _clock.Advance(StaleAfter + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await Reconciler(rig).ReconcileOnceAsync(CancellationToken.None));

        Assert.True(await rig.Harness.Published.Any<FramesExtracted>(m => m.Context.Message.VideoId == id));
        var message = Assert.Single(rig.PublishedOf<FramesExtracted>(m => m.VideoId, id));
        Assert.Equal(id, message.Context.CorrelationId);
        Assert.Equal((2, PipelineRig.Frames, PipelineRig.Size), (message.Context.Message.SegmentCount, message.Context.Message.FramesPerSegment, message.Context.Message.FrameSize));
        Assert.Empty(rig.PublishedOf<VideoUploaded>(m => m.VideoId, id));
        var video = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Extracted, video.State); // the encoder only takes Extracted (or Encoding) videos
        Assert.Equal(1, video.Attempts);
        var reset = video.Events.MaxBy(e => e.Id)!;
        Assert.Equal((VideoState.Extracted, "re-driven by the reconciler: stuck in Encoded"), (reset.State, reset.Detail));
    }

    [Fact]
    public async Task A_video_that_keeps_getting_stuck_after_a_backward_reset_still_ends_Failed()
    {
        // Each re-drive of a video stuck in Indexing sends it back to Extracted; the stages then move it forward again
        // (as a worker that crashes on it every time would). The re-drive budget must not start over on the way.
        await using var rig = await PipelineRig.CreateAsync(consumers: false, clock: _clock);
        var id = await rig.SeedVideoAsync();
        var reconciler = Reconciler(rig);
        for (int pass = 1; pass <= MaxAttempts + 1; pass++)
        {
            await using (var scope = rig.Services.CreateAsyncScope())
            {
                var ledger = scope.ServiceProvider.GetRequiredService<VideoLedger>();
                await ledger.TryTransitionAsync(id, [VideoState.Uploaded, VideoState.Extracted], VideoState.Encoding);
                await ledger.TryTransitionAsync(id, [VideoState.Encoding], VideoState.Encoded);
                await ledger.TryTransitionAsync(id, [VideoState.Encoded], VideoState.Indexing);
            }

            _clock.Advance(StaleAfter + TimeSpan.FromSeconds(1));
            await reconciler.ReconcileOnceAsync(CancellationToken.None);
            if ((await rig.GetVideoAsync(id)).State == VideoState.Failed)
            {
                Assert.Equal(MaxAttempts + 1, pass);
                break;
            }
        }

        var video = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Failed, video.State);
        Assert.Contains($"after {MaxAttempts} re-drives", video.FailureReason, StringComparison.Ordinal);
        Assert.Equal(MaxAttempts, video.Events.Count(e => e.Detail == "re-driven by the reconciler: stuck in Indexing"));
    }
}
