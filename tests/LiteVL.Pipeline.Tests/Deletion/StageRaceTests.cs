using LiteVL.Contracts;
using LiteVL.Encoder;
using LiteVL.FrameExtractor;
using LiteVL.Media;
using LiteVL.Indexer;
using LiteVL.Pipeline.Tests.Stages;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline.Tests.Deletion;

/// <summary>
/// A video deleted while a stage works on it, at the worst moment of each stage (the stage's dependency is wrapped so
/// that the deletion happens in the middle of the stage's work): the stage returns "nothing to do" without throwing,
/// removes what it wrote after the deletion, and the other videos of the batch are unaffected.
/// </summary>
public sealed class StageRaceTests
{
    [Fact]
    public async Task Extraction_of_a_video_deleted_while_ffmpeg_runs_returns_nothing_and_removes_the_frames()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        var real = rig.Services.GetRequiredService<IMediaProcessor>();
        // The deletion (rows, original, media) happens first; ffmpeg then writes the frames of a video that is gone.
        var media = new DeletingMedia(real, () => DeletionChecks.DeleteAsync(rig, id), rig.ClipPath);
        object? outcome;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var extraction = ActivatorUtilities.CreateInstance<FrameExtraction>(scope.ServiceProvider, media);
            outcome = (await extraction.ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message;
        }

