using LiteVL.Model.Text;

namespace LiteVL.Model.Tests.Text;

public sealed class BlipTokenizerTests : IClassFixture<BlipTokenizerFixture>
{
    private readonly BlipTokenizer _tokenizer;

    public BlipTokenizerTests(BlipTokenizerFixture fixture)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _tokenizer = fixture.Tokenizer;
    }

    [Theory]
    [InlineData("A man is playing a guitar.", "a man is playing a guitar")]
    [InlineData("  Hello,   WORLD!!  ", "hello, world")]
    [InlineData("a.b!c\"d(e)f*g#h:i;j~k", "a b c d e f g h i j k")]
    [InlineData("tab\tand\nnew\r\nline", "tab\tand\nnew line")] // lone \t and \n stay (re \\s{2,} needs two); \r\n is a run of two
    [InlineData("keeps ? , ' - [ ] { } / $ @ %", "keeps ? , ' - [ ] { } / $ @ %")]
    [InlineData("...", "")]
    [InlineData("", "")]
    [InlineData(" \t\n ", "")]
    [InlineData("non\u00A0breaking\u3000spaces", "non\u00A0breaking\u3000spaces")] // each a lone \\s: kept by pre_caption
    [InlineData("ΟΔΟΣ ΣΟΦΙΑΣ", "οδος σοφιας")]
    [InlineData("Σ", "σ")]
    [InlineData("İstanbul", "i\u0307stanbul")]
    [InlineData("Café ÉCOLE", "café école")]
    [InlineData("[CLS] Text", "[cls] text")]
    public void CleanCaption_Input_MatchesBlipPreCaption(string input, string expected)
        => Assert.Equal(expected, BlipTokenizer.CleanCaption(input));

    [Theory]
    [InlineData("a red circle moves left", "a red circle moves left")]
    [InlineData("Tokenization isn't unbelievable?", "tokenization isn't unbelievable?")]
    [InlineData("it shrinks, then grows.", "it shrinks, then grows.")]
    public void Decode_OfEncodedIds_GivesTheLowercasedTextBack_WithoutSpecialTokens(string text, string expected)
    {
        var ids = _tokenizer.EncodeRaw(text).Select(i => (long)i).Prepend(BlipTokenizer.DecId).Append(BlipTokenizer.PadId).ToList();
        Assert.Equal(expected, _tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_GluesWordPieces()
    {
        var pieces = _tokenizer.Tokenize("unbelievableness");
        Assert.Contains(pieces, p => p.StartsWith("##", StringComparison.Ordinal));
        Assert.Equal("unbelievableness", _tokenizer.Decode(_tokenizer.EncodeRaw("unbelievableness").Select(i => (long)i)));
    }

    [Fact]
    public void Encode_ShortText_PadsToMaxLengthWithMask()
    {
        var batch = _tokenizer.Encode(["A man is playing a guitar."]);
        long[] expected = [101, 1037, 2158, 2003, 2652, 1037, 2858, 102];
        Assert.Equal(1, batch.BatchSize);
        Assert.Equal(35, batch.Length);
        Assert.Equal(35, batch.InputIds.Length);
        Assert.Equal(35, batch.AttentionMask.Length);
        Assert.Equal(expected, batch.InputIds[..8]);
        Assert.All(batch.InputIds[8..], id => Assert.Equal(BlipTokenizer.PadId, id));
        Assert.All(batch.AttentionMask[..8], m => Assert.Equal(1L, m));
        Assert.All(batch.AttentionMask[8..], m => Assert.Equal(0L, m));
        Assert.False(batch.Truncated[0]);
    }

    [Fact]
    public void Encode_LongText_TruncatesKeepingSepLast()
    {
        var text = string.Join(' ', Enumerable.Repeat("dog", 50));
        var batch = _tokenizer.Encode([text]);
        Assert.True(batch.Truncated[0]);
        Assert.Equal(BlipTokenizer.ClsId, batch.InputIds[0]);
        Assert.All(batch.InputIds[1..34], id => Assert.Equal(3899L, id));
        Assert.Equal(BlipTokenizer.SepId, batch.InputIds[34]);
        Assert.All(batch.AttentionMask, m => Assert.Equal(1L, m));
    }

    [Fact]
    public void Encode_ExactlyMaxLength_IsNotTruncated()
    {
        var text = string.Join(' ', Enumerable.Repeat("dog", 33));
        var batch = _tokenizer.Encode([text]);
        Assert.False(batch.Truncated[0]);
        Assert.Equal(BlipTokenizer.SepId, batch.InputIds[34]);
        Assert.True(_tokenizer.Encode([text + " dog"]).Truncated[0]);
    }

    [Fact]
    public void Encode_Grounded_PutsEncIdFirst()
    {
        var plain = _tokenizer.Encode(["a cat on a sofa"]);
        var grounded = _tokenizer.Encode(["a cat on a sofa"], grounded: true);
        Assert.Equal(BlipTokenizer.ClsId, plain.InputIds[0]);
        Assert.Equal(BlipTokenizer.EncId, grounded.InputIds[0]);
        Assert.Equal(plain.InputIds[1..], grounded.InputIds[1..]);
        Assert.Equal(plain.AttentionMask, grounded.AttentionMask);
    }

    [Fact]
    public void Encode_Batch_EqualsPerTextEncode()
    {
        string[] texts = ["a man is cooking", "", string.Join(' ', Enumerable.Repeat("long", 60)), "東京 🐶 café!", "[ENC] [DEC]"];
        foreach (var grounded in new[] { false, true })
        {
            var batch = _tokenizer.Encode(texts, grounded);
            Assert.Equal(texts.Length, batch.BatchSize);
            for (var b = 0; b < texts.Length; b++)
            {
                var single = _tokenizer.Encode([texts[b]], grounded);
                Assert.Equal(single.InputIds, batch.InputIds.AsSpan(b * batch.Length, batch.Length).ToArray());
                Assert.Equal(single.AttentionMask, batch.AttentionMask.AsSpan(b * batch.Length, batch.Length).ToArray());
                Assert.Equal(single.Truncated[0], batch.Truncated[b]);
            }
        }
    }

    [Fact]
    public void Encode_EmptyList_ReturnsEmptyBatch()
    {
        var batch = _tokenizer.Encode([]);
        Assert.Equal(0, batch.BatchSize);
        Assert.Empty(batch.InputIds);
        Assert.Empty(batch.Truncated);
    }

    [Fact]
    public void EncodeRaw_DoesNotCleanOrTruncate()
    {
        Assert.Equal([101, 1037, 1012, 1038, 102], _tokenizer.EncodeRaw("A.B"));
        Assert.Equal(102, _tokenizer.EncodeRaw(string.Join(' ', Enumerable.Repeat("dog", 100))).Count);
        Assert.Equal([101, 102], _tokenizer.EncodeRaw(""));
        Assert.Equal([101, 101, 30523, 30522, 102, 102], _tokenizer.EncodeRaw("[CLS][ENC] [DEC][SEP]"));
    }

    [Fact]
    public void EncodeRaw_LoneSurrogates_AreDroppedLikePython()
    {
        Assert.Equal(_tokenizer.EncodeRaw("ab"), _tokenizer.EncodeRaw("a\uD800b"));
        Assert.Equal(_tokenizer.EncodeRaw("x"), _tokenizer.EncodeRaw("x\uDC00"));
        Assert.Equal(_tokenizer.EncodeRaw("\uD83D\uDE00"), _tokenizer.EncodeRaw("\U0001F600"));
    }

    [Fact]
    public void Tokenize_Text_ReturnsCleanedWordPieces()
        => Assert.Equal(["a", "man", "is", "playing", "the", "uk", "##ule", "##le", "wow"], _tokenizer.Tokenize("A man is playing the Ukulele. WOW!"));

    [Fact]
    public void Tokenize_RareWord_SplitsIntoWordPieces()
        => Assert.Equal(["token", "##ization"], _tokenizer.Tokenize("tokenization"));

    [Fact]
    public void MaxLength_Custom_IsRespected()
    {
        using var tokenizer = BlipTokenizer.CreateDefault(maxLength: 8);
        Assert.Equal(8, tokenizer.MaxLength);
        var batch = tokenizer.Encode(["one two three four five six seven eight nine"]);
        Assert.Equal(8, batch.Length);
        Assert.Equal(BlipTokenizer.SepId, batch.InputIds[7]);
        Assert.True(batch.Truncated[0]);
        Assert.Equal(BlipTokenizer.DefaultMaxLength, _tokenizer.MaxLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => BlipTokenizer.CreateDefault(maxLength: 1));
    }

    [Fact]
    public void Encode_ConcurrentThreads_GiveIdenticalResults()
    {
        string[] texts =
        [
            "a man is playing a guitar", "two dogs run across a snowy field", "東京タワー 🌃 at night",
            "café résumé naïve", string.Join(' ', Enumerable.Repeat("long words here", 20)), "[CLS] literal", "",
        ];
        var expected = _tokenizer.Encode(texts, grounded: true);
        var failures = 0;
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var rotated = texts.Skip(i % texts.Length).Concat(texts.Take(i % texts.Length)).ToArray();
            var batch = _tokenizer.Encode(rotated, grounded: true);
            for (var b = 0; b < texts.Length; b++)
            {
                var source = (b + i) % texts.Length;
                if (!batch.InputIds.AsSpan(b * 35, 35).SequenceEqual(expected.InputIds.AsSpan(source * 35, 35)))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Dispose_ThenEncode_Throws()
    {
        var tokenizer = BlipTokenizer.CreateDefault();
        tokenizer.Dispose();
        tokenizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tokenizer.Encode(["a"]));
    }

    [Fact]
    public void FromVocabFile_ModelVocab_MatchesDefault()
    {
        var path = Path.Combine(Path.GetTempPath(), $"litevl-vocab-{Guid.NewGuid():N}", "vocab.txt");
        try
        {
            BertVocabulary.WriteModelVocab(path);
            using var fromFile = BlipTokenizer.FromVocabFile(path);
            string[] texts = ["a man is playing a guitar", "東京 🐶 café!"];
            Assert.Equal(_tokenizer.Encode(texts).InputIds, fromFile.Encode(texts).InputIds);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void FromVocabFile_MissingFile_ThrowsWithPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"litevl-missing-{Guid.NewGuid():N}", "vocab.txt");
        var e = Assert.Throws<FileNotFoundException>(() => BlipTokenizer.FromVocabFile(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromVocabFile_WithoutEnc_ThrowsExplaining()
    {
        var path = WriteTemp([.. BertVocabulary.BaseUncased, "[DEC]"]);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BlipTokenizer.FromVocabFile(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("30523 tokens; expected 30524", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromVocabFile_PlainBertVocab_ThrowsWithHint()
    {
        var path = WriteTemp(BertVocabulary.BaseUncased);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BlipTokenizer.FromVocabFile(path));
            Assert.Contains("[DEC] and [ENC] must be appended", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromVocabFile_EncAtWrongId_ThrowsNamingIds()
    {
        var path = WriteTemp([.. BertVocabulary.BaseUncased, "[ENC]", "[DEC]"]);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BlipTokenizer.FromVocabFile(path));
            Assert.Contains("id 30522", e.Message, StringComparison.Ordinal);
            Assert.Contains("expected '[DEC]'", e.Message, StringComparison.Ordinal);
            Assert.Contains("'[DEC]' is at id 30523", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromVocabFile_NotBertVocab_Throws()
    {
        var tokens = Enumerable.Range(0, 30524).Select(i => $"tok{i}").ToArray();
        var path = WriteTemp(tokens);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BlipTokenizer.FromVocabFile(path));
            Assert.Contains("not a BERT vocabulary", e.Message, StringComparison.Ordinal);
            Assert.Contains("expected '[PAD]'", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromVocabFile_CrlfLineEndings_AreAccepted()
    {
        var path = Path.Combine(Path.GetTempPath(), $"litevl-vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, string.Join("\r\n", BertVocabulary.BaseUncased.Append("[DEC]").Append("[ENC]")) + "\r\n");
        try
        {
            using var tokenizer = BlipTokenizer.FromVocabFile(path);
            Assert.Equal([101, 2158, 102], tokenizer.EncodeRaw("man"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string WriteTemp(IEnumerable<string> tokens)
    {
        var path = Path.Combine(Path.GetTempPath(), $"litevl-vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, string.Join('\n', tokens) + "\n");
        return path;
    }
}
