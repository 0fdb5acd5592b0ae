using LiteVL.Contracts;
using LiteVL.Media;
using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.FrameExtractor;

/// <summary>
/// The extraction stage: the original → ffprobe validation → segments → T frames per segment (uint8 [T,S,S,3]) and a
/// thumbnail in the blob store → segment rows. Knows nothing of the bus. Idempotent: a video past <c>Extracting</c>
/// is skipped; a re-run rewrites the same files and the same segment rows.
/// </summary>
public sealed partial class FrameExtraction(
    IMediaProcessor media,
    LiteVLDbContext db,
    VideoLedger ledger,
    IBlobStore blobs,
    FrameGeometry geometry,
    ILogger<FrameExtraction> logger)
{
    /// <summary>This stage's name (<see cref="PipelineStages.Extract"/>).</summary>
    public static string Stage => PipelineStages.Extract.Name;

    /// <summary>FramesExtracted for the encoder, the video's failure, or skipped (past this stage already, or deleted meanwhile).</summary>
    public async Task<StageOutcome<FramesExtracted>> ExtractAsync(VideoUploaded message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var stage = PipelineStages.Extract;
        if (!await ledger.TryTransitionAsync(message.VideoId, stage.States, stage.Working, ct: ct).ConfigureAwait(false))
        {
            return StageOutcome.Skipped<FramesExtracted>();
        }

        string original = BlobKeys.Original(message.TenantId, message.VideoId);
        if (!blobs.Exists(original))
        {
            return await FailAsync(message, "the uploaded file is missing from the blob store", ct).ConfigureAwait(false);
        }

        ExtractionResult result;
        try
        {
            result = await media.ExtractAsync(
                blobs.LocalPath(original),
                new ExtractionRequest(blobs.LocalPath(BlobKeys.MediaPrefix(message.VideoId)), geometry.FramesPerSegment, geometry.FrameSize),
                ct).ConfigureAwait(false);
        }
        catch (MediaException e) when (e.Kind is not MediaErrorKind.ToolMissing)
        {
            if (!await db.Videos.AnyAsync(v => v.Id == message.VideoId, ct).ConfigureAwait(false))
            {
                return Vanished(message.VideoId); // deleted under ffmpeg's feet (the original went first)
            }

            LogMediaError(logger, message.VideoId, e.Kind, e.StderrTail);
            return await FailAsync(message, await InTermsOfTheUploadAsync(e.Message, blobs.LocalPath(original), message.VideoId, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
        }

        var segments = result.Segments.Select(s => new Segment
        {
            VideoId = message.VideoId,
            Index = s.Index,
            StartSeconds = s.StartSeconds,
            EndSeconds = s.EndSeconds,
            FrameTimes = [.. s.SampleTimes],
            FramesKey = BlobKeys.Frames(message.VideoId, s.Index),
            ThumbnailKey = BlobKeys.Thumbnail(message.VideoId, s.Index),
        }).ToList();
        foreach (var s in segments)
        {
            if (!blobs.Exists(s.FramesKey) || !blobs.Exists(s.ThumbnailKey))
            {
                if (!await db.Videos.AnyAsync(v => v.Id == message.VideoId, ct).ConfigureAwait(false))
                {
                    return Vanished(message.VideoId); // its deletion removed the files
                }

                throw new InvalidOperationException($"The extractor did not write {s.FramesKey} and {s.ThumbnailKey}.");
            }
        }

        if (!await db.Videos.AnyAsync(v => v.Id == message.VideoId, ct).ConfigureAwait(false))
        {
            return Vanished(message.VideoId);
        }

        await db.Segments.Where(s => s.VideoId == message.VideoId).ExecuteDeleteAsync(ct).ConfigureAwait(false);
        db.Segments.AddRange(segments);
        try
        {
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            if (await db.Videos.AnyAsync(v => v.Id == message.VideoId, ct).ConfigureAwait(false))
            {
                throw;
            }

            db.ChangeTracker.Clear(); // the video was deleted meanwhile (its segments violate the foreign key)
            return Vanished(message.VideoId);
        }
        var info = result.Media;
        await db.Videos.Where(v => v.Id == message.VideoId).ExecuteUpdateAsync(
            s => s.SetProperty(v => v.DurationSeconds, info.Duration.TotalSeconds)
                .SetProperty(v => v.Width, info.Video.Width)
                .SetProperty(v => v.Height, info.Video.Height)
                .SetProperty(v => v.SegmentCount, segments.Count),
            ct).ConfigureAwait(false);
        string detail = $"{segments.Count} segments, {info.Duration.TotalSeconds:F1} s {info.Video.Codec} {info.Video.Width}x{info.Video.Height}";
        if (!await ledger.TryTransitionAsync(message.VideoId, [stage.Working], stage.Done, detail, ct).ConfigureAwait(false))
        {
            return StageOutcome.Skipped<FramesExtracted>();
        }

        return StageOutcome.Completed(PipelineMessages.Extracted(message.VideoId, message.TenantId, segments.Count, geometry));
    }

    /// <summary>The video was deleted while ffmpeg ran: remove what we wrote after its deletion removed its files.</summary>
    private StageOutcome<FramesExtracted> Vanished(Guid videoId)
    {
        try
        {
            blobs.Delete(BlobKeys.MediaPrefix(videoId));
        }
        catch (IOException e)
        {
            LogCleanupFailed(logger, videoId, e);
        }

        LogVanished(logger, videoId);
        return StageOutcome.Skipped<FramesExtracted>();
    }

    /// <summary>ffmpeg speaks of our blob path; the person who uploaded the video knows it by its file name.</summary>
    private async Task<string> InTermsOfTheUploadAsync(string reason, string localPath, Guid videoId, CancellationToken ct)
    {
        string? name = await db.Videos.Where(v => v.Id == videoId).Select(v => v.OriginalFileName).FirstOrDefaultAsync(ct).ConfigureAwait(false);
        name = string.IsNullOrWhiteSpace(name) ? "the uploaded video" : name;
        return reason.Replace(localPath, name, StringComparison.Ordinal).Replace(Path.GetFileName(localPath), name, StringComparison.Ordinal);
    }

    private async Task<StageOutcome<FramesExtracted>> FailAsync(VideoUploaded message, string reason, CancellationToken ct) =>
        await ledger.FailAsync(message.VideoId, Stage, reason, ct).ConfigureAwait(false)
            ? StageOutcome.Failed<FramesExtracted>(PipelineMessages.Failed(message.VideoId, message.TenantId, Stage, reason))
            : StageOutcome.Skipped<FramesExtracted>();

    [LoggerMessage(Level = LogLevel.Information, Message = "Video {VideoId} was deleted during extraction; its frames were removed")]
    private static partial void LogVanished(ILogger logger, Guid videoId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove the frames of deleted video {VideoId}; the orphan sweeper will")]
    private static partial void LogCleanupFailed(ILogger logger, Guid videoId, Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Video {VideoId} failed extraction ({Kind}); ffmpeg said: {Stderr}")]
    private static partial void LogMediaError(ILogger logger, Guid videoId, MediaErrorKind kind, string? stderr);
}
