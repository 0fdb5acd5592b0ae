using System.Security.Cryptography;
using System.Text;

namespace LiteVL.VectorIndex;

/// <summary>
/// Deterministic point ids: a name-based UUID, version 5 (RFC 9562 §5.5: SHA-1 over namespace bytes + name, big-endian
/// byte order, version nibble 5, RFC variant), so re-indexing a segment always addresses the same point.
/// </summary>
/// <remarks>
/// Namespace: <see cref="Namespace"/> (fixed, never change it: every stored point id depends on it).
/// Name: the UTF-8 bytes of <c>"{videoId:D}/{segmentIndex}/{modelVersion}"</c>, video id lower-case with hyphens,
/// segment index in invariant decimal. E.g. in Python:
/// <c>uuid.uuid5(uuid.UUID("6c6f5f1e-2a7b-4a53-9d8e-1b0c7f3e9a41"), f"{video}/{segment}/{version}")</c>.
/// </remarks>
public static class PointIds
{
    /// <summary>The UUID namespace of LiteVL segment points.</summary>
    public static readonly Guid Namespace = new("6c6f5f1e-2a7b-4a53-9d8e-1b0c7f3e9a41");

    /// <summary>The id of segment <paramref name="segmentIndex"/> of <paramref name="videoId"/> under
    /// <paramref name="modelVersion"/>.</summary>
    public static Guid For(Guid videoId, int segmentIndex, string modelVersion)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelVersion);
        ArgumentOutOfRangeException.ThrowIfNegative(segmentIndex);
        return NameBased(Namespace, $"{videoId:D}/{segmentIndex.ToString(System.Globalization.CultureInfo.InvariantCulture)}/{modelVersion}");
    }

    /// <summary>RFC 9562 UUIDv5 of <paramref name="name"/> (UTF-8) in <paramref name="namespaceId"/>.</summary>
    internal static Guid NameBased(Guid namespaceId, string name)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[16 + nameBytes.Length];
        if (!namespaceId.TryWriteBytes(input.AsSpan(0, 16), bigEndian: true, out _))
        {
            throw new InvalidOperationException("Could not write the namespace id.");
        }

        nameBytes.CopyTo(input, 16);
#pragma warning disable CA5350 // SHA-1 is what UUIDv5 is defined with; this is an identifier, not a security use.
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}
