using System.Text;
using System.Text.Json;

namespace LiteVL.Cli.Ingest;

/// <summary>One manifest row: a path (relative to the manifest's folder, or absolute), title and tags.</summary>
public sealed record ManifestEntry(string Path, string? Title, IReadOnlyList<string> Tags, int Line);

/// <summary>
/// Reads <c>.csv</c> manifests (header <c>path,title,tags</c>; tags separated by <c>;</c> or <c>|</c>; RFC 4180 quoting)
/// and <c>.jsonl</c> manifests (one <c>{"path", "title", "tags": [...]}</c> object a line). Malformed manifests throw
/// <see cref="InvalidDataException"/> naming the file and line.
/// </summary>
public static class ManifestReader
{
    public static bool IsManifest(string path) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    public static IReadOnlyList<ManifestEntry> Read(string manifestPath)
    {
        using var reader = new StreamReader(manifestPath, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return manifestPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? ReadJsonLines(reader, manifestPath) : ReadCsv(reader, manifestPath);
    }

    public static IReadOnlyList<string> SplitTags(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : [.. value.Split([';', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];

    public static IReadOnlyList<ManifestEntry> ReadCsv(TextReader reader, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var entries = new List<ManifestEntry>();
        int line = 0;
        int pathColumn = -1, titleColumn = -1, tagsColumn = -1;
        while (ReadRecord(reader, ref line, name) is { } fields)
        {
            if (pathColumn < 0)
            {
                for (int i = 0; i < fields.Count; i++)
                {
                    switch (fields[i].Trim().ToLowerInvariant())
                    {
                        case "path": pathColumn = i; break;
                        case "title": titleColumn = i; break;
                        case "tags": tagsColumn = i; break;
                    }
                }

                if (pathColumn < 0)
                    throw new InvalidDataException($"{name}:{line}: the header must name the columns path,title,tags (found: {string.Join(",", fields)}).");
                continue;
            }

            if (fields.Count == 1 && fields[0].Trim().Length == 0) continue;  // a blank line
            string path = pathColumn < fields.Count ? fields[pathColumn].Trim() : string.Empty;
            if (path.Length == 0) throw new InvalidDataException($"{name}:{line}: empty path.");
            string? title = titleColumn >= 0 && titleColumn < fields.Count && fields[titleColumn].Trim().Length > 0 ? fields[titleColumn].Trim() : null;
            var tags = tagsColumn >= 0 && tagsColumn < fields.Count ? SplitTags(fields[tagsColumn]) : [];
            entries.Add(new ManifestEntry(path, title, tags, line));
        }

        if (pathColumn < 0) throw new InvalidDataException($"{name}: empty manifest (expected a header path,title,tags).");
        return entries;
    }

    public static IReadOnlyList<ManifestEntry> ReadJsonLines(TextReader reader, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var entries = new List<ManifestEntry>();
        int line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Trim().Length == 0) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(text);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{name}:{line}: not a JSON object: {e.Message}", e);
            }

            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{name}:{line}: not a JSON object.");
                if (!root.TryGetProperty("path", out var p) || p.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(p.GetString()))
                    throw new InvalidDataException($"{name}:{line}: \"path\" must be a non-empty string.");
                string? title = root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(t.GetString()) ? t.GetString()!.Trim() : null;
                IReadOnlyList<string> tags = [];
                if (root.TryGetProperty("tags", out var g))
                {
                    tags = g.ValueKind switch
                    {
                        JsonValueKind.Array => [.. g.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()!.Trim()
                            : throw new InvalidDataException($"{name}:{line}: \"tags\" must hold strings.")).Where(x => x.Length > 0).Distinct(StringComparer.Ordinal)],
                        JsonValueKind.String => SplitTags(g.GetString()),
                        JsonValueKind.Null => [],
                        _ => throw new InvalidDataException($"{name}:{line}: \"tags\" must be an array of strings."),
                    };
                }

                entries.Add(new ManifestEntry(p.GetString()!.Trim(), title, tags, line));
            }
        }

        return entries;
    }

    /// <summary>One CSV record (quoted fields may span lines), or null at the end.</summary>
    private static List<string>? ReadRecord(TextReader reader, ref int line, string name)
    {
        string? text = reader.ReadLine();
        if (text is null) return null;
        line++;
        int startLine = line;
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        int i = 0;
        while (true)
        {
            if (i >= text.Length)
            {
                if (!quoted) break;
                string? next = reader.ReadLine() ?? throw new InvalidDataException($"{name}:{startLine}: unterminated quoted field.");
                line++;
                field.Append('\n');
                text = next;
                i = 0;
                continue;
            }

            char c = text[i++];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i < text.Length && text[i] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
