using System.Globalization;
using System.Text;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace LiteVL.Model.Text;

/// <summary>A padded batch of token ids, row-major [BatchSize, Length].</summary>
/// <param name="InputIds">Token ids, BatchSize × Length.</param>
/// <param name="AttentionMask">1 for real tokens, 0 for padding, BatchSize × Length.</param>
/// <param name="BatchSize">Number of texts.</param>
/// <param name="Length">Sequence length (the tokenizer's MaxLength).</param>
/// <param name="Truncated">Per text: whether tokens were dropped to fit Length.</param>
public sealed record TokenBatch(long[] InputIds, long[] AttentionMask, int BatchSize, int Length, IReadOnlyList<bool> Truncated);

/// <summary>
/// BLIP's text tokenizer: Hugging Face <c>BertTokenizer</c> for bert-base-uncased (lower case, strip accents,
/// clean text, Chinese-character splitting) with <c>[DEC]</c> = 30522 and <c>[ENC]</c> = 30523 appended.
/// </summary>
/// <remarks>
/// The WordPiece work is done by Hugging Face's own Rust <c>tokenizers</c> (0.22.2) through Tokenizers.DotNet, loaded
/// from a tokenizer.json generated from the vocabulary (see <see cref="HfTokenizerJson"/>), so ids equal Hugging Face's;
/// Fixtures/tokenizer/expected.json in the tests proves it on 261 sentences.
/// One known difference from Python's slow <c>BertTokenizer</c> (which BLIP's code uses): it lower-cases each word with
/// <c>str.lower()</c>, so an upper-case word-final Σ becomes ς, whereas Rust's BertNormalizer lower-cases character by
/// character (σ). This only affects <see cref="EncodeRaw"/> on upper-case Greek: <see cref="Encode"/> first applies
/// <see cref="CleanCaption"/>, which lower-cases as Python does, after which both agree.
/// Thread safety: every call into the native tokenizer holds a private lock, so one instance may serve concurrent
/// <see cref="Encode"/> calls (the native call takes microseconds per caption).
/// </remarks>
public sealed class BlipTokenizer : IDisposable
{
    public const int DefaultMaxLength = 35;
    public const int ClsId = 101, SepId = 102, PadId = 0, UnkId = 100, DecId = 30522, EncId = 30523;
    internal const int MaskId = 103;

    private readonly Lock _gate = new();
    private readonly string[] _vocab;
    private HfTokenizer? _native;

    private BlipTokenizer(string[] vocab, int maxLength, string source)
    {
        if (maxLength < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "MaxLength must leave room for [CLS] and [SEP] (at least 2).");
        }

        _vocab = vocab;
        MaxLength = maxLength;

