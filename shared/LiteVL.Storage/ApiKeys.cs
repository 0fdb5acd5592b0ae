using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Storage;

/// <summary>A key as shown once to its owner.</summary>
public sealed record IssuedApiKey(Guid Id, string TenantId, string Name, string Key, bool IsAdmin, DateTime CreatedAt);

/// <summary>The authenticated caller of a request.</summary>
public sealed record Caller(Guid KeyId, string TenantId, bool IsAdmin);

/// <summary>
/// API keys per tenant, stored as SHA-256 hashes. Keys are 256 random bits, so a fast hash is the right tool (no
/// password stretching needed) and lookup by hash is exact.
/// </summary>
public sealed partial class ApiKeyService(LiteVLDbContext db, TimeProvider clock)
{
    public const string AdminTenant = "admin";
    private const string KeyPrefix = "lvk_";

    public async Task<IssuedApiKey> CreateAsync(string tenantId, string name, bool isAdmin = false, CancellationToken ct = default)
    {
        ValidateTenant(tenantId);
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200)
        {
            throw new ArgumentException("A key needs a name of 1 to 200 characters.", nameof(name));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (!await db.Tenants.AnyAsync(t => t.Id == tenantId, ct).ConfigureAwait(false))
        {
            db.Tenants.Add(new Tenant { Id = tenantId, CreatedAt = now });
        }

        string key = KeyPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var entity = new ApiKey
        {
            Id = Guid.NewGuid(),
            TenantId = tenantId,
            Name = name.Trim(),
            KeyHash = Hash(key),
            Prefix = key[..12],
            IsAdmin = isAdmin,
            CreatedAt = now,
        };
        db.ApiKeys.Add(entity);
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        return new IssuedApiKey(entity.Id, tenantId, entity.Name, key, isAdmin, now);
    }

    /// <summary>The caller of a key, or null when it is unknown or revoked.</summary>
    public async Task<Caller?> AuthenticateAsync(string? key, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(key) || !key.StartsWith(KeyPrefix, StringComparison.Ordinal) || key.Length > 100)
        {
            return null;
        }

        string hash = Hash(key);
        var found = await db.ApiKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Select(k => new Caller(k.Id, k.TenantId, k.IsAdmin))
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);
        return found;
    }

    /// <summary>Revokes a key; false when there is no such active key.</summary>
    public async Task<bool> RevokeAsync(Guid id, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        int changed = await db.ApiKeys.Where(k => k.Id == id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct).ConfigureAwait(false);
        return changed == 1;
    }

    /// <summary>
    /// Keeps a valid admin key in <paramref name="path"/>: creates one (owner-only file) when the file is missing or holds
    /// a key that no longer works. Used by the embedded host and by the Upload API when LiteVL:AdminKeyFile is set.
    /// </summary>
    public async Task<string> EnsureAdminKeyFileAsync(string path, CancellationToken ct = default)
    {
        if (File.Exists(path) && await AuthenticateAsync((await File.ReadAllTextAsync(path, ct).ConfigureAwait(false)).Trim(), ct).ConfigureAwait(false) is { IsAdmin: true })
        {
            return path;
        }

        var issued = await CreateAsync(AdminTenant, "admin key file", isAdmin: true, ct).ConfigureAwait(false);
        await WriteKeyFileAsync(path, issued.Key, ct).ConfigureAwait(false);
        return path;
    }

    /// <summary>
    /// Writes a key file owner-only and atomically (a temporary file in the same folder, then a rename), so a reader that
    /// sees the file never reads it empty or half written.
    /// </summary>
    public static async Task WriteKeyFileAsync(string path, string key, CancellationToken ct = default)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            await File.WriteAllTextAsync(temp, key + "\n", ct).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public Task<bool> AnyAdminKeyAsync(CancellationToken ct = default) =>
        db.ApiKeys.AnyAsync(k => k.IsAdmin && k.RevokedAt == null, ct);

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static void ValidateTenant(string tenantId)
    {
        if (string.IsNullOrEmpty(tenantId) || !TenantPattern().IsMatch(tenantId))
        {
            throw new ArgumentException($"Tenant '{tenantId}' is not valid: use 1 to 64 letters, digits, '-' or '_'.", nameof(tenantId));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex TenantPattern();
}
