using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LiteVL.ServiceDefaults;

/// <summary>Ready when the database answers (a real round trip, not just an open pool).</summary>
internal sealed class DatabaseHealthCheck(IServiceScopeFactory scopes) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        try
        {
            return await db.Database.CanConnectAsync(cancellationToken).ConfigureAwait(false)
                ? HealthCheckResult.Healthy(db.Database.ProviderName)
                : HealthCheckResult.Unhealthy($"cannot connect to the database ({db.Database.ProviderName})");
        }
        catch (Exception e) when (e is InvalidOperationException or System.Data.Common.DbException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"database: {e.Message}");
        }
    }
}

/// <summary>Ready when the blob store's directory accepts a write (a full or read-only volume is not ready).</summary>
internal sealed class BlobStoreHealthCheck(IBlobStore blobs) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        string key = $"health/{Environment.MachineName}-{Environment.ProcessId}";
        try
        {
            await blobs.WriteAsync(key, (s, ct) => s.WriteAsync("ok"u8.ToArray(), ct).AsTask(), cancellationToken).ConfigureAwait(false);
            blobs.Delete(key);
            return HealthCheckResult.Healthy(blobs is DirectoryBlobStore d ? d.Root : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy($"blob store: {e.Message}");
        }
    }
}
