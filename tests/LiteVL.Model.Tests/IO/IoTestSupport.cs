using System.Buffers.Binary;
using System.Text;

namespace LiteVL.Model.Tests.IO;

/// <summary>A fresh temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "litevl-io-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

internal static class IoTestSupport
{
    /// <summary>Fixtures/npz in the test's output folder (the project copies Fixtures/** there).</summary>
    public static string NpzFixtureDirectory() => Path.Combine(AppContext.BaseDirectory, "Fixtures", "npz");

    /// <summary>Writes a safetensors file by hand: length prefix (or <paramref name="headerLengthOverride"/>), header JSON, data.</summary>
    public static void WriteRawSafeTensors(string path, string headerJson, byte[] data, ulong? headerLengthOverride = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, headerLengthOverride ?? (ulong)header.Length);
        fs.Write(prefix);
        fs.Write(header);
        fs.Write(data);
    }

    /// <summary>A .npy stream built by hand: magic, version, header length, header text (padded to 64) and data.</summary>
    public static MemoryStream RawNpy(string header, byte[] data, byte major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        int total = prefix + header.Length + 1;
        string padded = header + new string(' ', (64 - (total % 64)) % 64) + "\n";
        byte[] headerBytes = major == 3 ? Encoding.UTF8.GetBytes(padded) : Encoding.Latin1.GetBytes(padded);
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0]);
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)headerBytes.Length);
            ms.Write(len);
        }
        else
        {
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)headerBytes.Length);
            ms.Write(len);
        }

        ms.Write(headerBytes);
        ms.Write(data);
        ms.Position = 0;
        return ms;
    }

    public static byte[] Bytes<T>(params T[] values)
        where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
