using LiteVL.Cli.Evaluation;
using LiteVL.Cli.Experiments;

namespace LiteVL.Cli.Tests;

public sealed class ExperimentReportTests
{
    [Fact]
    public void TwinAccuracy_CountsWinsOnce_TiesHalf_LossesZero()
    {
        var (accuracy, pairs, ties) = RetrievalProbe.TwinAccuracy([(0.9, 0.1), (0.2, 0.8), (0.5, 0.5 + 1e-7), (0.3, 0.1)]);
        Assert.Equal(4, pairs);
        Assert.Equal(1, ties);
        Assert.Equal(100 * 2.5 / 4, accuracy, 9);
        Assert.Equal(50.0, RetrievalProbe.TwinAccuracy([(0.4, 0.4), (-3.0, -3.0)]).Accuracy);        // an order-invariant model
        Assert.Equal(0.0, RetrievalProbe.TwinAccuracy([(0.4, 0.4 + 1e-3)]).Accuracy);                 // a real difference is not a tie
        Assert.Throws<ArgumentException>(() => RetrievalProbe.TwinAccuracy([]));
    }

    [Fact]
    public void TwinsBy_AveragesEachGroupsOutcomes_AndLeavesUngroupedCaptionsOut()
    {
        var scores = new ProbeScores(Summary(0, 0, 0, 1), 50, 6, 1, [1, 0, 0.5, 1, 1, 0]);
        string?[] family = ["horizontal", "horizontal", "size", "size", null, "horizontal"];
        var groups = scores.TwinsBy(q => family[q]);
        Assert.Equal(["horizontal", "size"], groups.Select(g => g.Group));
        Assert.Equal(100.0 / 3, groups[0].Accuracy, 9);
        Assert.Equal(3, groups[0].Captions);
        Assert.Equal(75.0, groups[1].Accuracy, 9);
        Assert.Equal(2, groups[1].Captions);
        Assert.Throws<InvalidOperationException>(() => new ProbeScores(Summary(0, 0, 0, 1), 50, 6, 1).TwinsBy(_ => "x"));
    }

    [Fact]
    public void Splice_ReplacesOnlyTheGeneratedSection_OrAppendsIt()
    {
        var report = Report(twinD: 91.25);
        string section = report.ToMarkdown("images/a.svg", "images/s.svg");
        Assert.Contains("| (d) | LiteVL | video | cosine | 40.0 | 80.0 | 95.0 | 2 | 91.2 % |", section, StringComparison.Ordinal);
        Assert.Contains("| (a) | frame-mean | image | cosine | 20.0 | 60.0 | 90.0 | 3.5 | 50.0 % (40/40 ties) |", section, StringComparison.Ordinal);
        Assert.Contains("layer 0: 1.200 · layer 1: 0.800", section, StringComparison.Ordinal);

        string doc = "# Evaluation\n\nintro\n";
        string once = AblationReport.Splice(doc, section);
        Assert.StartsWith("# Evaluation\n\nintro\n\n## The temporal ablation", once, StringComparison.Ordinal);
        string again = AblationReport.Splice(once + "\n## After\n\nkept\n", Report(twinD: 60).ToMarkdown(null, null));
        Assert.Contains("60.0 %", again, StringComparison.Ordinal);
        Assert.DoesNotContain("91.2 %", again, StringComparison.Ordinal);
        Assert.EndsWith("## After\n\nkept\n", again, StringComparison.Ordinal);
        Assert.Equal(1, again.Split(AblationReport.BeginMarker).Length - 1);
    }

    [Fact]
    public void AblationSvg_HasTwoBarsPerVariantWithTheirValues()
    {
        string svg = Report(twinD: 91.25).AblationSvg();
        Assert.StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"", svg, StringComparison.Ordinal);
        Assert.Equal(4, svg.Split("<rect ").Length - 1);
        Assert.Contains("<title>91.2 %</title>", svg, StringComparison.Ordinal);
        Assert.Contains(">(a)</text>", svg, StringComparison.Ordinal);
        System.Xml.Linq.XDocument.Parse(svg);
    }

    private static AblationReport Report(double twinD) => new(
        "litevl experiment temporal",
        "setup",
        [
            new AblationRow("a", "frame-mean", "image", "cosine", new ProbeScores(Summary(20, 60, 90, 3.5), 50, 40, 40)),
            new AblationRow("d", "LiteVL", "video", "cosine", new ProbeScores(Summary(40, 80, 95, 2), twinD, 40, 0)),
        ],
        [1.2, 0.8],
        []);

    private static RetrievalSummary Summary(double r1, double r5, double r10, double mdr) => new(40, r1, r5, r10, mdr, false, mdr, false, 0);
}
