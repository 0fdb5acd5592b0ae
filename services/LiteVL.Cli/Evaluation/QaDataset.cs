using System.Text.Json;

namespace LiteVL.Cli.Evaluation;

/// <summary>One line of a video QA set: <c>{"video", "question", "answer", "type"?}</c> (several lines per video).</summary>
public sealed record QaLine(int Line, string Video, string Question, string Answer, string? Type);

/// <summary>Video QA JSON lines, as <c>litevl data synth</c> writes them (qa-train/val/test.jsonl) and as MSRVTT-QA converts to.</summary>
public static class QaDataset
{
    /// <summary>Reads every line; a bad one (not JSON, a field missing or empty) is returned as a problem naming its line.</summary>
    public static (List<QaLine> Lines, List<string> Problems) ParseLenient(IEnumerable<string> lines, string name) =>
        EvalDataset.ParseLinesLenient(lines, (line, number) => ParseLine(line, name, number));

    private static QaLine ParseLine(string line, string name, int number)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{name}:{number}: expected a JSON object with \"video\", \"question\" and \"answer\".");
            }

            string? type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(t.GetString()) ? t.GetString()!.Trim() : null;
            return new QaLine(number, Field(root, "video", name, number), Field(root, "question", name, number), Field(root, "answer", name, number), type);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{name}:{number}: not valid JSON ({e.Message}).", e);
        }
    }

    /// <summary>How answers are compared: lower case, outer whitespace and a final full stop dropped, inner whitespace single.</summary>
    public static string Normalise(string answer) =>
        string.Join(' ', answer.Trim().TrimEnd('.').ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string Field(JsonElement obj, string field, string name, int number) =>
        obj.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString()!.Trim()
            : throw new InvalidDataException($"{name}:{number}: \"{field}\" must be a non-empty string.");
}
