using LiteVL.Contracts;
using LiteVL.Model.Runtime;
using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Encoder;

/// <summary>
/// Encodes the segments of several videos in shared batches: frames from the blob store → <c>video_encoder</c> →
/// fp16 <c>video_tokens</c> in the feature store, embeddings returned for the indexer. Knows nothing of the bus.
/// Idempotent: a video already past <c>Encoding</c> is skipped; re-encoding overwrites the same files.
/// </summary>
public sealed partial class SegmentEncoder(
    LiteVLModel model,
    LiteVLDbContext db,
    VideoLedger ledger,
    IBlobStore blobs,
    FeatureStore features,
    IOptions<EncoderOptions> options,
    ILogger<SegmentEncoder> logger)
{
    /// <summary>This stage's name (<see cref="PipelineStages.Encode"/>).</summary>
    public static string Stage => PipelineStages.Encode.Name;

    /// <summary>Encodes the videos; returns one <see cref="SegmentsEncoded"/> per video that finished, and the failures.</summary>
    public async Task<EncodeOutcome> EncodeAsync(IReadOnlyCollection<FramesExtracted> messages, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var c = model.Config;
        var work = new List<(FramesExtracted Message, List<Segment> Segments)>();
        var failed = new List<VideoFailed>();
        foreach (var message in messages.DistinctBy(m => m.VideoId))
        {
            if (message.FramesPerSegment != c.NumFrames || message.FrameSize != c.Vision.ImageSize)
            {
                string reason = $"frames were extracted as T={message.FramesPerSegment}, S={message.FrameSize} but the model {c.Version} needs T={c.NumFrames}, S={c.Vision.ImageSize}; re-extract the video";
                if (await ledger.FailAsync(message.VideoId, Stage, reason, ct).ConfigureAwait(false))
                {
                    failed.Add(PipelineMessages.Failed(message.VideoId, message.TenantId, Stage, reason));
                }

                continue;
            }

            if (!await ledger.TryTransitionAsync(message.VideoId, PipelineStages.Encode.States, PipelineStages.Encode.Working, ct: ct).ConfigureAwait(false))
            {
                LogSkipped(logger, message.VideoId);
                continue;
            }

            var segments = await db.Segments.Where(s => s.VideoId == message.VideoId).OrderBy(s => s.Index).ToListAsync(ct).ConfigureAwait(false);
            string? problem = CheckFrames(segments, c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3);
            if (problem is not null)
            {
                // One bad video must not fail the batch it shares with others.
                if (await ledger.FailAsync(message.VideoId, Stage, problem, ct).ConfigureAwait(false))
                {
                    failed.Add(PipelineMessages.Failed(message.VideoId, message.TenantId, Stage, problem));
                }

                continue;
            }

            work.Add((message, segments));
        }

        var embeddings = new Dictionary<(Guid, int), float[]>();
        var vanished = new HashSet<Guid>(); // videos deleted while being encoded
        var all = work.SelectMany(w => w.Segments).ToList();
        int batch = options.Value.BatchSize;
        int frameBytes = c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3;
        int tokenCount = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        for (int start = 0; start < all.Count; start += batch)
        {
            var chunk = all.GetRange(start, Math.Min(batch, all.Count - start));
            var frames = new byte[chunk.Count * frameBytes];
            for (int i = 0; i < chunk.Count; i++)
            {
                if (vanished.Contains(chunk[i].VideoId))
                {
                    continue;
                }

                try
                {
                    await using var stream = blobs.OpenRead(chunk[i].FramesKey);
                    if (stream.Length != frameBytes)
                    {
                        throw new InvalidDataException($"Frames '{chunk[i].FramesKey}' hold {stream.Length} bytes, expected {frameBytes}.");
                    }

                    await stream.ReadExactlyAsync(frames.AsMemory(i * frameBytes, frameBytes), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
                {
                    if (await VideoExistsAsync(chunk[i].VideoId, ct).ConfigureAwait(false))
                    {
                        throw;
                    }

                    vanished.Add(chunk[i].VideoId); // deleted meanwhile: its slot is encoded as zeros and dropped
                }
            }

            var encoded = model.EncodeVideos(frames, chunk.Count);
            for (int i = 0; i < chunk.Count; i++)
            {
                var segment = chunk[i];
                if (vanished.Contains(segment.VideoId))
                {
                    continue;
                }

                string key = BlobKeys.Tokens(segment.VideoId, c.Version, segment.Index);
                await features.WriteAsync(key, encoded.VideoTokens.AsMemory(i * tokenCount, tokenCount), c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize, ct).ConfigureAwait(false);
                segment.TokensKey = key;
                segment.ModelVersion = c.Version;
                embeddings[(segment.VideoId, segment.Index)] = encoded.VideoEmbeddings.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray();
            }
        }

        await SaveSegmentsAsync(vanished, ct).ConfigureAwait(false);
        var done = new List<SegmentsEncoded>();
        foreach (var (message, segments) in work)
        {
            if (vanished.Contains(message.VideoId))
            {
                DeleteTokensOfVanished(message.VideoId);
                continue;
            }

            if (!await ledger.TryTransitionAsync(message.VideoId, [PipelineStages.Encode.Working], PipelineStages.Encode.Done, $"{segments.Count} segments, model {c.Version}", ct).ConfigureAwait(false))
            {
                if (!await VideoExistsAsync(message.VideoId, ct).ConfigureAwait(false))
                {
                    DeleteTokensOfVanished(message.VideoId); // written after its deletion removed its files
                }
            }
            else
            {
                done.Add(new SegmentsEncoded
                {
                    VideoId = message.VideoId,
                    TenantId = message.TenantId,
                    ModelVersion = c.Version,
                    Segments = [.. segments.Select(s => new EncodedSegment { Index = s.Index, Embedding = embeddings[(s.VideoId, s.Index)] })],
                });
            }
        }

        LogBatch(logger, work.Count, all.Count);
        return new EncodeOutcome(done, failed);
    }

    /// <summary>Saves the token keys; segments of a video deleted meanwhile are gone (0 rows updated) and are dropped.</summary>
    private async Task SaveSegmentsAsync(HashSet<Guid> vanished, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            foreach (var entry in db.ChangeTracker.Entries<Segment>().Where(e => vanished.Contains(e.Entity.VideoId)).ToList())
            {
                entry.State = EntityState.Detached;
            }

            try
            {
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateConcurrencyException) when (attempt < 3)
            {
                var ids = db.ChangeTracker.Entries<Segment>().Where(e => e.State == EntityState.Modified).Select(e => e.Entity.VideoId).Distinct().ToList();
                var existing = await db.Videos.AsNoTracking().Where(v => ids.Contains(v.Id)).Select(v => v.Id).ToListAsync(ct).ConfigureAwait(false);
                int before = vanished.Count;
                vanished.UnionWith(ids.Except(existing));
                if (vanished.Count == before)
                {
                    throw;
                }
            }
        }
    }

    private Task<bool> VideoExistsAsync(Guid videoId, CancellationToken ct) => db.Videos.AnyAsync(v => v.Id == videoId, ct);

    private void DeleteTokensOfVanished(Guid videoId)
    {
        try
        {
            blobs.Delete(BlobKeys.FeaturesPrefix(videoId));
        }
        catch (IOException e)
        {
            LogCleanupFailed(logger, videoId, e);
        }

        LogVanished(logger, videoId);
    }

    private string? CheckFrames(List<Segment> segments, long frameBytes)
    {
        if (segments.Count == 0)
        {
            return "the video has no extracted segments";
        }

        foreach (var segment in segments)
        {
            if (!blobs.Exists(segment.FramesKey))
            {
                return $"the frames of segment {segment.Index} are missing from the blob store";
            }

            long length = blobs.Length(segment.FramesKey);
            if (length != frameBytes)
            {
                return $"the frames of segment {segment.Index} hold {length} bytes, not the {frameBytes} of T×S×S×3";
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Video {VideoId} was deleted during encoding; its tokens were removed")]
    private static partial void LogVanished(ILogger logger, Guid videoId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove the tokens of deleted video {VideoId}; the orphan sweeper will")]
    private static partial void LogCleanupFailed(ILogger logger, Guid videoId, Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Video {VideoId} is not waiting for the encoder; skipped")]
    private static partial void LogSkipped(ILogger logger, Guid videoId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Encoded {Videos} videos, {Segments} segments")]
    private static partial void LogBatch(ILogger logger, int videos, int segments);
}

public sealed record EncodeOutcome(IReadOnlyList<SegmentsEncoded> Encoded, IReadOnlyList<VideoFailed> Failed);
