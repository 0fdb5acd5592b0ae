using System.IO.Compression;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.IO;

/// <summary>
/// NumPy .npz archives: a zip of <c>NAME.npy</c> entries (<c>np.savez</c> stores them, <c>np.savez_compressed</c> deflates them).
/// See <see cref="Npy"/> for the array format (our own small implementation; no maintained .NET npy library exists).
/// </summary>
public static class Npz
{
    // Fixed entry timestamp so identical inputs give identical files.
    private static readonly DateTimeOffset EntryTime = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Reads every array, keyed by entry name without ".npy", in archive order.</summary>
    public static IReadOnlyDictionary<string, HostTensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        using FileStream fs = File.OpenRead(full);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new NpyFormatException($"'{full}' is not a valid .npz file: not a readable zip archive, truncated or not a zip at all ({ex.Message}).", ex);
        }

        using (zip)
        {
            var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/'))
                {
                    continue; // directory entry
                }

                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                {
                    throw new NpyFormatException($"'{full}': zip entry '{entry.FullName}' is not a .npy array; a .npz holds only NAME.npy entries.");
                }

                string key = entry.FullName[..^4];
                string where = $"'{key}' in '{full}'";
                HostTensor tensor;
                try
                {
                    using Stream s = entry.Open();
                    tensor = Npy.Read(s, where);
                }
                catch (InvalidDataException ex)
                {
                    throw new NpyFormatException($"Array {where}: the zip entry is corrupt ({ex.Message}).", ex);
                }

                if (!result.TryAdd(key, tensor))
                {
                    throw new NpyFormatException($"'{full}': the archive holds array '{key}' twice.");
                }
            }

            return result;
        }
    }

    /// <summary>
    /// Writes the arrays in the order given as NAME.npy entries (stored, or deflated when <paramref name="compressed"/>),
    /// to <c>path + ".tmp"</c> first and then renamed over <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, HostTensor>> arrays, bool compressed = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(arrays);
        List<KeyValuePair<string, HostTensor>> list = arrays.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, HostTensor tensor) in list)
        {
            if (string.IsNullOrEmpty(name))
            {
                throw new ArgumentException("Array names must be non-empty.", nameof(arrays));
            }

            if (tensor is null)
            {
                throw new ArgumentException($"Array '{name}' is null.", nameof(arrays));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Array '{name}' is given twice.", nameof(arrays));
            }

            _ = Npy.Descr(tensor.DType); // fail before creating anything if a dtype cannot be written
        }

        string tmp = path + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            {
                using (var zip = new ZipArchive(fs, ZipArchiveMode.Create, leaveOpen: true))
                {
                    foreach ((string name, HostTensor tensor) in list)
                    {
                        ZipArchiveEntry entry = zip.CreateEntry(
                            name + ".npy",
                            compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                        entry.LastWriteTime = EntryTime;
                        using Stream s = entry.Open();
                        Npy.Write(s, tensor);
                    }
                }

                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            SafeTensorsWriter.TryDelete(tmp);
            throw;
        }
    }
}
