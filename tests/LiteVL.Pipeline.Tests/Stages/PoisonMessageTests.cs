using LiteVL.Contracts;
using LiteVL.Storage;
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
        Assert.True(await rig.Harness.Published.Any<VideoFailed>(x => x.Context.Message.VideoId == id && x.Context.Message.Stage == "index"));
    }
}
