using LiteVL.Storage.Blobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LiteVL.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// State (EF Core on SQLite or PostgreSQL), the blob store and the feature store, from <c>LiteVL:Storage</c>.
    /// Options are validated at start-up.
    /// </summary>
    public static IServiceCollection AddLiteVLStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>()
            .Bind(configuration.GetSection(StorageOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddDbContext<SqliteLiteVLDbContext>((sp, o) => o.UseSqlite(sp.GetRequiredService<IOptions<StorageOptions>>().Value.EffectiveConnectionString));
        services.AddDbContext<PostgresLiteVLDbContext>((sp, o) => o.UseNpgsql(
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.ConnectionString,
            npgsql => npgsql.EnableRetryOnFailure(5)));
        services.AddScoped<LiteVLDbContext>(sp => sp.GetRequiredService<IOptions<StorageOptions>>().Value.Provider == DatabaseProvider.Postgres
            ? sp.GetRequiredService<PostgresLiteVLDbContext>()
            : sp.GetRequiredService<SqliteLiteVLDbContext>());
        services.AddSingleton<IBlobStore>(sp => new DirectoryBlobStore(Path.Combine(sp.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory, "blobs")));
        services.AddSingleton<FeatureStore>();
        services.AddScoped<ApiKeyService>();
        services.AddScoped<VideoLedger>();
        services.AddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>Applies the checked-in migrations of the configured provider (SQLite: also WAL mode for concurrent readers).</summary>
    public static async Task MigrateLiteVLDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var options = scope.ServiceProvider.GetRequiredService<IOptions<StorageOptions>>().Value;
        Directory.CreateDirectory(options.DataDirectory);
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        await db.Database.MigrateAsync(ct).ConfigureAwait(false);
        if (options.Provider == DatabaseProvider.Sqlite)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct).ConfigureAwait(false);
        }
    }
}
