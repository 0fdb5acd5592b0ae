using LiteVL.Storage;
using LiteVL.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LiteVL.Storage.Tests;

/// <summary>
/// A fresh database of either provider with the storage services registered. PostgreSQL comes from
/// <c>LITEVL_TEST_POSTGRES</c> (an admin connection string; tests/run.sh starts a throwaway cluster and sets it) under the
/// policy of <see cref="Servers"/>: a test that asks for it is a [SkippableFact]/[SkippableTheory] and is skipped, with a
/// message, where it is missing, or fails under CI=true.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
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
            admin = Servers.Require(Server.Postgres);
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

/// <summary>Both providers, always: the PostgreSQL case is skipped with a message (or fails under CI=true) where no server is configured.</summary>
public sealed class ProvidersAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return [DatabaseProvider.Sqlite];
        yield return [DatabaseProvider.Postgres];
    }
}
