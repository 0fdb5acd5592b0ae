using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.Pipeline;
using LiteVL.Videos;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Dashboard;

public enum ActionOutcome
{
    Done,
    NotFound,

    /// <summary>The video is not in a state the action applies to (or a stage moved it meanwhile).</summary>
    Conflict,
}

/// <summary>
/// The operator's actions on a video. Retry and re-index send it back to the frame extractor through the ledger's
/// conditional transition (a stage working on it meanwhile wins) and publish the same trigger an upload does; every
/// stage is idempotent (segments are replaced, files and points have deterministic names). Delete is the same
/// <see cref="DeleteVideoService"/> as the Upload API's.
/// </summary>
public sealed class VideoActions(LiteVLDbContext db, VideoLedger ledger, IPublishEndpoint publish, DeleteVideoService deletions)
{
    /// <summary>Failed → Uploaded, failure cleared.</summary>
    public Task<(ActionOutcome, VideoState?)> RetryAsync(Guid id, string by, CancellationToken ct) =>
        RequeueAsync(id, [VideoState.Failed], v => $"retry from the dashboard by {by} (was failed at {v.FailedStage}: {v.FailureReason})", ct);

    /// <summary>Indexed or Failed → Uploaded: frames, tokens and points are produced again (e.g. after a model change).</summary>
    public Task<(ActionOutcome, VideoState?)> ReindexAsync(Guid id, string by, CancellationToken ct) =>
        RequeueAsync(id, [VideoState.Indexed, VideoState.Failed], v => $"re-index from the dashboard by {by} (was {v.State})", ct);

    public async Task<ActionOutcome> DeleteAsync(Guid id, CancellationToken ct)
    {
        string? tenant = await db.Videos.AsNoTracking().Where(v => v.Id == id).Select(v => v.TenantId).FirstOrDefaultAsync(ct).ConfigureAwait(false);
        return tenant is not null && await deletions.DeleteAsync(tenant, id, ct).ConfigureAwait(false) is not null
            ? ActionOutcome.Done
            : ActionOutcome.NotFound;
    }

    private async Task<(ActionOutcome, VideoState?)> RequeueAsync(Guid id, VideoState[] from, Func<Video, string> detail, CancellationToken ct)
    {
        var video = await db.Videos.AsNoTracking().FirstOrDefaultAsync(v => v.Id == id, ct).ConfigureAwait(false);
        if (video is null)
        {
            return (ActionOutcome.NotFound, null);
        }

        string text = detail(video);
        if (!from.Contains(video.State) || !await ledger.TryRequeueAsync(id, from, text.Length > 2000 ? text[..1997] + "..." : text, ct).ConfigureAwait(false))
        {
            var now = await db.Videos.AsNoTracking().Where(v => v.Id == id).Select(v => (VideoState?)v.State).FirstOrDefaultAsync(ct).ConfigureAwait(false);
            return (now is null ? ActionOutcome.NotFound : ActionOutcome.Conflict, now);
        }

        await publish.Publish(PipelineMessages.Uploaded(video), ct).ConfigureAwait(false);
        return (ActionOutcome.Done, VideoState.Uploaded);
    }
}
