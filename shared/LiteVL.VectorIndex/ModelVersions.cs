using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LiteVL.VectorIndex;

/// <summary>Validation of model-version strings and their mapping to collection / file names.</summary>
internal static class ModelVersions
{
    private const int MaxLength = 128;
    private const int MaxSanitisedLength = 64;

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="modelVersion"/> is a usable version.</summary>
    public static void Validate(string modelVersion, string paramName = "modelVersion")
    {
        if (string.IsNullOrWhiteSpace(modelVersion))
        {
            throw new ArgumentException("A model version is required (it names the vector collection).", paramName);
        }

        if (modelVersion.Length > MaxLength)
        {
            throw new ArgumentException($"Model version is longer than {MaxLength} characters.", paramName);
        }

        foreach (var c in modelVersion)
        {
            if (char.IsControl(c))
            {
                throw new ArgumentException("Model version contains a control character.", paramName);
            }
        }
    }

    /// <summary>
    /// A name-safe form of the version: ASCII letters (lower-cased), digits, '.', '-' and '_' kept, anything else
    /// becomes '_'. When that changed the string (or it had to be shortened), the first 8 hex digits of the SHA-256 of the
    /// original version are appended, so two different versions never share a collection ("V1" ≠ "v1", "a/b" ≠ "a_b");
    /// the same happens to "active" (reserved for the alias) and to a leading '.'.
    /// </summary>
    public static string Sanitise(string modelVersion)
    {
        Validate(modelVersion);
        var sb = new StringBuilder(modelVersion.Length);
        foreach (var c in modelVersion)
        {
            sb.Append(c switch
            {
                (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_' => c,
                >= 'A' and <= 'Z' => (char)(c + ('a' - 'A')),
                _ => '_',
            });
        }

        var sanitised = sb.ToString();
        // "active" is reserved: the alias of the active collection is named <prefix>_active.
        if (sanitised == modelVersion && sanitised.Length <= MaxSanitisedLength && sanitised[0] != '.' && sanitised != "active")
        {
            return sanitised;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(modelVersion));
        var suffix = Convert.ToHexStringLower(hash.AsSpan(0, 4));
        if (sanitised.Length > MaxSanitisedLength)
        {
            sanitised = sanitised[..MaxSanitisedLength];
        }

        return string.Create(CultureInfo.InvariantCulture, $"{sanitised}_{suffix}");
    }
}
