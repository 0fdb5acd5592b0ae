using LiteVL.Contracts;
using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace LiteVL.Indexer;

/// <summary>
/// Writes one vector point per segment (deterministic ids: a re-delivered message overwrites the same points) and
/// marks the video <c>Indexed</c>. Knows nothing of the bus.
/// </summary>
public sealed partial class SegmentIndexer(LiteVLDbContext db, VideoLedger ledger, IVectorIndex index, ILogger<SegmentIndexer> logger)
{
    /// <summary>This stage's name (<see cref="PipelineStages.Index"/>).</summary>
    public static string Stage => PipelineStages.Index.Name;

    public async Task<VideoIndexed?> IndexAsync(SegmentsEncoded message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!await ledger.TryTransitionAsync(message.VideoId, PipelineStages.Index.States, PipelineStages.Index.Working, ct: ct).ConfigureAwait(false))
        {
            return null;
        }

        var video = await db.Videos.AsNoTracking().Include(v => v.Segments).FirstOrDefaultAsync(v => v.Id == message.VideoId, ct).ConfigureAwait(false);
        if (video is null)
        {
            return null; // deleted meanwhile
        }

        var segments = video.Segments.ToDictionary(s => s.Index);
        var points = new List<VectorPoint>(message.Segments.Count);
        foreach (var encoded in message.Segments)
        {
            if (!segments.TryGetValue(encoded.Index, out var segment))
            {
                throw new InvalidOperationException($"Video {video.Id} has no segment {encoded.Index}.");
            }

            points.Add(new VectorPoint(
                video.Id,
                segment.Index,
                video.TenantId,
                segment.StartSeconds,
                segment.EndSeconds,
                video.Title,
                video.Tags,
                new DateTimeOffset(DateTime.SpecifyKind(video.CreatedAt, DateTimeKind.Utc)),
                encoded.Embedding));
        }

        await index.EnsureCollectionAsync(message.ModelVersion, message.Segments.Count > 0 ? message.Segments[0].Embedding.Length : 256, ct).ConfigureAwait(false);
        if (await index.GetActiveVersionAsync(ct).ConfigureAwait(false) is null)
        {
            await index.ActivateAsync(message.ModelVersion, ct).ConfigureAwait(false);
        }

        await index.UpsertAsync(message.ModelVersion, points, ct).ConfigureAwait(false);
        await db.Videos.Where(v => v.Id == video.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(v => v.ModelVersion, message.ModelVersion).SetProperty(v => v.SegmentCount, points.Count), ct)
            .ConfigureAwait(false);
        if (!await ledger.TryTransitionAsync(video.Id, [PipelineStages.Index.Working], PipelineStages.Index.Done, $"{points.Count} points in {message.ModelVersion}", ct).ConfigureAwait(false))
        {
            // Deleted while we upserted: its VideoDeleted may have been handled before our points existed.
            if (!await db.Videos.AnyAsync(v => v.Id == video.Id, ct).ConfigureAwait(false))
            {
                await index.DeleteVideoAsync(message.ModelVersion, video.Id, ct).ConfigureAwait(false);
            }

            return null;
        }

        LogIndexed(logger, video.Id, points.Count, message.ModelVersion);
        return new VideoIndexed { VideoId = video.Id, TenantId = video.TenantId, ModelVersion = message.ModelVersion, SegmentCount = points.Count };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Indexed video {VideoId}: {Points} points in {ModelVersion}")]
    private static partial void LogIndexed(ILogger logger, Guid videoId, int points, string modelVersion);
}
