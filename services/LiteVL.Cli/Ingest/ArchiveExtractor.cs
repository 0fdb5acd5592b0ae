using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;

namespace LiteVL.Cli.Ingest;

/// <summary>Limits that keep a hostile archive from filling the disk or writing outside the target.</summary>
public sealed record ArchiveLimits
{
    /// <summary>Entries read per archive (directories included); the rest is not extracted.</summary>
    public int MaxEntries { get; init; } = 10_000;

    /// <summary>Bytes extracted per archive, all entries together.</summary>
    public long MaxTotalBytes { get; init; } = 50L * 1024 * 1024 * 1024;

    /// <summary>An entry whose uncompressed/compressed ratio exceeds this...</summary>
    public double MaxCompressionRatio { get; init; } = 100;

    /// <summary>...and whose uncompressed size exceeds this is refused as a compression bomb.</summary>
    public long RatioThresholdBytes { get; init; } = 10L * 1024 * 1024;
}

/// <summary>An archive entry written to disk.</summary>
public sealed record ExtractedEntry(string EntryName, string Path, long Bytes);

/// <summary>The outcome of extracting one archive.</summary>
public sealed record ArchiveExtraction(IReadOnlyList<ExtractedEntry> Extracted, IReadOnlyList<LocalRejection> Rejected);

/// <summary>
/// Extracts zip, tar, tar.gz/tgz archives one entry at a time (never a whole entry in memory), refusing: paths that escape
/// the target (<c>..</c>, absolute paths, drive letters), symbolic and hard links, device files and FIFOs, compression
/// bombs (ratio and total-size caps) and archives with too many entries. Each refusal is reported with its reason.
/// </summary>
public static class ArchiveExtractor
{
    private const int BufferSize = 81920;

    public static bool IsArchive(string path) => Kind(path) is not null;