        // Tokenizers.DotNet loads only from a file: write the tokenizer.json to a private temp file and delete it.
        var json = HfTokenizerJson.Build(vocab);
        var tempPath = Path.Combine(Path.GetTempPath(), $"litevl-blip-tokenizer-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllBytes(tempPath, json);
            _native = new HfTokenizer(tempPath);
        }
        catch (Exception e) when (e is Tokenizers.DotNet.TokenizerException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"Could not create the Hugging Face tokenizer for the vocabulary {source}: {e.Message}", e);
        }
        finally
        {
            try
            {
                File.Delete(tempPath);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp file is harmless.
            }
        }

        // Self-check: the native side must agree on the ids BLIP depends on.
        var probe = EncodeNative("[ENC][DEC]");
        if (probe.Length != 4 || probe[0] != ClsId || probe[1] != EncId || probe[2] != DecId || probe[3] != SepId)
        {
            Dispose();
            throw new InvalidOperationException(
                $"The Hugging Face tokenizer built from {source} encodes \"[ENC][DEC]\" as [{string.Join(", ", probe)}]; " +
                $"expected [{ClsId}, {EncId}, {DecId}, {SepId}].");
        }
    }

    /// <summary>Maximum sequence length of <see cref="Encode"/> (including [CLS]/[ENC] and [SEP]).</summary>
    public int MaxLength { get; }

    /// <summary>
    /// Loads a BLIP model directory's vocab.txt: 30524 lines, bert-base-uncased then [DEC] (30522) and [ENC] (30523).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not BLIP's BERT vocabulary.</exception>
    public static BlipTokenizer FromVocabFile(string vocabPath, int maxLength = DefaultMaxLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        var full = Path.GetFullPath(vocabPath);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"BLIP vocabulary file not found: '{full}'. Expected the model directory's vocab.txt " +
                $"({BertVocabulary.BlipSize} lines: bert-base-uncased, then [DEC] and [ENC]).", full);
        }

        string content;
        try
        {
            content = File.ReadAllText(full, new UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"BLIP vocabulary file '{full}' is not valid UTF-8.", e);
        }

        var tokens = BertVocabulary.SplitLines(content.StartsWith('\uFEFF') ? content[1..] : content).ToArray();
        Validate(tokens, full);
        return new BlipTokenizer(tokens, maxLength, $"'{full}'");
    }

    /// <summary>The tokenizer over the embedded bert-base-uncased vocabulary plus [DEC]/[ENC] (no file needed).</summary>
    public static BlipTokenizer CreateDefault(int maxLength = DefaultMaxLength)
        => new([.. BertVocabulary.Blip], maxLength, "embedded bert-base-uncased + [DEC]/[ENC]");

    /// <summary>
    /// BLIP's <c>pre_caption(caption, max_words)</c> with Python's <c>re</c> and <c>str</c> semantics, step by step:
    /// <list type="number">
    /// <item><c>str.lower()</c>: Unicode full mapping (final sigma, U+0130 → "i̇").</item>
    /// <item><c>re.sub(r"([.!\"()*#:;~])", ' ', …)</c>: each of <c>. ! " ( ) * # : ; ~</c> becomes a space.</item>
    /// <item><c>re.sub(r"\s{2,}", ' ', …)</c>: a run of two or more whitespace characters becomes one space; a lone one
    /// (a single <c>\t</c>, <c>\f</c>, <c>\v</c>, U+0085 …) stays as it is. <c>\s</c> of a <c>str</c> pattern is
    /// Unicode whitespace as <c>str.isspace()</c> defines it (<see cref="IsPythonWhitespace"/>), which differs from
    /// <see cref="char.IsWhiteSpace(char)"/> by U+001C–U+001F.</item>
    /// <item><c>rstrip('\n')</c> then <c>strip(' ')</c>: trailing line feeds, then leading and trailing spaces — only those
    /// characters.</item>
    /// <item><c>split(' ')</c>: more than <paramref name="maxWords"/> space-separated pieces keeps the first ones.</item>
    /// </list>
    /// </summary>
    /// <param name="maxWords">pre_caption's <c>max_words</c> (its default, 50).</param>
    public static string CleanCaption(string text, int maxWords = 50)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lower = PythonLower(text);
        var sb = new StringBuilder(lower.Length);
        for (int i = 0; i < lower.Length;)
        {
            char c = IsCaptionPunctuation(lower[i]) ? ' ' : lower[i];
            if (!IsPythonWhitespace(c))
            {
                sb.Append(c);
                i++;
                continue;
            }

            int run = i + 1;
            while (run < lower.Length && (IsPythonWhitespace(lower[run]) || IsCaptionPunctuation(lower[run])))
            {
                run++;
            }

            sb.Append(run - i >= 2 ? ' ' : c);
            i = run;
        }

        int end = sb.Length;
        while (end > 0 && sb[end - 1] == '\n')
        {
            end--;
        }

        string cleaned = sb.ToString(0, end).Trim(' ');
        var words = cleaned.Split(' ');
        return words.Length > maxWords ? string.Join(' ', words[..maxWords]) : cleaned;
    }

    /// <summary>Python's <c>str.isspace()</c>, which is what <c>\s</c> matches in a <c>str</c> pattern (all in the BMP).</summary>
    public static bool IsPythonWhitespace(char c) =>
        c is '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or '\u001c' or '\u001d' or '\u001e' or '\u001f' or '\u0085' or '\u00a0' or '\u1680'
            or (>= '\u2000' and <= '\u200a') or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000';

    private static bool IsCaptionPunctuation(char c) => c is '.' or '!' or '"' or '(' or ')' or '*' or '#' or ':' or ';' or '~';

    /// <summary>Hugging Face BertTokenizer ids of <paramref name="text"/> as given (no BLIP cleaning): [CLS] … [SEP], no truncation or padding.</summary>
    public IReadOnlyList<int> EncodeRaw(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeNative(text);
    }

    /// <summary>
    /// Text of generated ids, as Hugging Face's <c>decode(ids, skip_special_tokens=True)</c>: special tokens dropped,
    /// "##" pieces joined to the word before them, words separated by one space, no space before . , ? ! ' or after '.
    /// </summary>
    public string Decode(IEnumerable<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new System.Text.StringBuilder();
        foreach (long id in ids)
        {
            if (id is PadId or ClsId or SepId or MaskId or DecId or EncId || id < 0 || id >= _vocab.Length)
            {
                continue;
            }

            string piece = _vocab[id];
            if (piece.StartsWith("##", StringComparison.Ordinal))
            {
                sb.Append(piece.AsSpan(2));
            }
            else
            {
                bool glue = sb.Length == 0 || piece is "." or "," or "?" or "!" or "'" || sb[^1] == '\'';
                sb.Append(glue ? piece : " " + piece);
            }
        }

        return sb.ToString();
    }

    /// <summary>Word pieces of the cleaned text (without [CLS]/[SEP]), for display.</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        var ids = EncodeNative(CleanCaption(text));
        var pieces = new string[ids.Length - 2];
        for (var i = 1; i < ids.Length - 1; i++)
        {
            pieces[i - 1] = _vocab[ids[i]];
        }

        return pieces;
    }

    /// <summary>
    /// Cleans each text (<see cref="CleanCaption"/>), tokenizes it to [CLS] … [SEP] ([ENC] first when
    /// <paramref name="grounded"/>, for the video-grounded encoder), truncates to <see cref="MaxLength"/> keeping [SEP]
    /// last, and pads with [PAD] (mask 0).
    /// </summary>
    public TokenBatch Encode(IReadOnlyList<string> texts, bool grounded = false)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var length = MaxLength;
        var inputIds = new long[texts.Count * length];
        var mask = new long[texts.Count * length];
        var truncated = new bool[texts.Count];
        for (var b = 0; b < texts.Count; b++)
        {
            var text = texts[b] ?? throw new ArgumentException($"texts[{b}] is null.", nameof(texts));
            var ids = EncodeNative(CleanCaption(text));
            var n = Math.Min(ids.Length, length);
            var row = b * length;
            for (var i = 0; i < n; i++)
            {
                inputIds[row + i] = ids[i];
                mask[row + i] = 1;
            }

            if (ids.Length > length)
            {
                inputIds[row + length - 1] = SepId;
                truncated[b] = true;
            }

            if (grounded)
            {
                inputIds[row] = EncId;
            }
        }

        return new TokenBatch(inputIds, mask, texts.Count, length, truncated);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _native?.Dispose();
            _native = null;
        }
    }

    private int[] EncodeNative(string text)
    {
        text = ReplaceLoneSurrogates(text);
        uint[] raw;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_native is null, this);
            raw = _native.Encode(text);
        }

        var ids = new int[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            ids[i] = checked((int)raw[i]);
        }

        return ids;
    }

    /// <summary>
    /// The native side rejects ill-formed UTF-16 ("Invalid UTF-16 text string"). Python's BertTokenizer drops a lone
    /// surrogate (category Cs counts as a control character); U+FFFD is dropped by BertNormalizer's clean_text, so the
    /// replacement gives the same ids.
    /// </summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        char[]? fixedChars = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                fixedChars ??= text.ToCharArray();
                fixedChars[i] = '\uFFFD';
            }
        }

        return fixedChars is null ? text : new string(fixedChars);
    }

    private static void Validate(string[] tokens, string path)
    {
        if (tokens.Length != BertVocabulary.BlipSize)
        {
            var hint = tokens.Length == BertVocabulary.BaseUncasedSize
                ? " It looks like plain bert-base-uncased: [DEC] and [ENC] must be appended (BertVocabulary.WriteModelVocab writes the right file)."
                : string.Empty;
            throw new InvalidDataException(
                $"BLIP vocabulary file '{path}' has {tokens.Length} tokens; expected {BertVocabulary.BlipSize} " +
                $"(bert-base-uncased's {BertVocabulary.BaseUncasedSize}, then [DEC] and [ENC]).{hint}");
        }

        foreach (var (id, expected) in new[]
        {
            (PadId, "[PAD]"), (UnkId, "[UNK]"), (ClsId, "[CLS]"), (SepId, "[SEP]"), (MaskId, "[MASK]"),
            (DecId, "[DEC]"), (EncId, "[ENC]"),
        })
        {
            if (!string.Equals(tokens[id], expected, StringComparison.Ordinal))
            {
                var actual = Array.IndexOf(tokens, expected);
                throw new InvalidDataException(
                    $"BLIP vocabulary file '{path}' is not a BERT vocabulary with BLIP's special tokens: line {id + 1} (id {id}) is " +
                    $"'{tokens[id]}', expected '{expected}'" + (actual >= 0 ? $" ('{expected}' is at id {actual})." : $" ('{expected}' is absent)."));
            }
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].Length == 0 || tokens[i].Any(char.IsWhiteSpace))
            {
                throw new InvalidDataException($"BLIP vocabulary file '{path}' line {i + 1} is empty or contains whitespace.");
            }

            if (!seen.Add(tokens[i]))
            {
                throw new InvalidDataException($"BLIP vocabulary file '{path}' repeats token '{tokens[i]}' at line {i + 1}.");
            }
        }
    }

    /// <summary>
    /// Python's <c>str.lower()</c> (which BLIP's pre_caption uses): .NET invariant lower-casing plus the two
    /// differences that matter here, the full mapping of U+0130 to "i\u0307" and the Final_Sigma rule (Σ → ς at a
    /// word's end). BertNormalizer lower-cases again per character, so these choices change ids (σ and ς are distinct).
    /// </summary>
    internal static string PythonLower(string text)
    {
        if (!text.Contains('\u0130', StringComparison.Ordinal) && !text.Contains('\u03A3', StringComparison.Ordinal))
        {
            return text.ToLowerInvariant();
        }

        var sb = new StringBuilder(text.Length + 4);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\u0130')
            {
                sb.Append("i\u0307");
            }
            else if (c == '\u03A3')
            {
                sb.Append(IsFinalSigma(text, i) ? '\u03C2' : '\u03C3');
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString().ToLowerInvariant();
    }

    // Unicode Final_Sigma: preceded by a cased letter (skipping case-ignorable characters) and not followed by one.
    private static bool IsFinalSigma(string s, int index)
    {
        var before = false;
        for (var j = index - 1; j >= 0; j--)
        {
            if (char.IsLowSurrogate(s[j]) && j > 0 && char.IsHighSurrogate(s[j - 1]))
            {
                j--;
            }

            if (IsCaseIgnorable(s, j))
            {
                continue;
            }

            before = IsCased(s, j);
            break;
        }

        if (!before)
        {
            return false;
        }

        for (var j = index + 1; j < s.Length; j++)
        {
            if (IsCaseIgnorable(s, j))
            {
                if (char.IsHighSurrogate(s[j]))
                {
                    j++;
                }

                continue;
            }

            return !IsCased(s, j);
        }

        return true;
    }

    private static bool IsCased(string s, int i) => CharUnicodeInfo.GetUnicodeCategory(s, i) is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(string s, int i)
    {
        var c = s[i];
        if (c is '\'' or '.' or ':' or '^' or '`' or '\u00B7' or '\u0387' or '\u05F4' or '\u2018' or '\u2019' or '\u2024' or '\u2027'
            or '\uFE13' or '\uFE52' or '\uFE55' or '\uFF07' or '\uFF0E' or '\u00AD')
        {
            return true;
        }

        return CharUnicodeInfo.GetUnicodeCategory(s, i) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }
}
