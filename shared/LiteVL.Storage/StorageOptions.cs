using System.ComponentModel.DataAnnotations;

namespace LiteVL.Storage;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Where state and files live. Section <c>LiteVL:Storage</c>.</summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string Section = "LiteVL:Storage";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>ADO.NET connection string; for SQLite defaults to <c>Data Source={DataDirectory}/litevl.db</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Root of the blob store (originals, frames, thumbnails, features) and of the SQLite file.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    public string EffectiveConnectionString => ConnectionString is { Length: > 0 } cs
        ? cs
        : $"Data Source={Path.Combine(DataDirectory, "litevl.db")}";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Provider == DatabaseProvider.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult(
                "LiteVL:Storage:ConnectionString is required when LiteVL:Storage:Provider is Postgres (e.g. Host=127.0.0.1;Port=5432;Database=litevl;Username=litevl;Password=...).",
                [nameof(ConnectionString)]);
        }
    }
}
