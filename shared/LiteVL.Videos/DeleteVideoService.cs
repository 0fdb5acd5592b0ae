using LiteVL.Contracts;
using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace LiteVL.Videos;

/// <summary>What a deletion removed.</summary>
public sealed record DeleteVideoResult(Guid VideoId, string TenantId, string? ModelVersion, int FilesDeleted);

/// <summary>
/// Deletes a video of a tenant: its rows (video, segments, timeline) first, so every pipeline stage from then on finds
/// nothing to do; then its files (original, frames and thumbnails, feature tensors); then publishes
/// <see cref="VideoDeleted"/> for the indexer, which owns the vector index, to remove the points. A tombstone
/// (<see cref="DeletedVideo"/>), written with the row deletion, stays until the indexer has removed them, so a
/// VideoDeleted lost to a broker outage is re-published by the reconciler. A stage that was
/// working on the video when it went cleans up what it wrote itself; files that could not be removed (held open, a
/// stage still writing) are collected later by the orphan sweeper. The Upload API deletes a tenant's own video, the
/// dashboard any tenant's.
/// </summary>
public sealed partial class DeleteVideoService(LiteVLDbContext db, IBlobStore blobs, IPublishEndpoint publish, TimeProvider clock, ILogger<DeleteVideoService> logger)
{
    /// <summary>Deletes the video; <c>null</c> when the tenant has no such video (another tenant's video included).</summary>
    public async Task<DeleteVideoResult?> DeleteAsync(string tenantId, Guid videoId, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        var video = await db.Videos.AsNoTracking()
            .Where(v => v.Id == videoId && v.TenantId == tenantId)
            .Select(v => new { v.Id, v.TenantId, v.ModelVersion })
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);
        if (video is null)
        {
            return null;
        }

        // The encoder records the version on the segments before the indexer records it on the video.
        string? version = video.ModelVersion ?? await db.Segments.AsNoTracking()
            .Where(s => s.VideoId == videoId && s.ModelVersion != null)
            .Select(s => s.ModelVersion)
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);

        bool deleted = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
            await db.VideoEvents.Where(e => e.VideoId == videoId).ExecuteDeleteAsync(ct).ConfigureAwait(false);
            await db.Segments.Where(s => s.VideoId == videoId).ExecuteDeleteAsync(ct).ConfigureAwait(false);
            int rows = await db.Videos.Where(v => v.Id == videoId && v.TenantId == tenantId).ExecuteDeleteAsync(ct).ConfigureAwait(false);
            if (rows > 0 && !await db.DeletedVideos.AnyAsync(d => d.VideoId == videoId, ct).ConfigureAwait(false))
            {
                // The tombstone stays until the indexer has removed the points (the reconciler re-publishes if it must).
                var now = clock.GetUtcNow().UtcDateTime;
                db.DeletedVideos.Add(new DeletedVideo { VideoId = videoId, TenantId = tenantId, ModelVersion = version, DeletedAt = now, LastPublishedAt = now });
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                db.ChangeTracker.Clear();
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return rows > 0;
        }).ConfigureAwait(false);
        if (!deleted)
        {
            return null; // a concurrent DELETE won
        }

        int files = DeleteFiles(BlobKeys.Original(tenantId, videoId), videoId)
            + DeleteFiles(BlobKeys.MediaPrefix(videoId), videoId)
            + DeleteFiles(BlobKeys.FeaturesPrefix(videoId), videoId);

        // After the rows: an indexer that upserts from now on finds the video gone and removes its own points.
        await publish.Publish(PipelineMessages.Deleted(videoId, tenantId, version), ct).ConfigureAwait(false);
        LogDeleted(logger, videoId, tenantId, files);
        return new DeleteVideoResult(videoId, tenantId, version, files);
    }

    /// <summary>A stage may still be writing under the prefix: retry a few times, then leave the rest to the sweeper.</summary>
    private int DeleteFiles(string keyOrPrefix, Guid videoId)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return blobs.Delete(keyOrPrefix);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (attempt >= 3)
                {
                    LogLeftForSweeper(logger, videoId, keyOrPrefix, e);
                    return 0;
                }

                Thread.Sleep(50 * attempt);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted video {VideoId} of tenant {TenantId} ({Files} files)")]
    private static partial void LogDeleted(ILogger logger, Guid videoId, string tenantId, int files);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove {Key} of deleted video {VideoId}; the orphan sweeper will")]
    private static partial void LogLeftForSweeper(ILogger logger, Guid videoId, string key, Exception e);
}
