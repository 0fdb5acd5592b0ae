using LiteVL.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LiteVL.Storage.Tests;

/// <summary>
/// A fresh database of either provider with the storage services registered. PostgreSQL comes from
/// <c>LITEVL_TEST_POSTGRES</c> (an admin connection string; tests/run.sh starts a throwaway cluster and sets it).
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string PostgresVariable = "LITEVL_TEST_POSTGRES";

    private readonly string? _adminConnection;
    private readonly string? _databaseName;

    private TestDatabase(ServiceProvider services, string dataDirectory, string? adminConnection, string? databaseName)
    {
        Services = services;
        DataDirectory = dataDirectory;
        _adminConnection = adminConnection;
        _databaseName = databaseName;
    }

    public ServiceProvider Services { get; }

    public string DataDirectory { get; }

    public static string? PostgresAdminConnection => Environment.GetEnvironmentVariable(PostgresVariable);

    public static async Task<TestDatabase> CreateAsync(DatabaseProvider provider)
    {
        string dir = Directory.CreateTempSubdirectory("litevl-storage-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = provider.ToString(),
            ["LiteVL:Storage:DataDirectory"] = dir,
        };
        string? admin = null;
        string? name = null;
        if (provider == DatabaseProvider.Postgres)
        {
            admin = PostgresAdminConnection ?? throw new InvalidOperationException($"{PostgresVariable} is not set: run the tests through ./tests/run.sh, which starts PostgreSQL.");
            name = $"litevl_test_{Guid.NewGuid():N}";
            await using (var connection = new NpgsqlConnection(admin))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
                await command.ExecuteNonQueryAsync();
            }

            settings["LiteVL:Storage:ConnectionString"] = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).BuildServiceProvider();
        await services.MigrateLiteVLDatabaseAsync();
        return new TestDatabase(services, dir, admin, name);
    }

    public AsyncServiceScope Scope() => Services.CreateAsyncScope();

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        if (_adminConnection is not null && _databaseName is not null)
        {
            await using var connection = new NpgsqlConnection(_adminConnection);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_databaseName} WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(DataDirectory, recursive: true);
    }
}

/// <summary>Runs for PostgreSQL only when a server is configured; tests/run.sh always configures one.</summary>
public sealed class ProvidersAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return [DatabaseProvider.Sqlite];
        if (TestDatabase.PostgresAdminConnection is not null || Environment.GetEnvironmentVariable("CI") is not null)
        {
            yield return [DatabaseProvider.Postgres];
        }
    }
}
