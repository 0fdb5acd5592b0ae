namespace LiteVL.Cli.Ingest;

/// <summary>
/// Turns the command-line paths into <see cref="IngestItem"/>s: video files, folders (recursive, by extension),
/// archives (extracted safely to a temp folder) and manifests (.csv / .jsonl with per-video title and tags).
/// </summary>
public sealed class PathCollector
{
    public static readonly IReadOnlyList<string> DefaultExtensions =
        ["mp4", "mov", "m4v", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "wmv", "flv", "ogv", "3gp"];

    private readonly HashSet<string> _extensions;
    private readonly IReadOnlyList<string> _tags;
    private readonly ArchiveLimits _limits;

    public PathCollector(IEnumerable<string>? extensions = null, IReadOnlyList<string>? tags = null, ArchiveLimits? limits = null)
    {
        _extensions = new HashSet<string>((extensions ?? DefaultExtensions).Select(e => e.Trim().TrimStart('.').ToLowerInvariant()).Where(e => e.Length > 0), StringComparer.Ordinal);
        if (_extensions.Count == 0) throw new ArgumentException("--include-ext names no extension.");
        _tags = tags ?? [];
        _limits = limits ?? new ArchiveLimits();
    }

    public bool IsVideo(string path) => _extensions.Contains(Path.GetExtension(path).TrimStart('.').ToLowerInvariant());

    /// <summary>Collects every path; the caller disposes the plan to delete extracted archives.</summary>
    public IngestPlan Collect(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var plan = new IngestPlan();
        try
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (string raw in paths)
            {
                AddPath(plan, seen, raw, title: null, extraTags: [], source: raw);
            }
        }
        catch
        {
            plan.Dispose();
            throw;
        }

        return plan;
    }

    private void AddPath(IngestPlan plan, HashSet<string> seen, string raw, string? title, IReadOnlyList<string> extraTags, string source)
    {
        string full = Path.GetFullPath(raw);
        if (Directory.Exists(full))
        {
            foreach (string file in Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                         .Where(IsVideo).Order(StringComparer.Ordinal))
            {
                AddFile(plan, seen, file, null, extraTags, Path.Join(source, Path.GetRelativePath(full, file)));
            }

            return;
        }

        if (!File.Exists(full))
        {
            plan.Rejections.Add(new LocalRejection(source, "no such file or folder"));
            return;
        }

        if (ArchiveExtractor.IsArchive(full))
        {
            string target = Directory.CreateTempSubdirectory("litevl-ingest-").FullName;
            plan.AddTempDirectory(target);
            ArchiveExtraction result;
            try
            {
                result = ArchiveExtractor.Extract(full, target, _limits, IsVideo);
            }
            catch (InvalidDataException e)
            {
                plan.Rejections.Add(new LocalRejection(source, $"unreadable archive: {e.Message}"));
                return;
            }

            plan.Rejections.AddRange(result.Rejected);
            foreach (var entry in result.Extracted)
            {
                AddFile(plan, seen, entry.Path, null, extraTags, $"{source}!{entry.EntryName}");
            }

            return;
        }

        if (ManifestReader.IsManifest(full))
        {
            string folder = Path.GetDirectoryName(full)!;
            foreach (var row in ManifestReader.Read(full))
            {
                string rowPath = Path.IsPathRooted(row.Path) ? row.Path : Path.Combine(folder, row.Path);
                string rowSource = $"{source}:{row.Line} ({row.Path})";
                if (!File.Exists(rowPath))
                {
                    plan.Rejections.Add(new LocalRejection(rowSource, Directory.Exists(rowPath) ? "manifest rows name files, not folders" : "no such file"));
                    continue;
                }

                AddFile(plan, seen, rowPath, row.Title, row.Tags, rowSource);
            }

            return;
        }

        // A file named explicitly is sent whatever its extension: the server decides (415 when it is no video).
        AddFile(plan, seen, full, title, extraTags, source);
    }

    private void AddFile(IngestPlan plan, HashSet<string> seen, string path, string? title, IReadOnlyList<string> extraTags, string source)
    {
        string full = Path.GetFullPath(path);
        if (!seen.Add(full)) return;
        var tags = _tags.Concat(extraTags).Distinct(StringComparer.Ordinal).ToList();
        plan.Items.Add(new IngestItem(full, title ?? Path.GetFileNameWithoutExtension(full), tags, source));
    }
}
