using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteVL.Storage;

/// <summary>
/// Moves videos through the pipeline states, recording every step in the timeline. Transitions are conditional
/// updates (<c>WHERE state IN (...)</c>), so a re-delivered message that finds the video elsewhere does nothing.
/// A video that fails is logged here, once, with its stage and reason (the console's one line about it).
/// </summary>
public sealed partial class VideoLedger(LiteVLDbContext db, TimeProvider clock, ILogger<VideoLedger>? logger = null)
{
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;

    private static readonly VideoState[] NonTerminal = [.. Enum.GetValues<VideoState>().Where(s => !s.IsTerminal())];

    public async Task<Video> CreateAsync(Video video, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        var now = clock.GetUtcNow().UtcDateTime;
        video.State = VideoState.Uploaded;
        video.CreatedAt = video.UpdatedAt = video.StateChangedAt = now;
        video.Events.Add(new VideoEvent { State = VideoState.Uploaded, At = now });
        db.Videos.Add(video);
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        return video;
    }

    /// <summary>Moves the video to <paramref name="to"/> if it is in one of <paramref name="from"/>; false otherwise.</summary>
    public Task<bool> TryTransitionAsync(Guid videoId, VideoState[] from, VideoState to, string? detail = null, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return InTransactionAsync(
            async () =>
            {
                int changed = await db.Videos
                    .Where(v => v.Id == videoId && from.Contains(v.State))
                    .ExecuteUpdateAsync(
                        s => s.SetProperty(v => v.State, to)
                            .SetProperty(v => v.StateChangedAt, now)
                            .SetProperty(v => v.UpdatedAt, now),
                        ct).ConfigureAwait(false);
                if (changed == 0)
                {
                    return false;
                }

                db.VideoEvents.Add(new VideoEvent { VideoId = videoId, State = to, At = now, Detail = detail });
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                return true;
            },
            ct);
    }

    /// <summary>Ends a non-terminal video in <c>Failed</c> with a reason a person understands.</summary>
    public Task<bool> FailAsync(Guid videoId, string stage, string reason, CancellationToken ct = default) =>
        FailFromAsync(videoId, NonTerminal, stage, reason, ct);

    /// <summary>
    /// Like <see cref="FailAsync"/>, but only while the video is in one of <paramref name="from"/> (the failing stage's
    /// own states): a video another stage has moved on meanwhile is left alone.
    /// </summary>
    public async Task<bool> FailFromAsync(Guid videoId, VideoState[] from, string stage, string reason, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(reason);
        ArgumentNullException.ThrowIfNull(from);
        var now = clock.GetUtcNow().UtcDateTime;
        string shortReason = reason.Length > 2000 ? reason[..1997] + "..." : reason;
        bool failed = await InTransactionAsync(
            async () =>
            {
                int changed = await db.Videos
                    .Where(v => v.Id == videoId && from.Contains(v.State) && v.State != VideoState.Indexed && v.State != VideoState.Failed)
                    .ExecuteUpdateAsync(
                        s => s.SetProperty(v => v.State, VideoState.Failed)
                            .SetProperty(v => v.FailedStage, stage)
                            .SetProperty(v => v.FailureReason, shortReason)
                            .SetProperty(v => v.StateChangedAt, now)
                            .SetProperty(v => v.UpdatedAt, now),
                        ct).ConfigureAwait(false);
                if (changed == 0)
                {
                    return false;
                }

                db.VideoEvents.Add(new VideoEvent { VideoId = videoId, State = VideoState.Failed, At = now, Detail = $"{stage}: {shortReason}" });
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                return true;
            },
            ct).ConfigureAwait(false);
        if (failed)
        {
            LogFailed(_logger, videoId, stage, shortReason);
        }

        return failed;
    }

    /// <summary>
    /// Sends a video back to the start of the pipeline (an operator's retry or re-index): if it is in one of
    /// <paramref name="from"/> it becomes <c>Uploaded</c> with its failure cleared and re-drive attempts reset, and the
    /// timeline records why. Conditional like every transition, so a stage that moved the video meanwhile wins; the
    /// caller publishes the trigger (VideoUploaded) only when this returns true.
    /// </summary>
    public Task<bool> TryRequeueAsync(Guid videoId, VideoState[] from, string detail, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        var now = clock.GetUtcNow().UtcDateTime;
        return InTransactionAsync(
            async () =>
            {
                int changed = await db.Videos
                    .Where(v => v.Id == videoId && from.Contains(v.State))
                    .ExecuteUpdateAsync(
                        s => s.SetProperty(v => v.State, VideoState.Uploaded)
                            .SetProperty(v => v.FailedStage, (string?)null)
                            .SetProperty(v => v.FailureReason, (string?)null)
                            .SetProperty(v => v.Attempts, 0)
                            .SetProperty(v => v.StateChangedAt, now)
                            .SetProperty(v => v.UpdatedAt, now),
                        ct).ConfigureAwait(false);
                if (changed == 0)
                {
                    return false;
                }

                db.VideoEvents.Add(new VideoEvent { VideoId = videoId, State = VideoState.Uploaded, At = now, Detail = detail });
                await db.SaveChangesAsync(ct).ConfigureAwait(false);
                return true;
            },
            ct);
    }

    /// <summary>The state change and its timeline entry commit together (and retry together on PostgreSQL).</summary>
    private Task<bool> InTransactionAsync(Func<Task<bool>> work, CancellationToken ct) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            // A retried attempt must not insert the previous attempt's timeline entry again.
            foreach (var stale in db.ChangeTracker.Entries<VideoEvent>().Where(e => e.State == EntityState.Added).ToList())
            {
                stale.State = EntityState.Detached;
            }

            await using var transaction = await db.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
            bool done = await work().ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return done;
        });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Video {VideoId} failed in {Stage}: {Reason}")]
    private static partial void LogFailed(ILogger logger, Guid videoId, string stage, string reason);
}
