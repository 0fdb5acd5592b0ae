using LiteVL.Contracts;
using LiteVL.Encoder;
using LiteVL.FrameExtractor;
using LiteVL.Media;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline.Tests.Stages;

/// <summary>The extractor, encoder and indexer consumers on the in-memory test harness with real services.</summary>
public sealed class StageConsumerTests
{
    private static readonly VideoState[] FullTimeline =
        [VideoState.Uploaded, VideoState.Extracting, VideoState.Extracted, VideoState.Encoding, VideoState.Encoded, VideoState.Indexing, VideoState.Indexed];

    [Fact]
    public async Task VideoUploaded_drives_the_video_to_Indexed_with_the_video_id_as_correlation_id()
    {
        await using var rig = await PipelineRig.CreateAsync();
        await AssertDrivesToIndexedAsync(rig);
    }

    [SkippableFact]
    public async Task VideoUploaded_drives_the_video_to_Indexed_on_PostgreSQL()
    {
        await using var rig = await PipelineRig.CreateAsync(DatabaseProvider.Postgres);
        await AssertDrivesToIndexedAsync(rig);
    }

    internal static async Task<Guid> AssertDrivesToIndexedAsync(PipelineRig rig)
    {
        var id = await rig.SeedVideoAsync();
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));

        var video = await rig.WaitForTerminalAsync(id);
        Assert.True(video.State == VideoState.Indexed, $"ended {video.State}: {video.FailedStage} {video.FailureReason}");
        Assert.Equal(FullTimeline, video.Events.OrderBy(e => e.At).ThenBy(e => e.Id).Select(e => e.State));

        // Every stage's event was published and consumed once, each carrying the video id as correlation id.
        // The state is written before the event is published: wait for the last publish and the last consume.
        Assert.True(await rig.WaitForPublishedAsync<VideoIndexed>(m => m.VideoId == id));
        Assert.True(await rig.Harness.Consumed.Any<SegmentsEncoded>(m => m.Context.Message.VideoId == id));
        AssertOnePublished<FramesExtracted>(rig, m => m.VideoId, id);
        AssertOnePublished<SegmentsEncoded>(rig, m => m.VideoId, id);
        AssertOnePublished<VideoIndexed>(rig, m => m.VideoId, id);
        Assert.Empty(rig.PublishedOf<VideoFailed>(m => m.VideoId, id));
        AssertOneConsumed<VideoUploaded>(rig, m => m.VideoId, id);
        AssertOneConsumed<FramesExtracted>(rig, m => m.VideoId, id);
        AssertOneConsumed<SegmentsEncoded>(rig, m => m.VideoId, id);

        // The segments, their files and their vectors are all there.
        int segments = video.Segments.Count;
        Assert.Equal(3, segments); // 3 s clip, 1 s windows
        Assert.Equal(segments, video.SegmentCount);
        Assert.Equal([0, 1, 2], video.Segments.OrderBy(s => s.Index).Select(s => s.Index));
        Assert.NotNull(video.ModelVersion);
        var blobs = rig.Services.GetRequiredService<IBlobStore>();
        foreach (var s in video.Segments)
        {
            Assert.Equal(PipelineRig.Frames, s.FrameTimes.Count);
            Assert.Equal(video.ModelVersion, s.ModelVersion);
            Assert.Equal(BlobKeys.Tokens(id, video.ModelVersion, s.Index), s.TokensKey);
            Assert.True(blobs.Exists(s.FramesKey) && blobs.Exists(s.ThumbnailKey) && blobs.Exists(s.TokensKey!), $"segment {s.Index} misses a file");
            Assert.Equal(PipelineRig.Frames * PipelineRig.Size * PipelineRig.Size * 3, blobs.Length(s.FramesKey));
        }

        var encoded = Assert.Single(rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id)).Context.Message;
        Assert.Equal(segments, encoded.Segments.Count);
        Assert.All(encoded.Segments, e => Assert.Equal(256, e.Embedding.Length));
        var indexed = Assert.Single(rig.PublishedOf<VideoIndexed>(m => m.VideoId, id)).Context.Message;
        Assert.Equal(segments, indexed.SegmentCount);
        Assert.Equal(video.ModelVersion, indexed.ModelVersion);
        Assert.Equal(segments, await rig.CountPointsAsync(id, video.ModelVersion));
        return id;
    }

    [Fact]
    public async Task Redelivering_every_stage_message_after_Indexed_changes_nothing()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        var video = await rig.WaitForTerminalAsync(id);
        Assert.Equal(VideoState.Indexed, video.State);
        Assert.True(await rig.WaitForPublishedAsync<VideoIndexed>(m => m.VideoId == id));
        Assert.True(await rig.Harness.Consumed.Any<SegmentsEncoded>(m => m.Context.Message.VideoId == id));
        string version = video.ModelVersion!;

        string media = BlobKeys.MediaPrefix(id);
        string features = BlobKeys.FeaturesPrefix(id);
        int mediaFiles = rig.CountFiles(media);
        int featureFiles = rig.CountFiles(features);
        int rows = await rig.SegmentRowsAsync(id);
        int events = await rig.EventCountAsync(id);
        long points = await rig.CountPointsAsync(id, version);
        Assert.True(mediaFiles >= 6 && featureFiles >= 3, $"{mediaFiles} media files, {featureFiles} feature files");
        Assert.Equal(3, rows);
        Assert.Equal(3, points);
        var extracted = Assert.Single(rig.PublishedOf<FramesExtracted>(m => m.VideoId, id)).Context.Message;
        var encoded = Assert.Single(rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id)).Context.Message;
        int publishedBefore = rig.Harness.Published.Select<object>(new CancellationToken(true)).Count();

        // The same three messages again (a broker re-delivering after a lost ack).
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        await rig.Harness.Bus.Publish(extracted);
        await rig.Harness.Bus.Publish(encoded);
        await rig.WaitForConsumedAsync<VideoUploaded>(m => m.VideoId, id, 2);
        await rig.WaitForConsumedAsync<FramesExtracted>(m => m.VideoId, id, 2);
        await rig.WaitForConsumedAsync<SegmentsEncoded>(m => m.VideoId, id, 2);
        await Task.Delay(300); // anything a duplicate wrongly published would be consumed by now

        Assert.All(rig.Harness.Consumed.Select(_ => true, new CancellationToken(true)), m => Assert.Null(m.Exception));
        var after = await rig.GetVideoAsync(id);
        Assert.Equal(VideoState.Indexed, after.State);
        Assert.Equal(rows, await rig.SegmentRowsAsync(id));
        Assert.Equal(mediaFiles, rig.CountFiles(media));
        Assert.Equal(featureFiles, rig.CountFiles(features));
        Assert.Equal(points, await rig.CountPointsAsync(id, version));
        Assert.Equal(events, await rig.EventCountAsync(id));
        // The 3 re-published messages are the only new publishes: no stage published a second event.
        Assert.Equal(publishedBefore + 3, rig.Harness.Published.Select<object>(new CancellationToken(true)).Count());
        Assert.Single(rig.PublishedOf<VideoIndexed>(m => m.VideoId, id));
    }

    [Fact]
    public async Task VideoUploaded_redelivered_to_a_video_left_in_Extracting_completes_with_one_set_of_segments()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        // A worker took the message, moved the video to Extracting and crashed.
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<VideoLedger>().TryTransitionAsync(id, [VideoState.Uploaded], VideoState.Extracting));
        }

        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        var video = await rig.WaitForTerminalAsync(id);

        Assert.True(video.State == VideoState.Indexed, $"ended {video.State}: {video.FailedStage} {video.FailureReason}");
        Assert.Equal(3, video.Segments.Count);
        Assert.Equal(3, await rig.SegmentRowsAsync(id));
        Assert.Equal(3, video.SegmentCount);
        Assert.Equal(3, await rig.CountPointsAsync(id, video.ModelVersion!));
        Assert.Equal(3 * 2, rig.CountFiles(BlobKeys.MediaPrefix(id))); // frames + thumbnail per segment, no leftovers
        Assert.Equal(3, rig.CountFiles(BlobKeys.FeaturesPrefix(id)));
        Assert.Single(rig.PublishedOf<VideoIndexed>(m => m.VideoId, id));
    }

    [Fact]
    public async Task VideoUploaded_redelivered_after_a_crash_that_left_segment_rows_replaces_them()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        // The previous worker got as far as writing segment rows (here 4, one more than the clip has now) and crashed.
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<VideoLedger>().TryTransitionAsync(id, [VideoState.Uploaded], VideoState.Extracting));
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            db.Segments.AddRange(Enumerable.Range(0, 4).Select(i => new Segment
            {
                VideoId = id,
                Index = i,
                StartSeconds = i * 0.75,
                EndSeconds = (i + 1) * 0.75,
                FramesKey = BlobKeys.Frames(id, i),
                ThumbnailKey = BlobKeys.Thumbnail(id, i),
            }));
            await db.SaveChangesAsync();
        }

        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        var video = await rig.WaitForTerminalAsync(id);

        Assert.True(video.State == VideoState.Indexed, $"ended {video.State}: {video.FailedStage} {video.FailureReason}");
        Assert.Equal([0, 1, 2], video.Segments.Select(s => s.Index).Order());
        Assert.All(video.Segments, s => Assert.Equal(PipelineRig.Frames, s.FrameTimes.Count));
        Assert.Equal(3, video.SegmentCount);
        Assert.Equal(3, await rig.CountPointsAsync(id, video.ModelVersion!));
    }

    [Fact]
    public async Task An_audio_only_file_fails_extraction_and_leaves_the_good_videos_alone()
    {
        await using var rig = await PipelineRig.CreateAsync();
        string audio = Path.Combine(rig.Root, "audio.mp4");
        using (var clips = new SampleClips())
        {
            await clips.MakeAudioOnlyAsync(audio);
        }

        var good1 = await rig.SeedVideoAsync();
        var bad = await rig.SeedVideoAsync(audio);
        var good2 = await rig.SeedVideoAsync();
        await rig.Harness.Bus.PublishBatch([PipelineRig.Uploaded(good1), PipelineRig.Uploaded(bad), PipelineRig.Uploaded(good2)]);

        var failed = await rig.WaitForTerminalAsync(bad);
        Assert.Equal(VideoState.Failed, failed.State);
        Assert.Equal(FrameExtraction.Stage, failed.FailedStage);
        Assert.Equal("extract", failed.FailedStage);
        Assert.Contains("video stream", failed.FailureReason, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(failed.Segments);
        Assert.True(VideoState.Failed == failed.Events.OrderBy(e => e.Id).Last().State, string.Join(", ", failed.Events.OrderBy(e => e.Id).Select(e => $"{e.Id}:{e.State}@{e.At:O} {e.Detail}")));

        Assert.True(await rig.WaitForPublishedAsync<VideoFailed>(m => m.VideoId == bad));
        var message = Assert.Single(rig.PublishedOf<VideoFailed>(m => m.VideoId, bad));
        Assert.Equal("extract", message.Context.Message.Stage);
        Assert.Equal(PipelineRig.Tenant, message.Context.Message.TenantId);
        Assert.Contains("video stream", message.Context.Message.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(bad, message.Context.CorrelationId);
        Assert.Empty(rig.PublishedOf<FramesExtracted>(m => m.VideoId, bad));

        foreach (var good in new[] { good1, good2 })
        {
            var video = await rig.WaitForTerminalAsync(good);
            Assert.True(video.State == VideoState.Indexed, $"{good} ended {video.State}: {video.FailureReason}");
            Assert.Equal(3, video.Segments.Count);
            Assert.Empty(rig.PublishedOf<VideoFailed>(m => m.VideoId, good));
        }
    }

    [Fact]
    public async Task The_encoder_takes_FramesExtracted_of_several_videos_together()
    {
        // Extraction runs directly (not through the bus) so the three events can be published at once.
        await using var rig = await PipelineRig.CreateAsync();
        var (ids, events) = await rig.SeedExtractedAsync(3);

        Assert.All(events, e => Assert.Equal((3, PipelineRig.Frames, PipelineRig.Size), (e.SegmentCount, e.FramesPerSegment, e.FrameSize)));
        await rig.Harness.Bus.PublishBatch(events);

        foreach (var id in ids)
        {
            var video = await rig.WaitForTerminalAsync(id);
            Assert.True(video.State == VideoState.Indexed, $"{id} ended {video.State}: {video.FailureReason}");
            Assert.Contains(video.Events, e => e.State == VideoState.Encoded);
            Assert.All(video.Segments, s => Assert.NotNull(s.TokensKey));
            var encoded = Assert.Single(rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id));
            Assert.Equal(id, encoded.Context.CorrelationId);
            Assert.Equal([0, 1, 2], encoded.Context.Message.Segments.Select(s => s.Index).Order());
            Assert.Equal(3, await rig.CountPointsAsync(id, video.ModelVersion!));
        }

        // The three messages reached the consumer in batches (with a 200 ms window they arrive as one).
        var consumer = rig.Harness.GetConsumerHarness<FramesExtractedConsumer>();
        Assert.True(await consumer.Consumed.Any<Batch<FramesExtracted>>());
        var batches = consumer.Consumed
            .Select<Batch<FramesExtracted>>(new CancellationToken(true)).Select(b => b.Context.Message).ToList();
        Assert.Equal(ids.Order(), batches.SelectMany(b => b.Select(m => m.Message.VideoId)).Order());
        Assert.Contains(batches, b => b.Length > 1);
    }

    [Fact]
    public async Task FramesExtracted_with_the_wrong_frame_size_fails_the_video_naming_T_and_S()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            Assert.IsType<FramesExtracted>((await scope.ServiceProvider.GetRequiredService<FrameExtraction>().ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message);
        }

        await rig.Harness.Bus.Publish(new FramesExtracted { VideoId = id, TenantId = PipelineRig.Tenant, SegmentCount = 3, FramesPerSegment = PipelineRig.Frames, FrameSize = 32 });
        var video = await rig.WaitForTerminalAsync(id);

        Assert.Equal(VideoState.Failed, video.State);
        Assert.Equal(SegmentEncoder.Stage, video.FailedStage);
        Assert.Contains("T=8, S=32", video.FailureReason, StringComparison.Ordinal);
        Assert.Contains("T=8, S=64", video.FailureReason, StringComparison.Ordinal);
        Assert.True(await rig.WaitForPublishedAsync<VideoFailed>(m => m.VideoId == id));
        var failed = Assert.Single(rig.PublishedOf<VideoFailed>(m => m.VideoId, id)).Context.Message;
        Assert.Equal("encode", failed.Stage);
        Assert.Empty(rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id));
        Assert.All(video.Segments, s => Assert.Null(s.TokensKey));
        Assert.Equal(0, rig.CountFiles(BlobKeys.FeaturesPrefix(id)));
    }

    private static void AssertOnePublished<T>(PipelineRig rig, Func<T, Guid> videoId, Guid id)
        where T : class
    {
        var message = Assert.Single(rig.PublishedOf(videoId, id));
        Assert.Equal(id, message.Context.CorrelationId);
    }

    private static void AssertOneConsumed<T>(PipelineRig rig, Func<T, Guid> videoId, Guid id)
        where T : class
    {
        var message = Assert.Single(rig.ConsumedOf(videoId, id));
        Assert.Null(message.Exception);
        Assert.Equal(id, message.Context.CorrelationId);
    }
}
