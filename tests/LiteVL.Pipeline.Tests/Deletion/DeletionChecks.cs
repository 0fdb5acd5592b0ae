using System.Security.Claims;
using LiteVL.Contracts;
using LiteVL.Pipeline.Tests.Stages;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.UploadApi;
using LiteVL.VectorIndex;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using LiteVL.Videos;

namespace LiteVL.Pipeline.Tests.Deletion;

/// <summary>Deleting through the Upload API's service, and proving that nothing of a video is left.</summary>
internal static class DeletionChecks
{
    /// <summary>The Upload API's deletion service on the rig's container (the rig hosts the stages, not the API).</summary>
    public static async Task<DeleteVideoResult?> DeleteAsync(PipelineRig rig, Guid id, string tenant = PipelineRig.Tenant)
    {
        await using var scope = rig.Services.CreateAsyncScope();
        return await NewService(scope.ServiceProvider).DeleteAsync(tenant, id);
    }

    public static DeleteVideoService NewService(IServiceProvider scoped) =>
        new(
            scoped.GetRequiredService<LiteVLDbContext>(),
            scoped.GetRequiredService<LiteVL.Storage.Blobs.IBlobStore>(),
            scoped.GetRequiredService<IPublishEndpoint>(),
            scoped.GetRequiredService<TimeProvider>(),
            NullLogger<DeleteVideoService>.Instance);

    /// <summary>DELETE /v1/videos/{id} as the route handler answers it for a caller of <paramref name="tenant"/>.</summary>
    public static async Task<IResult> DeleteThroughEndpointAsync(PipelineRig rig, Guid id, string tenant)
    {
        await using var scope = rig.Services.CreateAsyncScope();
        var http = new DefaultHttpContext
        {
            RequestServices = scope.ServiceProvider,
            User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ApiKeyAuthenticationHandler.TenantClaim, tenant)], "ApiKey")),
        };
        var result = await VideoEndpoints.Delete(id, http, NewService(scope.ServiceProvider), CancellationToken.None);
        return result.Result;
    }

    public static async Task WaitForVideoDeletedConsumedAsync(PipelineRig rig, Guid id, int count = 1) =>
        await rig.WaitForConsumedAsync<VideoDeleted>(m => m.VideoId, id, count);

    /// <summary>Relative paths of every file under the blob root that belongs to the video.</summary>
    public static List<string> FilesOf(PipelineRig rig, Guid id) =>
        !Directory.Exists(rig.BlobRoot)
            ? []
            : [.. Directory.EnumerateFiles(rig.BlobRoot, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(rig.BlobRoot, f))
                .Where(f => f.Contains(id.ToString("N"), StringComparison.Ordinal))];

    /// <summary>Directories under the blob root named after the video (an empty directory is a leftover too).</summary>
    public static List<string> DirectoriesOf(PipelineRig rig, Guid id) =>
        !Directory.Exists(rig.BlobRoot)
            ? []
            : [.. Directory.EnumerateDirectories(rig.BlobRoot, "*", SearchOption.AllDirectories)
                .Where(d => Path.GetFileName(d) == id.ToString("N"))];

    public static async Task AssertNothingLeftAsync(PipelineRig rig, Guid id, string? modelVersion)
    {
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            Assert.Equal(0, await db.Videos.CountAsync(v => v.Id == id));
            Assert.Equal(0, await db.Segments.CountAsync(s => s.VideoId == id));
            Assert.Equal(0, await db.VideoEvents.CountAsync(e => e.VideoId == id));

            // The tombstone goes once the indexer has removed the points (it may still be handling VideoDeleted).
            for (var deadline = DateTime.UtcNow.AddSeconds(15); await db.DeletedVideos.AnyAsync(d => d.VideoId == id) && DateTime.UtcNow < deadline;)
            {
                await Task.Delay(50);
            }

            Assert.Equal(0, await db.DeletedVideos.CountAsync(d => d.VideoId == id));
        }

        Assert.Empty(FilesOf(rig, id));
        Assert.Empty(DirectoriesOf(rig, id));
        var index = rig.Services.GetRequiredService<IVectorIndex>();
        foreach (string version in new[] { modelVersion, await index.GetActiveVersionAsync() }.OfType<string>().Distinct())
        {
            try
            {
                Assert.Equal(0, await index.CountAsync(version, new VectorFilter(PipelineRig.Tenant) { VideoIds = [id] }));
            }
            catch (VectorCollectionNotFoundException)
            {
                // Never indexed anything under that version.
            }
        }
    }

    /// <summary>No consumer of any pipeline message faulted on the video.</summary>
    public static void AssertNoFaults(PipelineRig rig, Guid id)
    {
        var faults = rig.ConsumedOf<VideoUploaded>(m => m.VideoId, id).Where(m => m.Exception != null).Select(m => m.Exception!.ToString())
            .Concat(rig.ConsumedOf<FramesExtracted>(m => m.VideoId, id).Where(m => m.Exception != null).Select(m => m.Exception!.ToString()))
            .Concat(rig.ConsumedOf<SegmentsEncoded>(m => m.VideoId, id).Where(m => m.Exception != null).Select(m => m.Exception!.ToString()))
            .Concat(rig.ConsumedOf<VideoDeleted>(m => m.VideoId, id).Where(m => m.Exception != null).Select(m => m.Exception!.ToString()))
            .ToList();
        Assert.True(faults.Count == 0, string.Join("\n---\n", faults));
        Assert.Empty(rig.PublishedOf<Fault<VideoUploaded>>(m => m.Message.VideoId, id));
        Assert.Empty(rig.PublishedOf<Fault<SegmentsEncoded>>(m => m.Message.VideoId, id));
        Assert.Empty(rig.PublishedOf<Fault<VideoDeleted>>(m => m.Message.VideoId, id));
        Assert.Empty(rig.PublishedOf<VideoFailed>(m => m.VideoId, id));
    }
}