        Assert.True(media.Extracted);
        Assert.Null(outcome);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        await DeletionChecks.AssertNothingLeftAsync(rig, id, null);
    }

    [Theory]
    [InlineData(1)] // deleted before its frames are read: its frames are missing
    [InlineData(6)] // deleted after every frame was read: its tokens are written, its segment rows are gone at save time
    public async Task Encoding_a_batch_with_a_video_deleted_mid_batch_encodes_the_others_and_removes_the_tokens(int deleteAtRead)
    {
        await using var rig = await PipelineRig.CreateAsync();
        var doomed = await rig.SeedVideoAsync();
        var kept = await rig.SeedVideoAsync();
        var extracted = new List<FramesExtracted>();
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            foreach (var id in new[] { doomed, kept })
            {
                extracted.Add(Assert.IsType<FramesExtracted>((await scope.ServiceProvider.GetRequiredService<FrameExtraction>().ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message));
            }
        }

        var blobs = new DeletingBlobStore(rig.Services.GetRequiredService<IBlobStore>(), deleteAtRead, () => DeletionChecks.DeleteAsync(rig, doomed));
        EncodeOutcome outcome;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var encoder = ActivatorUtilities.CreateInstance<SegmentEncoder>(scope.ServiceProvider, blobs);
            outcome = await encoder.EncodeAsync(extracted, CancellationToken.None);
        }

        Assert.True(blobs.Deleted);
        Assert.Empty(outcome.Failed);
        var encoded = Assert.Single(outcome.Encoded);
        Assert.Equal(kept, encoded.VideoId);
        Assert.Equal(3, encoded.Segments.Count);
        var video = await rig.GetVideoAsync(kept);
        Assert.Equal(VideoState.Encoded, video.State);
        Assert.All(video.Segments, s => Assert.NotNull(s.TokensKey));
        Assert.Equal(3, rig.CountFiles(BlobKeys.FeaturesPrefix(kept)));
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, doomed);
        await DeletionChecks.AssertNothingLeftAsync(rig, doomed, null);
    }

    [Fact]
    public async Task Indexing_a_video_deleted_while_its_points_are_written_removes_the_points_again()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        SegmentsEncoded encoded;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var extracted = Assert.IsType<FramesExtracted>((await scope.ServiceProvider.GetRequiredService<FrameExtraction>().ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message);
            encoded = Assert.Single((await scope.ServiceProvider.GetRequiredService<SegmentEncoder>().EncodeAsync([extracted], CancellationToken.None)).Encoded);
        }

        // The deletion and its VideoDeleted are handled completely before the indexer upserts: the consumer removed
        // nothing, so the indexer itself must remove the points it writes for a video that is gone.
        var index = new DeletingIndex(rig.Services.GetRequiredService<IVectorIndex>(), async () =>
        {
            await DeletionChecks.DeleteAsync(rig, id);
            await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        });
        VideoIndexed? indexed;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var indexer = ActivatorUtilities.CreateInstance<SegmentIndexer>(scope.ServiceProvider, index);
            indexed = await indexer.IndexAsync(encoded, CancellationToken.None);
        }

        Assert.True(index.Deleted);
        Assert.Equal(3, index.Upserted);
        Assert.Null(indexed);
        Assert.Equal(0, await rig.CountPointsAsync(id, encoded.ModelVersion));
        await DeletionChecks.AssertNothingLeftAsync(rig, id, encoded.ModelVersion);
    }

    [Fact]
    public async Task A_video_deleted_in_Encoded_ignores_its_SegmentsEncoded_on_the_bus()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        SegmentsEncoded encoded;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var extracted = Assert.IsType<FramesExtracted>((await scope.ServiceProvider.GetRequiredService<FrameExtraction>().ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message);
            encoded = Assert.Single((await scope.ServiceProvider.GetRequiredService<SegmentEncoder>().EncodeAsync([extracted], CancellationToken.None)).Encoded);
        }

        var deleted = await DeletionChecks.DeleteAsync(rig, id);
        Assert.Equal(encoded.ModelVersion, deleted!.ModelVersion); // known from the segments before the indexer ran
        await rig.Harness.Bus.Publish(encoded);
        await rig.WaitForConsumedAsync<SegmentsEncoded>(m => m.VideoId, id, 1);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        Assert.Empty(rig.PublishedOf<VideoIndexed>(m => m.VideoId, id));
        await DeletionChecks.AssertNothingLeftAsync(rig, id, encoded.ModelVersion);
        DeletionChecks.AssertNoFaults(rig, id);
    }

    /// <summary>Deletes the video, then extracts from a copy of its original (the real one is gone with it).</summary>
    private sealed class DeletingMedia(IMediaProcessor inner, Func<Task> delete, string copyOfOriginal) : IMediaProcessor
    {
        public bool Extracted { get; private set; }

        public Task<MediaToolVersions> CheckToolsAsync(CancellationToken cancellationToken = default) => inner.CheckToolsAsync(cancellationToken);

        public Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken = default) => inner.ProbeAsync(path, cancellationToken);

        public async Task<ExtractionResult> ExtractAsync(string path, ExtractionRequest request, CancellationToken cancellationToken = default)
        {
            await delete();
            var result = await inner.ExtractAsync(copyOfOriginal, request, cancellationToken);
            Extracted = true;
            return result;
        }

        public Task ThumbnailAsync(string path, TimeSpan at, string outputPath, CancellationToken cancellationToken = default) =>
            inner.ThumbnailAsync(path, at, outputPath, cancellationToken);
    }

    /// <summary>Deletes the video right after the n-th frame file was opened.</summary>
    private sealed class DeletingBlobStore(IBlobStore inner, int deleteAtRead, Func<Task> delete) : IBlobStore
    {
        private int _reads;

        public bool Deleted { get; private set; }

        public Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken ct = default) => inner.WriteAsync(key, write, ct);

        public PendingBlob BeginWrite(string key) => inner.BeginWrite(key);

        public Stream OpenRead(string key)
        {
            if (++_reads == deleteAtRead && deleteAtRead == 1)
            {
                Delete();
            }

            var stream = inner.OpenRead(key);
            if (_reads == deleteAtRead && deleteAtRead != 1)
            {
                Delete(); // the open stream still reads on Linux
            }

            return stream;
        }

        public bool Exists(string key) => inner.Exists(key);

        public long Length(string key) => inner.Length(key);

        public string LocalPath(string key) => inner.LocalPath(key);

        public int Delete(string keyOrPrefix) => inner.Delete(keyOrPrefix);

        private void Delete()
        {
            Task.Run(delete).GetAwaiter().GetResult();
            Deleted = true;
        }
    }

    /// <summary>Deletes the video when the indexer ensures its collection (after it claimed and loaded the video).</summary>
    private sealed class DeletingIndex(IVectorIndex inner, Func<Task> delete) : IVectorIndex
    {
        public bool Deleted { get; private set; }

        public int Upserted { get; private set; }

        public async Task EnsureCollectionAsync(string modelVersion, int dimensions, CancellationToken ct = default)
        {
            await inner.EnsureCollectionAsync(modelVersion, dimensions, ct);
            if (!Deleted)
            {
                await delete();
                Deleted = true;
            }
        }

        public Task ActivateAsync(string modelVersion, CancellationToken ct = default) => inner.ActivateAsync(modelVersion, ct);

        public Task<string?> GetActiveVersionAsync(CancellationToken ct = default) => inner.GetActiveVersionAsync(ct);

        public async Task UpsertAsync(string modelVersion, IReadOnlyList<VectorPoint> points, CancellationToken ct = default)
        {
            await inner.UpsertAsync(modelVersion, points, ct);
            Upserted += points.Count;
        }

        public Task<IReadOnlyList<VectorHit>> SearchAsync(string modelVersion, ReadOnlyMemory<float> query, int limit, VectorFilter filter, CancellationToken ct = default) =>
            inner.SearchAsync(modelVersion, query, limit, filter, ct);

        public Task<int> DeleteVideoAsync(string modelVersion, Guid videoId, CancellationToken ct = default) => inner.DeleteVideoAsync(modelVersion, videoId, ct);

        public Task<long> CountAsync(string modelVersion, VectorFilter? filter = null, CancellationToken ct = default) => inner.CountAsync(modelVersion, filter, ct);
    }
}
