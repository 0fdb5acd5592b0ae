using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace LiteVL.Storage;

/// <summary>Used only by <c>dotnet ef migrations add</c>; see docs in README ("Database migrations").</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteLiteVLDbContext>
{
    public SqliteLiteVLDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteLiteVLDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>Used only by <c>dotnet ef migrations add</c>; no connection is opened.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresLiteVLDbContext>
{
    public PostgresLiteVLDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresLiteVLDbContext>().UseNpgsql("Host=localhost;Database=litevl_design").Options);
}
