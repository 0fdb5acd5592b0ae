using System.Diagnostics;
using LiteVL.Model.Runtime;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Encoder;

/// <summary>Section <c>LiteVL:Encoder:Heartbeat</c>.</summary>
public sealed class EncoderHeartbeatOptions
{
    public const string Section = "LiteVL:Encoder:Heartbeat";

    /// <summary>How often the worker's row is written when no batch arrives.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Rows of workers silent this long (restarted or removed processes) are deleted.</summary>
    public TimeSpan ForgetAfter { get; set; } = TimeSpan.FromDays(1);
}

/// <summary>
/// This encoder process's figures, kept in memory by the consumer after each batch and written to the
/// <see cref="EncoderWorker"/> row by <see cref="EncoderHeartbeat"/> (so the consumer never waits for that write).
/// </summary>
public sealed class EncoderHeartbeatRecorder(TimeProvider clock) : IDisposable
{
    private static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(1);
    private readonly object _lock = new();
    private readonly Queue<(DateTime At, int Segments)> _recent = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private long _batches;
    private long _segments;
    private int _lastBatchSize;
    private DateTime? _lastBatchAt;

    public string WorkerId { get; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    public DateTime StartedAt { get; } = clock.GetUtcNow().UtcDateTime;

    /// <summary>Runs one batch of the consumer and records how many segments it encoded.</summary>
    public async Task<EncodeOutcome> TrackAsync(Func<Task<EncodeOutcome>> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var outcome = await batch().ConfigureAwait(false);
        int segments = outcome.Encoded.Sum(e => e.Segments.Count);
        var now = clock.GetUtcNow().UtcDateTime;
        lock (_lock)
        {
            _batches++;
            _segments += segments;
            _lastBatchSize = segments;
            _lastBatchAt = now;
            _recent.Enqueue((now, segments));
        }

        // Wake the writer now rather than at the next tick (at most one pending wake-up).
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }

        return outcome;
    }

    public void Dispose() => _changed.Dispose();

    /// <summary>Waits for the next recorded batch or the timeout, whichever comes first.</summary>
    internal Task<bool> WaitForChangeAsync(TimeSpan timeout, CancellationToken ct) => _changed.WaitAsync(timeout, ct);

    /// <summary>The figures as of now.</summary>
    internal (long Batches, long Segments, int LastBatchSize, DateTime? LastBatchAt, double SegmentsPerSecond) Snapshot()
    {
        var now = clock.GetUtcNow().UtcDateTime;
        lock (_lock)
        {
            while (_recent.Count > 0 && now - _recent.Peek().At > RateWindow)
            {
                _recent.Dequeue();
            }

            // Over the last minute, or since start for a younger process.
            double seconds = Math.Max(1, Math.Min(RateWindow.TotalSeconds, (now - StartedAt).TotalSeconds));
            return (_batches, _segments, _lastBatchSize, _lastBatchAt, _recent.Sum(r => r.Segments) / seconds);
        }
    }
}

/// <summary>
/// Keeps this encoder's <see cref="EncoderWorker"/> row current: after each batch and every
/// <see cref="EncoderHeartbeatOptions.Interval"/>, so a stalled heartbeat means a dead or hung worker.
/// </summary>
public sealed partial class EncoderHeartbeat(
    EncoderHeartbeatRecorder recorder,
    IServiceScopeFactory scopes,
    Microsoft.Extensions.Options.IOptions<EncoderHeartbeatOptions> options,
    TimeProvider clock,
    ILogger<EncoderHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        await ForgetSilentWorkersAsync(o.ForgetAfter, stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await WriteAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbUpdateException or InvalidOperationException or TimeoutException or System.Data.Common.DbException)
            {
                LogWriteFailed(logger, e); // the database is down; the next beat tries again
            }

            try
            {
                await recorder.WaitForChangeAsync(o.Interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Upserts this worker's row.</summary>
    internal async Task WriteAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        var model = scope.ServiceProvider.GetRequiredService<LiteVLModel>();
        var (batches, segments, lastSize, lastAt, rate) = recorder.Snapshot();
        var now = clock.GetUtcNow().UtcDateTime;
        // The device the sessions really run on once loaded (after a CUDA → CPU fallback), else the configured one.
        string provider = (model.ActiveDevice ?? model.Options.Device).ToString().ToLowerInvariant();
        string version = model.Config.Version;
        int updated = await db.EncoderWorkers.Where(w => w.Id == recorder.WorkerId).ExecuteUpdateAsync(
            s => s.SetProperty(w => w.Provider, provider)
                .SetProperty(w => w.ModelVersion, version)
                .SetProperty(w => w.LastHeartbeatAt, now)
                .SetProperty(w => w.Batches, batches)
                .SetProperty(w => w.Segments, segments)
                .SetProperty(w => w.LastBatchSize, lastSize)
                .SetProperty(w => w.LastBatchAt, lastAt)
                .SetProperty(w => w.SegmentsPerSecond, rate),
            ct).ConfigureAwait(false);
        if (updated == 0)
        {
            db.EncoderWorkers.Add(new EncoderWorker
            {
                Id = recorder.WorkerId,
                Provider = provider,
                ModelVersion = version,
                StartedAt = recorder.StartedAt,
                LastHeartbeatAt = now,
                Batches = batches,
                Segments = segments,
                LastBatchSize = lastSize,
                LastBatchAt = lastAt,
                SegmentsPerSecond = rate,
            });
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task ForgetSilentWorkersAsync(TimeSpan after, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            var cutoff = clock.GetUtcNow().UtcDateTime - after;
            await db.EncoderWorkers.Where(w => w.LastHeartbeatAt < cutoff).ExecuteDeleteAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or TimeoutException or System.Data.Common.DbException)
        {
            LogWriteFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the encoder heartbeat")]
    private static partial void LogWriteFailed(ILogger logger, Exception e);
}

/// <summary>Registration of the heartbeat (called by <see cref="EncoderExtensions.AddEncoder"/>).</summary>
public static class EncoderHeartbeatExtensions
{
    public static IServiceCollection AddEncoderHeartbeat(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EncoderHeartbeatOptions>().Bind(configuration.GetSection(EncoderHeartbeatOptions.Section))
            .Validate(o => o.Interval > TimeSpan.Zero && o.ForgetAfter > o.Interval, "LiteVL:Encoder:Heartbeat:Interval must be positive and ForgetAfter longer than it.")
            .ValidateOnStart();
        services.AddSingleton<EncoderHeartbeatRecorder>();
        services.AddHostedService<EncoderHeartbeat>();
        return services;
    }
}
