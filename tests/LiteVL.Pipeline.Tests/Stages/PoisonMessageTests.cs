using LiteVL.Contracts;
using LiteVL.Encoder;
using LiteVL.FrameExtractor;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline.Tests.Stages;

/// <summary>A message a stage fails on through every retry ends the video Failed with the reason, not stuck forever.</summary>
public sealed class PoisonMessageTests
{
    [Fact]
    public async Task SegmentsEncoded_ThatAlwaysFails_EndsTheVideoFailedAfterRetries()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var ledger = scope.ServiceProvider.GetRequiredService<VideoLedger>();
            Assert.True(await ledger.TryTransitionAsync(id, [VideoState.Uploaded], VideoState.Encoded));
        }

        // Segment 7 does not exist: the indexer throws on every delivery (a poison message).
        await rig.Harness.Bus.Publish(new SegmentsEncoded
        {
            VideoId = id,
            TenantId = (await rig.GetVideoAsync(id)).TenantId,
            ModelVersion = "poison-test",
            Segments = [new EncodedSegment { Index = 7, Embedding = new float[256] }],
        });

        var video = await rig.WaitForTerminalAsync(id, seconds: 60);
        Assert.Equal(VideoState.Failed, video.State);
        Assert.Equal("index", video.FailedStage);
        Assert.Contains("kept failing", video.FailureReason, StringComparison.Ordinal);
        Assert.Contains("no segment 7", video.FailureReason, StringComparison.Ordinal);
        Assert.True(await rig.Harness.Published.Any<Fault<SegmentsEncoded>>());
        Assert.True(await rig.WaitForPublishedAsync<VideoFailed>(x => x.VideoId == id && x.Stage == "index"));
    }

    [Fact]
    public async Task FramesExtracted_the_encoder_always_fails_on_ends_only_that_video_Failed_and_its_batch_mates_Indexed()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var (ids, events) = await rig.SeedExtractedAsync(3);

        // The poison: a plain file where the middle video's feature directory must go, so writing its tokens throws
        // an IOException on every delivery, while its batch mates are fine.
        var poison = ids[1];
        string blocker = Path.Combine(rig.BlobRoot, BlobKeys.FeaturesPrefix(poison).TrimEnd('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(blocker)!);
        await File.WriteAllTextAsync(blocker, "not a directory");
        await rig.Harness.Bus.PublishBatch(events);

        var failed = await rig.WaitForTerminalAsync(poison, seconds: 60);
        Assert.Equal(VideoState.Failed, failed.State);
        Assert.Equal("encode", failed.FailedStage);
        Assert.Contains("kept failing", failed.FailureReason, StringComparison.Ordinal);
        Assert.Contains("DirectoryNotFoundException", failed.FailureReason, StringComparison.Ordinal);
        Assert.Single(rig.PublishedOf<VideoFailed>(m => m.VideoId, poison));
        Assert.True(await rig.Harness.Published.Any<Fault<FramesExtracted>>(f => f.Context.Message.Message.VideoId == poison));

        foreach (var good in ids.Where(i => i != poison))
        {
            var video = await rig.WaitForTerminalAsync(good, seconds: 60);
            Assert.True(video.State == VideoState.Indexed, $"a batch mate of the poison ended {video.State}: {video.FailureReason}");
            Assert.Single(video.Events, e => e.State == VideoState.Encoded);
            Assert.Equal(3, await rig.CountPointsAsync(good, video.ModelVersion!));
            Assert.Empty(rig.PublishedOf<VideoFailed>(m => m.VideoId, good));
        }

        // The three arrived as one batch (otherwise this test would not exercise a shared batch).
        var consumer = rig.Harness.GetConsumerHarness<FramesExtractedConsumer>();
        var batches = consumer.Consumed.Select<Batch<FramesExtracted>>(new CancellationToken(true)).Select(b => b.Context.Message).ToList();
        Assert.Contains(batches, b => b.Select(m => m.Message.VideoId).Distinct().Count() > 1);
    }
}
