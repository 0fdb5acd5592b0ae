using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline;

/// <summary>The reconciler runs in one process of a deployment: the Upload API (distributed mode) or the embedded host.</summary>
public static class ReconcilerExtensions
{
    public static IServiceCollection AddLiteVLReconciler(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<ReconcilerOptions>().Bind(configuration.GetSection(ReconcilerOptions.Section))
            .Validate(o => o.Interval > TimeSpan.Zero, "LiteVL:Reconciler:Interval must be positive.")
            .Validate(o => o.StaleAfter > TimeSpan.Zero, "LiteVL:Reconciler:StaleAfter must be positive.")
            .Validate(o => o.MaxAttempts >= 1, "LiteVL:Reconciler:MaxAttempts must be at least 1.")
            .ValidateOnStart();
        services.TryAddFrameGeometry(configuration); // to re-publish FramesExtracted
        services.AddHostedService<PipelineReconciler>();
        return services;
    }
}

/// <summary>Section <c>LiteVL:Reconciler</c>.</summary>
public sealed class ReconcilerOptions
{
    public const string Section = "LiteVL:Reconciler";

    public bool Enabled { get; set; } = true;

    /// <summary>How often to look for stuck videos.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A video that stayed in a non-terminal state this long is re-driven.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Re-drives of one video (over all its stages) before it ends Failed; an operator's retry starts again at 0.</summary>
    public int MaxAttempts { get; set; } = 5;
}

/// <summary>
/// The database drives the pipeline, messages are triggers: videos stuck in a stage (a lost message, a crashed worker)
/// get their stage's trigger published again; every stage is idempotent, so a duplicate trigger is harmless. After
/// <see cref="ReconcilerOptions.MaxAttempts"/> re-drives the video ends Failed with the reason. Deleted videos whose
/// points the indexer has not confirmed removing (a tombstone older than StaleAfter) get VideoDeleted again, without
/// limit: no embedding may outlive its video.
/// </summary>
public sealed partial class PipelineReconciler(IServiceScopeFactory scopes, IOptions<ReconcilerOptions> options, TimeProvider clock, ILogger<PipelineReconciler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await ReconcileOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbUpdateException or InvalidOperationException or TimeoutException or System.Data.Common.DbException)
            {
                LogError(logger, e);
            }
        }
    }

    /// <summary>One pass; returns how many videos were re-driven or failed.</summary>
    public async Task<int> ReconcileOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        var ledger = scope.ServiceProvider.GetRequiredService<VideoLedger>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var o = options.Value;
        var cutoff = clock.GetUtcNow().UtcDateTime - o.StaleAfter;
        var stuck = await db.Videos.AsNoTracking()
            .Where(v => v.State != VideoState.Indexed && v.State != VideoState.Failed && v.StateChangedAt < cutoff)
            .OrderBy(v => v.StateChangedAt)
            .Take(200)
            .Select(v => new { v.Id, v.TenantId, v.State, v.Attempts, v.Sha256, v.SizeBytes, v.CreatedAt, v.SegmentCount })
            .ToListAsync(ct).ConfigureAwait(false);
        foreach (var v in stuck)
        {
            if (v.Attempts >= o.MaxAttempts)
            {
                string reason = $"stuck in {v.State} after {v.Attempts} re-drives; see the service logs for video {v.Id}";
                if (await ledger.FailAsync(v.Id, PipelineStages.Reconcile, reason, ct).ConfigureAwait(false))
                {
                    await publish.Publish(PipelineMessages.Failed(v.Id, v.TenantId, PipelineStages.Reconcile, reason), ct).ConfigureAwait(false);
                }

                continue;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            int claimed = await db.Videos.Where(x => x.Id == v.Id && x.State == v.State && x.Attempts == v.Attempts)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Attempts, v.Attempts + 1).SetProperty(x => x.StateChangedAt, now), ct).ConfigureAwait(false);
            if (claimed == 0)
            {
                continue; // moved on meanwhile
            }

            if (PipelineStages.Owning(v.State) == PipelineStages.Extract)
            {
                await publish.Publish(PipelineMessages.Uploaded(v.Id, v.TenantId, v.Sha256, v.SizeBytes, v.CreatedAt), ct).ConfigureAwait(false);
            }
            else
            {
                // Extracted, Encoding, Encoded, Indexing: the frames are on disk; re-encoding is idempotent and carries the embeddings again.
                await ledger.TryTransitionAsync(v.Id, PipelineStages.Index.States, PipelineStages.Encode.Waiting, $"re-driven by the reconciler: stuck in {v.State}", ct).ConfigureAwait(false);
                var frames = await db.Segments.AsNoTracking().Where(s => s.VideoId == v.Id).CountAsync(ct).ConfigureAwait(false);
                var geometry = scope.ServiceProvider.GetRequiredService<FrameGeometry>();
                await publish.Publish(PipelineMessages.Extracted(v.Id, v.TenantId, frames, geometry), ct).ConfigureAwait(false);
            }

            LogRedriven(logger, v.Id, v.State, v.Attempts + 1);
        }

        return stuck.Count + await RedriveDeletionsAsync(db, publish, cutoff, ct).ConfigureAwait(false);
    }

    /// <summary>Deleted videos whose points the indexer has not confirmed removing: publish VideoDeleted again.</summary>
    private async Task<int> RedriveDeletionsAsync(LiteVLDbContext db, IPublishEndpoint publish, DateTime cutoff, CancellationToken ct)
    {
        var pending = await db.DeletedVideos.AsNoTracking().Where(d => d.LastPublishedAt < cutoff).OrderBy(d => d.LastPublishedAt).Take(200)
            .ToListAsync(ct).ConfigureAwait(false);
        foreach (var d in pending)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            int claimed = await db.DeletedVideos.Where(x => x.VideoId == d.VideoId && x.Attempts == d.Attempts)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Attempts, d.Attempts + 1).SetProperty(x => x.LastPublishedAt, now), ct).ConfigureAwait(false);
            if (claimed == 0)
            {
                continue; // another reconciler took it, or the indexer finished meanwhile
            }

            await publish.Publish(PipelineMessages.Deleted(d.VideoId, d.TenantId, d.ModelVersion), ct).ConfigureAwait(false);
            LogDeletionRedriven(logger, d.VideoId, d.Attempts + 1);
        }

        return pending.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-published VideoDeleted for video {VideoId}: its points were not confirmed removed (attempt {Attempt})")]
    private static partial void LogDeletionRedriven(ILogger logger, Guid videoId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-drove video {VideoId} stuck in {State} (attempt {Attempt})")]
    private static partial void LogRedriven(ILogger logger, Guid videoId, VideoState state, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciler pass failed")]
    private static partial void LogError(ILogger logger, Exception e);
}

