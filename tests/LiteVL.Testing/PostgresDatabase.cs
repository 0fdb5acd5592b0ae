using Npgsql;

namespace LiteVL.Testing;

/// <summary>
/// A throwaway PostgreSQL database: created with a unique name on a server given by its admin connection string (by
/// default <c>LITEVL_TEST_POSTGRES</c>, under the policy of <see cref="Servers"/>), dropped on dispose.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    private readonly string _adminConnection;

    private PostgresDatabase(string adminConnection, string name)
    {
        _adminConnection = adminConnection;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(adminConnection) { Database = name }.ConnectionString;
    }

    /// <summary>The database's name: the prefix and a fresh GUID.</summary>
    public string Name { get; }

    /// <summary>A connection string for this database (the admin's credentials).</summary>
    public string ConnectionString { get; }

    /// <summary>A fresh database on the server of <c>LITEVL_TEST_POSTGRES</c>; skipped (or failed under CI=true) without one.</summary>
    /// <param name="prefix">The start of the database's name (which test made it).</param>
    public static Task<PostgresDatabase> CreateAsync(string prefix) => CreateAsync(Servers.Require(Server.Postgres), prefix);

    /// <summary>A fresh database on the server of <paramref name="adminConnection"/> (e.g. a test's own cluster).</summary>
    public static async Task<PostgresDatabase> CreateAsync(string adminConnection, string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(adminConnection);
        var database = new PostgresDatabase(adminConnection, $"{prefix}_{Guid.NewGuid():N}");
        await using var connection = new NpgsqlConnection(adminConnection);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {database.Name}", connection);
        await create.ExecuteNonQueryAsync();
        return database;
    }

    /// <summary>Closes pooled connections and drops the database, even with sessions still open.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(_adminConnection);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The server is already gone (a test's own cluster stopped first): nothing to drop.
        }
    }
}
