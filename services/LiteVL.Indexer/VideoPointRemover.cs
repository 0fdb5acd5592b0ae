using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Indexer;

/// <summary>
/// Removes a deleted video's points from the vector index (the indexer owns it: in distributed mode the embedded index
/// lives in this process). Cleans the collection of the message's model version and of the active version (a video
/// deleted before it was indexed has no version yet), then removes the video's tombstone. Idempotent: a re-delivery
/// deletes nothing and succeeds. Knows nothing of the bus.
/// </summary>
public sealed partial class VideoPointRemover(IVectorIndex index, LiteVLDbContext db, ILogger<VideoPointRemover> logger)
{
    public async Task RemoveAsync(VideoDeleted message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        string? active = await index.GetActiveVersionAsync(ct).ConfigureAwait(false);
        foreach (string version in new[] { message.ModelVersion, active }.OfType<string>().Distinct(StringComparer.Ordinal))
        {
            try
            {
                int removed = await index.DeleteVideoAsync(version, message.VideoId, ct).ConfigureAwait(false);
                LogRemoved(logger, removed, message.VideoId, version);
            }
            catch (VectorCollectionNotFoundException)
            {
                // No collection for that version: no points to remove.
            }
        }

        // The points are gone: the deletion is complete.
        await db.DeletedVideos.Where(d => d.VideoId == message.VideoId).ExecuteDeleteAsync(ct).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Points} points of deleted video {VideoId} from {ModelVersion}")]
    private static partial void LogRemoved(ILogger logger, int points, Guid videoId, string modelVersion);
}
