using System.Text.Json;

namespace LiteVL.Cli.Evaluation;

/// <summary>One query: a caption whose ground truth is its video (a path relative to the videos folder).</summary>
/// <param name="Twin">An optional <c>"twin"</c> video: the clip's hard negative (its time reversal in <c>litevl data synth</c>); <c>litevl train</c> batches the two together.</param>
public sealed record EvalPair(int Line, string Video, string Caption, string? Twin = null);

/// <summary>
/// A text-to-video evaluation set read from JSON lines <c>{"video": "video7020.mp4", "caption": "..."}</c>
/// (MSR-VTT 1k-A style). A video may have several captions; every caption is one query.
/// </summary>
public sealed class EvalDataset
{
    private EvalDataset(IReadOnlyList<EvalPair> pairs) => Pairs = pairs;

    public IReadOnlyList<EvalPair> Pairs { get; }

    /// <summary>Distinct videos in order of first appearance.</summary>
    public IReadOnlyList<string> Videos => [.. Pairs.Select(p => p.Video).Distinct(StringComparer.Ordinal)];

    public static EvalDataset Load(string path, int? limit = null)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Dataset '{path}' not found.", path);
        }

        using var reader = new StreamReader(path);
        return Parse(reader, path, limit);
    }

    /// <summary>Reads JSON lines; blank lines are skipped; <paramref name="limit"/> keeps only the first N captions.</summary>
    public static EvalDataset Parse(TextReader reader, string name, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (limit is < 1)
        {
            throw new ArgumentException($"--limit must be at least 1, not {limit}.", nameof(limit));
        }

        var pairs = new List<EvalPair>();
        int number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (pairs.Count == limit)
            {
                break;
            }

            pairs.Add(ParseLine(line, name, number));
        }

        if (pairs.Count == 0)
        {
            throw new InvalidDataException($"{name}: no captions (expected JSON lines {{\"video\": \"video7020.mp4\", \"caption\": \"...\"}}).");
        }

        return new EvalDataset(pairs);
    }

    /// <summary>
    /// Reads JSON lines for training: a bad line (not JSON, no video, empty caption) is returned as a problem naming its
    /// line number instead of stopping the whole read.
    /// </summary>
    public static (List<EvalPair> Pairs, List<string> Problems) ParseLenient(IEnumerable<string> lines, string name) =>
        ParseLinesLenient(lines, (line, number) => ParseLine(line, name, number));

    /// <summary>
    /// Every non-blank line through <paramref name="parseLine"/> (given the line and its 1-based number); a line it
    /// refuses with an <see cref="InvalidDataException"/> becomes a problem ("… Left out.") instead of stopping the read.
    /// </summary>
    internal static (List<T> Items, List<string> Problems) ParseLinesLenient<T>(IEnumerable<string> lines, Func<string, int, T> parseLine)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var items = new List<T>();
        var problems = new List<string>();
        int number = 0;
        foreach (string line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                items.Add(parseLine(line, number));
            }
            catch (InvalidDataException e)
            {
                problems.Add(e.Message + " Left out.");
            }
        }

        return (items, problems);
    }

    private static EvalPair ParseLine(string line, string name, int number)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{name}:{number}: expected a JSON object with \"video\" and \"caption\".");
            }

            string video = Field(doc.RootElement, "video", name, number);
            string caption = Field(doc.RootElement, "caption", name, number);
            string? twin = doc.RootElement.TryGetProperty("twin", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } tw ? tw : null;
            return new EvalPair(number, video, caption, twin);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{name}:{number}: not valid JSON ({e.Message}).", e);
        }
    }

    private static string Field(JsonElement obj, string field, string name, int number) =>
        obj.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString()!.Trim()
            : throw new InvalidDataException($"{name}:{number}: \"{field}\" must be a non-empty string.");
}
