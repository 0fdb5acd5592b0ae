using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline;

/// <summary>Section <c>LiteVL:Sweeper</c>.</summary>
public sealed class SweeperOptions
{
    public const string Section = "LiteVL:Sweeper";

    public bool Enabled { get; set; } = true;

    /// <summary>How often to look for orphan files.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Files written more recently than this are never removed: they may belong to an upload or a stage in progress.</summary>
    public TimeSpan MinAge { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>What one sweep removed: originals (files), media and feature directories, and the files in all of them.</summary>
public sealed record SweepResult(int Originals, int MediaDirectories, int FeatureDirectories, int Files)
{
    public int Total => Originals + MediaDirectories + FeatureDirectories;
}

/// <summary>
/// Removes blob-store files whose video no longer exists in the database — <c>originals/{tenant}/{id}</c>,
/// <c>media/{id}/</c>, <c>features/{id}/</c> — left by a deletion that raced a stage, a crashed upload or a failed
/// cleanup. Only what is older than <see cref="SweeperOptions.MinAge"/> goes (a directory only when its newest file
/// is); names that are not video ids are never touched. Works on the directory blob store.
/// </summary>
public sealed partial class OrphanSweeper(IServiceScopeFactory scopes, IBlobStore blobs, IOptions<SweeperOptions> options, TimeProvider clock, ILogger<OrphanSweeper> logger) : BackgroundService
{
    private const int QueryChunk = 500;

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
                await SweepOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException or System.Data.Common.DbException)
            {
                LogError(logger, e);
            }
        }
    }

    /// <summary>One pass over the blob root; returns what it removed.</summary>
    public async Task<SweepResult> SweepOnceAsync(CancellationToken ct = default)
    {
        if (blobs is not DirectoryBlobStore store)
        {
            return new SweepResult(0, 0, 0, 0);
        }

        var cutoff = clock.GetUtcNow().UtcDateTime - options.Value.MinAge;
        string root = store.Root;

        // Candidates: (kind, path, video id, tenant for originals), only those old enough.
        var originals = new List<(string Path, Guid Id, string Tenant)>();
        string originalsRoot = Path.Combine(root, "originals");
        if (Directory.Exists(originalsRoot))
        {
            foreach (string tenantDir in Directory.EnumerateDirectories(originalsRoot))
            {
                foreach (string file in Directory.EnumerateFiles(tenantDir))
                {
                    // originals/{tenant}/{id:N}, or an upload's temporary {id:N}.{guid:N}.tmp
                    string name = Path.GetFileName(file);
                    if (name.Length >= 32 && Guid.TryParseExact(name[..32], "N", out var id) && File.GetLastWriteTimeUtc(file) < cutoff)
                    {
                        originals.Add((file, id, Path.GetFileName(tenantDir)));
                    }
                }
            }
        }

        var media = OldVideoDirectories(Path.Combine(root, "media"), cutoff);
        var features = OldVideoDirectories(Path.Combine(root, "features"), cutoff);

        var ids = originals.Select(o => o.Id).Concat(media.Select(m => m.Id)).Concat(features.Select(f => f.Id)).Distinct().ToList();
        var existing = await ExistingAsync(ids, ct).ConfigureAwait(false);

        int originalCount = 0, mediaCount = 0, featureCount = 0, files = 0;
        foreach (var (path, id, tenant) in originals)
        {
            if (existing.TryGetValue(id, out string? owner) && string.Equals(owner, tenant, StringComparison.Ordinal))
            {
                continue;
            }

            if (TryDeleteFile(path))
            {
                originalCount++;
                files++;
                LogRemoved(logger, path, 1);
            }
        }

        foreach (var (path, id) in media)
        {
            if (!existing.ContainsKey(id) && TryDeleteDirectory(path, out int n))
            {
                mediaCount++;
                files += n;
            }
        }

        foreach (var (path, id) in features)
        {
            if (!existing.ContainsKey(id) && TryDeleteDirectory(path, out int n))
            {
                featureCount++;
                files += n;
            }
        }

        var result = new SweepResult(originalCount, mediaCount, featureCount, files);
        if (result.Total > 0)
        {
            LogSwept(logger, result.Originals, result.MediaDirectories, result.FeatureDirectories, result.Files);
        }

        return result;
    }

    /// <summary>Directories named by a video id (N format) whose newest entry is older than the cutoff.</summary>
    private static List<(string Path, Guid Id)> OldVideoDirectories(string parent, DateTime cutoff)
    {
        var found = new List<(string, Guid)>();
        if (!Directory.Exists(parent))
        {
            return found;
        }

        foreach (string dir in Directory.EnumerateDirectories(parent))
        {
            if (Guid.TryParseExact(Path.GetFileName(dir), "N", out var id) && NewestWrite(dir) < cutoff)
            {
                found.Add((dir, id));
            }
        }

        return found;
    }

    private static DateTime NewestWrite(string dir)
    {
        var newest = Directory.GetLastWriteTimeUtc(dir);
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            if (entry.LastWriteTimeUtc > newest)
            {
                newest = entry.LastWriteTimeUtc;
            }
        }

        return newest;
    }

    /// <summary>Video id → tenant of those that exist.</summary>
    private async Task<Dictionary<Guid, string>> ExistingAsync(List<Guid> ids, CancellationToken ct)
    {
        var existing = new Dictionary<Guid, string>();
        if (ids.Count == 0)
        {
            return existing;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        foreach (var chunk in ids.Chunk(QueryChunk))
        {
            var rows = await db.Videos.AsNoTracking().Where(v => chunk.Contains(v.Id)).Select(v => new { v.Id, v.TenantId }).ToListAsync(ct).ConfigureAwait(false);
            foreach (var row in rows)
            {
                existing[row.Id] = row.TenantId;
            }
        }

        return existing;
    }

    private bool TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogFailed(logger, path, e);
            return false;
        }
    }

    private bool TryDeleteDirectory(string path, out int files)
    {
        files = 0;
        try
        {
            files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Count();
            Directory.Delete(path, recursive: true);
            LogRemoved(logger, path, files);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogFailed(logger, path, e);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed orphan {Path} ({Files} files): its video no longer exists")]
    private static partial void LogRemoved(ILogger logger, string path, int files);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orphan sweep removed {Originals} originals, {Media} media and {Features} feature directories ({Files} files)")]
    private static partial void LogSwept(ILogger logger, int originals, int media, int features, int files);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove orphan {Path}")]
    private static partial void LogFailed(ILogger logger, string path, Exception e);

    [LoggerMessage(Level = LogLevel.Error, Message = "Orphan sweep failed")]
    private static partial void LogError(ILogger logger, Exception e);
}

public static class OrphanSweeperExtensions
{
    /// <summary>The sweeper as a hosted service, configured from <c>LiteVL:Sweeper</c>.</summary>
    public static IServiceCollection AddLiteVLOrphanSweeper(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<SweeperOptions>().Bind(configuration.GetSection(SweeperOptions.Section))
            .Validate(o => o.Interval > TimeSpan.Zero, "LiteVL:Sweeper:Interval must be positive.")
            .Validate(o => o.MinAge >= TimeSpan.Zero, "LiteVL:Sweeper:MinAge must not be negative.")
            .ValidateOnStart();
        services.AddSingleton<OrphanSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<OrphanSweeper>());
        return services;
    }
}
