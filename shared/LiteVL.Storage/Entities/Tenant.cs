namespace LiteVL.Storage.Entities;

public sealed class Tenant
{
    /// <summary>Short slug chosen by the admin (letters, digits, '-', '_').</summary>
    public required string Id { get; set; }

    public DateTime CreatedAt { get; set; }
}

/// <summary>An API key of a tenant. Only the SHA-256 of the secret is stored; the secret is shown once.</summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public required string TenantId { get; set; }

    public required string Name { get; set; }

    /// <summary>Lower-case hex SHA-256 of the whole key string.</summary>
    public required string KeyHash { get; set; }

    /// <summary>The first characters of the key, to recognise it in lists.</summary>
    public required string Prefix { get; set; }

    public bool IsAdmin { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? RevokedAt { get; set; }
}