    private static string? Kind(string path)
    {
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".zip", StringComparison.Ordinal)) return "zip";
        if (name.EndsWith(".tar", StringComparison.Ordinal)) return "tar";
        if (name.EndsWith(".tar.gz", StringComparison.Ordinal) || name.EndsWith(".tgz", StringComparison.Ordinal)) return "tgz";
        return null;
    }

    /// <summary>Extracts the entries for which <paramref name="wanted"/> is true (by entry name) into <paramref name="target"/>.</summary>
    public static ArchiveExtraction Extract(string archivePath, string target, ArchiveLimits limits, Func<string, bool> wanted)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(wanted);
        Directory.CreateDirectory(target);
        string root = Path.GetFullPath(target);
        var state = new Run(archivePath, root, limits, wanted);
        switch (Kind(archivePath))
        {
            case "zip":
                ExtractZip(state);
                break;
            case "tar":
            case "tgz":
                ExtractTar(state, gzip: Kind(archivePath) == "tgz");
                break;
            default:
                throw new ArgumentException($"{archivePath} is not a .zip, .tar, .tar.gz or .tgz archive.");
        }

        return new ArchiveExtraction(state.Extracted, state.Rejected);
    }

    /// <summary>
    /// The absolute path an entry name maps to under <paramref name="root"/>, or null with the reason when it is unsafe:
    /// empty, NUL, absolute, a drive letter or UNC path, or <c>..</c> segments that climb out of the target.
    /// </summary>
    public static string? SafeTarget(string root, string entryName, out string reason)
    {
        reason = string.Empty;
        if (string.IsNullOrEmpty(entryName))
        {
            reason = "empty entry name";
            return null;
        }

        if (entryName.Contains('\0', StringComparison.Ordinal))
        {
            reason = "NUL character in entry name";
            return null;
        }

        if (entryName.Length >= 2 && char.IsAsciiLetter(entryName[0]) && entryName[1] == ':')
        {
            reason = "drive letter in entry name";
            return null;
        }

        if (entryName[0] is '/' or '\\')
        {
            reason = "absolute path";
            return null;
        }

        var segments = new List<string>();
        foreach (string segment in entryName.Split('/', '\\'))
        {
            if (segment.Length == 0 || segment == ".") continue;
            if (segment == "..")
            {
                if (segments.Count == 0)
                {
                    reason = "path escapes the extraction folder (zip-slip)";
                    return null;
                }

                segments.RemoveAt(segments.Count - 1);
                continue;
            }

            if (segment.Contains(':', StringComparison.Ordinal))
            {
                reason = "':' in entry name (drive or stream syntax)";
                return null;
            }

            segments.Add(segment);
        }

        if (segments.Count == 0)
        {
            reason = "entry name resolves to the extraction folder itself";
            return null;
        }

        string rootFull = Path.GetFullPath(root);
        string full = Path.GetFullPath(Path.Combine([rootFull, .. segments]));
        string prefix = rootFull.EndsWith(Path.DirectorySeparatorChar) ? rootFull : rootFull + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
        {
            reason = "path escapes the extraction folder (zip-slip)";
            return null;
        }

        return full;
    }

    private static void ExtractZip(Run run)
    {
        using var archive = ZipFile.OpenRead(run.ArchivePath);
        foreach (var entry in archive.Entries)
        {
            if (!run.CountEntry()) return;
            string name = entry.FullName;
            if (name.EndsWith('/') || name.EndsWith('\\')) continue;  // a directory
            int unixType = (entry.ExternalAttributes >> 16) & 0xF000;
            if (unixType == 0xA000)
            {
                run.Reject(name, "symbolic link");
                continue;
            }

            if (unixType is 0x2000 or 0x6000 or 0x1000 or 0xC000)
            {
                run.Reject(name, "device file, FIFO or socket");
                continue;
            }

            if (!run.Wanted(name)) continue;
            string? path = SafeTarget(run.Root, name, out string reason);
            if (path is null)
            {
                run.Reject(name, reason);
                continue;
            }

            long compressed = Math.Max(1, entry.CompressedLength);
            if (entry.Length > run.Limits.RatioThresholdBytes && (double)entry.Length / compressed > run.Limits.MaxCompressionRatio)
            {
                run.Reject(name, string.Create(CultureInfo.InvariantCulture,
                    $"compression ratio {(double)entry.Length / compressed:F0}:1 for {entry.Length} bytes exceeds {run.Limits.MaxCompressionRatio:F0}:1 (possible zip bomb)"));
                continue;
            }

            using var input = entry.Open();
            // The declared size may lie: cap the copy at the declared size as well as the ratio and total caps.
            run.Write(name, path, input, declaredLength: entry.Length, compressedLength: () => compressed);
        }
    }

    private static void ExtractTar(Run run, bool gzip)
    {
        using var file = File.OpenRead(run.ArchivePath);
        using Stream source = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new TarReader(source, leaveOpen: true);
        while (reader.GetNextEntry(copyData: false) is { } entry)
        {
            if (!run.CountEntry()) return;
            string name = entry.Name;
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    continue;
                case TarEntryType.SymbolicLink:
                    run.Reject(name, $"symbolic link (to {entry.LinkName})");
                    continue;
                case TarEntryType.HardLink:
                    run.Reject(name, $"hard link (to {entry.LinkName})");
                    continue;
                case TarEntryType.CharacterDevice:
                case TarEntryType.BlockDevice:
                    run.Reject(name, "device file");
                    continue;
                case TarEntryType.Fifo:
                    run.Reject(name, "FIFO");
                    continue;
                case TarEntryType.RegularFile:
                case TarEntryType.V7RegularFile:
                case TarEntryType.ContiguousFile:
                    break;
                default:
                    run.Reject(name, $"unsupported tar entry type {entry.EntryType}");
                    continue;
            }

            if (!run.Wanted(name) || entry.DataStream is null) continue;
            string? path = SafeTarget(run.Root, name, out string reason);
            if (path is null)
            {
                run.Reject(name, reason);
                continue;
            }

            // Tar entries have no compressed size of their own: for .tar.gz the compressed bytes consumed from the file
            // while the entry is read stand in for it (to within the gzip buffer), for a plain tar the ratio is 1.
            long startPosition = file.Position;
            Func<long> compressed = gzip ? () => Math.Max(1, file.Position - startPosition) : () => long.MaxValue;
            run.Write(name, path, entry.DataStream, declaredLength: entry.Length, compressedLength: compressed);
        }
    }

    private sealed class Run(string archivePath, string root, ArchiveLimits limits, Func<string, bool> wanted)
    {
        private int _entries;
        private long _total;

        public string ArchivePath { get; } = archivePath;

        public string Root { get; } = root;

        public ArchiveLimits Limits { get; } = limits;

        public List<ExtractedEntry> Extracted { get; } = [];

        public List<LocalRejection> Rejected { get; } = [];

        public bool Wanted(string name) => wanted(name);

        public bool CountEntry()
        {
            if (++_entries <= Limits.MaxEntries) return true;
            Rejected.Add(new LocalRejection($"{ArchivePath}!*", $"too many entries (more than {Limits.MaxEntries}); the rest was not extracted"));
            return false;
        }

        public void Reject(string name, string reason) => Rejected.Add(new LocalRejection($"{ArchivePath}!{name}", reason));

        public void Write(string name, string path, Stream input, long declaredLength, Func<long> compressedLength)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (File.Exists(path))
            {
                Reject(name, "duplicate entry name");
                return;
            }

            string? failure = null;
            long written = 0;
            using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                byte[] buffer = new byte[BufferSize];
                int n;
                while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
                {
                    written += n;
                    if (written > declaredLength)
                    {
                        failure = $"entry holds more data than its declared {declaredLength} bytes";
                        break;
                    }

                    if (_total + written > Limits.MaxTotalBytes)
                    {
                        failure = $"extracting it would pass the total cap of {Limits.MaxTotalBytes} bytes";
                        break;
                    }

                    if (written > Limits.RatioThresholdBytes)
                    {
                        long c = compressedLength();
                        if (c != long.MaxValue && (double)written / c > Limits.MaxCompressionRatio)
                        {
                            failure = string.Create(CultureInfo.InvariantCulture,
                                $"compression ratio above {Limits.MaxCompressionRatio:F0}:1 past {Limits.RatioThresholdBytes} bytes (possible compression bomb)");
                            break;
                        }
                    }

                    output.Write(buffer, 0, n);
                }
            }

            if (failure is not null)
            {
                File.Delete(path);
                Reject(name, failure);
                return;
            }

            _total += written;
            Extracted.Add(new ExtractedEntry(name, path, written));
        }
    }
}
