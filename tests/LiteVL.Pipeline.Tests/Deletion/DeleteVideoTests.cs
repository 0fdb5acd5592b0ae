using LiteVL.Contracts;
using LiteVL.Pipeline.Tests.Stages;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline.Tests.Deletion;

/// <summary>DELETE /v1/videos/{id} on a real container: rows, files and vector points all go, other videos stay.</summary>
public sealed class DeleteVideoTests
{
    [Fact]
    public async Task Deleting_an_indexed_video_removes_rows_files_and_points_and_leaves_other_videos_alone()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var doomed = await rig.SeedVideoAsync();
        var kept = await rig.SeedVideoAsync();
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(doomed));
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(kept));
        var video = await rig.WaitForTerminalAsync(doomed);
        var other = await rig.WaitForTerminalAsync(kept);
        Assert.Equal(VideoState.Indexed, video.State);
        Assert.Equal(VideoState.Indexed, other.State);
        string version = video.ModelVersion!;
        Assert.Equal(3, await rig.CountPointsAsync(doomed, version));
        Assert.True(File.Exists(Path.Combine(rig.BlobRoot, BlobKeys.Original(PipelineRig.Tenant, doomed))));
        Assert.True(rig.CountFiles(BlobKeys.MediaPrefix(doomed)) >= 6); // frames + thumbnails
        Assert.Equal(3, rig.CountFiles(BlobKeys.FeaturesPrefix(doomed)));
        var otherFiles = DeletionChecks.FilesOf(rig, kept).Order().ToList();
        Assert.Equal(1 + rig.CountFiles(BlobKeys.MediaPrefix(kept)) + rig.CountFiles(BlobKeys.FeaturesPrefix(kept)), otherFiles.Count);

        // Another tenant's caller gets a 404 ProblemDetails and nothing moves.
        var foreign = await DeletionChecks.DeleteThroughEndpointAsync(rig, doomed, "someone-else");
        var problem = Assert.IsType<ProblemHttpResult>(foreign);
        Assert.Equal(StatusCodes.Status404NotFound, problem.StatusCode);
        Assert.Equal(3, await rig.CountPointsAsync(doomed, version));
        Assert.NotEmpty(DeletionChecks.FilesOf(rig, doomed));

        // The owner's DELETE answers 204.
        Assert.IsType<NoContent>(await DeletionChecks.DeleteThroughEndpointAsync(rig, doomed, PipelineRig.Tenant));
        var published = Assert.Single(rig.PublishedOf<VideoDeleted>(m => m.VideoId, doomed)).Context;
        Assert.Equal(doomed, published.CorrelationId);
        Assert.Equal(version, published.Message.ModelVersion);
        Assert.Equal(PipelineRig.Tenant, published.Message.TenantId);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, doomed);
        await DeletionChecks.AssertNothingLeftAsync(rig, doomed, version);

        // The other video is untouched: its row, every file and every point.
        Assert.Equal(VideoState.Indexed, (await rig.GetVideoAsync(kept)).State);
        Assert.Equal(otherFiles, DeletionChecks.FilesOf(rig, kept).Order().ToList());
        Assert.Equal(3, await rig.CountPointsAsync(kept, version));

        // A second DELETE is a 404; a re-delivered VideoDeleted is harmless.
        var again = Assert.IsType<ProblemHttpResult>(await DeletionChecks.DeleteThroughEndpointAsync(rig, doomed, PipelineRig.Tenant));
        Assert.Equal(StatusCodes.Status404NotFound, again.StatusCode);
        Assert.Null(await DeletionChecks.DeleteAsync(rig, doomed));
        await rig.Harness.Bus.Publish(published.Message);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, doomed, 2);
        DeletionChecks.AssertNoFaults(rig, doomed);
        Assert.Equal(3, await rig.CountPointsAsync(kept, version));
        Assert.Equal(3, await rig.Services.GetRequiredService<IVectorIndex>().CountAsync(version));
    }

    [Fact]
    public async Task A_video_deleted_right_after_upload_leaves_nothing_behind_and_faults_no_consumer()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        await rig.Harness.Bus.Publish(PipelineRig.Uploaded(id));
        // Wait until the extractor has claimed it (ffmpeg is running or about to), then delete: the race this test is
        // about. Not claimed within 30 s, or already past extraction, is a failure, not a test of something else.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var state = (await rig.GetVideoAsync(id)).State;
        while (state == VideoState.Uploaded)
        {
            Assert.True(DateTime.UtcNow < deadline, "the frame extractor did not claim the video within 30 s");
            await Task.Delay(5);
            state = (await rig.GetVideoAsync(id)).State;
        }

        Assert.True(state == VideoState.Extracting, $"the video was {state} when it was deleted, not Extracting: the race was missed");
        var deleted = await DeletionChecks.DeleteAsync(rig, id);
        Assert.NotNull(deleted);
        await WaitForPipelineToSettleAsync(rig, id);
        // The deletion landed while the extractor was working: it noticed and published nothing for the video.
        Assert.Empty(rig.PublishedOf<FramesExtracted>(m => m.VideoId, id));
        await DeletionChecks.AssertNothingLeftAsync(rig, id, deleted.ModelVersion);
        DeletionChecks.AssertNoFaults(rig, id);
    }

    [Fact]
    public async Task A_video_deleted_in_Extracted_ignores_its_FramesExtracted_and_leaves_nothing_behind()
    {
        await using var rig = await PipelineRig.CreateAsync();
        var id = await rig.SeedVideoAsync();
        FramesExtracted extracted;
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            extracted = Assert.IsType<FramesExtracted>((await scope.ServiceProvider.GetRequiredService<LiteVL.FrameExtractor.FrameExtraction>().ExtractAsync(PipelineRig.Uploaded(id), CancellationToken.None)).Message);
        }

        Assert.Equal(VideoState.Extracted, (await rig.GetVideoAsync(id)).State);
        Assert.NotNull(await DeletionChecks.DeleteAsync(rig, id));
        await rig.Harness.Bus.Publish(extracted);
        await rig.WaitForConsumedAsync<FramesExtracted>(m => m.VideoId, id, 1);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        Assert.Empty(rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id));
        await DeletionChecks.AssertNothingLeftAsync(rig, id, null);
        DeletionChecks.AssertNoFaults(rig, id);
    }

    /// <summary>Waits until every message the video's pipeline published has been consumed, and its VideoDeleted too.</summary>
    private static async Task WaitForPipelineToSettleAsync(PipelineRig rig, Guid id)
    {
        await rig.WaitForConsumedAsync<VideoUploaded>(m => m.VideoId, id, 1);
        await DeletionChecks.WaitForVideoDeletedConsumedAsync(rig, id);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            bool settled = rig.ConsumedOf<FramesExtracted>(m => m.VideoId, id).Count >= rig.PublishedOf<FramesExtracted>(m => m.VideoId, id).Count
                && rig.ConsumedOf<SegmentsEncoded>(m => m.VideoId, id).Count >= rig.PublishedOf<SegmentsEncoded>(m => m.VideoId, id).Count;
            if (settled)
            {
                await Task.Delay(200); // a consumer's last statements run after the consume is recorded
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"The pipeline of {id} did not settle.");
    }
}
