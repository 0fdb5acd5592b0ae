using LiteVL.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Testing;

/// <summary>
/// A fresh database of either provider with the storage services registered. PostgreSQL comes from
/// <c>LITEVL_TEST_POSTGRES</c> (an admin connection string; tests/run.sh starts a throwaway cluster and sets it) under the
/// policy of <see cref="Servers"/>: a test that asks for it is a [SkippableFact]/[SkippableTheory] and is skipped, with a
/// message, where it is missing, or fails under CI=true.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly PostgresDatabase? _postgres;

    private TestDatabase(ServiceProvider services, string dataDirectory, PostgresDatabase? postgres)
    {
        Services = services;
        DataDirectory = dataDirectory;
        _postgres = postgres;
    }

    public ServiceProvider Services { get; }

    public string DataDirectory { get; }

    public static async Task<TestDatabase> CreateAsync(DatabaseProvider provider)
    {
        string dir = Directory.CreateTempSubdirectory("litevl-storage-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = provider.ToString(),
            ["LiteVL:Storage:DataDirectory"] = dir,
        };
        PostgresDatabase? postgres = null;
        if (provider == DatabaseProvider.Postgres)
        {
            postgres = await PostgresDatabase.CreateAsync("litevl_test");
            settings["LiteVL:Storage:ConnectionString"] = postgres.ConnectionString;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).BuildServiceProvider();
        await services.MigrateLiteVLDatabaseAsync();
        return new TestDatabase(services, dir, postgres);
    }

    public AsyncServiceScope Scope() => Services.CreateAsyncScope();

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(DataDirectory, recursive: true);
    }
}

/// <summary>Both providers, always: the PostgreSQL case is skipped with a message (or fails under CI=true) where no server is configured.</summary>
public sealed class ProvidersAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return [DatabaseProvider.Sqlite];
        yield return [DatabaseProvider.Postgres];
    }
}
