using LiteVL.Cli.Evaluation;

namespace LiteVL.Cli.Tests.Evaluation;

public sealed class EvalDatasetTests
{
    private static EvalDataset Parse(string text, int? limit = null) => EvalDataset.Parse(new StringReader(text), "test.jsonl", limit);

    [Fact]
    public void Parse_JsonLines_KeepsEveryCaptionAndDistinctVideosInOrder()
    {
        var d = Parse("""
            {"video": "video7020.mp4", "caption": "a man is playing a guitar"}

            {"video": "video7021.mp4", "caption": "  a cat jumps  ", "extra": 1}
            {"caption": "a man sings", "video": "video7020.mp4"}
            """);

        Assert.Equal(3, d.Pairs.Count);
        Assert.Equal(["video7020.mp4", "video7021.mp4"], d.Videos);
        Assert.Equal("a cat jumps", d.Pairs[1].Caption);
        Assert.Equal(3, d.Pairs[1].Line);
        Assert.Equal(4, d.Pairs[2].Line);
    }

    [Fact]
    public void Parse_Limit_KeepsTheFirstCaptions()
    {
        var d = Parse("{\"video\":\"a.mp4\",\"caption\":\"x\"}\n{\"video\":\"b.mp4\",\"caption\":\"y\"}\n{\"video\":\"c.mp4\",\"caption\":\"z\"}\n", limit: 2);

        Assert.Equal(["a.mp4", "b.mp4"], d.Videos);
        Assert.Throws<ArgumentException>(() => Parse("{\"video\":\"a.mp4\",\"caption\":\"x\"}", limit: 0));
    }

    [Theory]
    [InlineData("{\"video\": \"a.mp4\"}", "test.jsonl:1: \"caption\" must be a non-empty string")]
    [InlineData("{\"video\": 3, \"caption\": \"x\"}", "test.jsonl:1: \"video\" must be a non-empty string")]
    [InlineData("{\"video\": \"a.mp4\", \"caption\": \"\"}", "test.jsonl:1: \"caption\"")]
    [InlineData("[1, 2]", "test.jsonl:1: expected a JSON object")]
    [InlineData("{\"video\": \"a.mp4\", \"caption\": \"x\"}\n{not json", "test.jsonl:2: not valid JSON")]
    [InlineData("\n\n", "no captions")]
    public void Parse_BadLines_NameTheLine(string text, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_IsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => EvalDataset.Load(Path.Combine(Path.GetTempPath(), "no-such-litevl-eval.jsonl")));
    }
}
