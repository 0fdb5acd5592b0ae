using LiteVL.Cli.Evaluation;
using LiteVL.Cli.Experiments;

namespace LiteVL.Cli.Tests;

/// <summary>
/// What <c>litevl experiment temporal --ship</c> tells the served model about re-ranking: the default follows the
/// measured table, (e) re-ranked against (d) coarse, and <c>litevl search</c> lets the server's default apply.
/// </summary>
public sealed class ShipDecisionTests
{
    [Theory]
    [InlineData(33.8, 62.5, 78.8, 17.5, 55.0, 80.0, false)]   // the shape of item 10's run: re-ranking costs R@1
    [InlineData(13.8, 56.2, 80.0, 13.8, 50.0, 86.2, true)]    // equal RSum (150.0): re-ranking stays on
    [InlineData(10.0, 40.0, 70.0, 12.5, 40.0, 70.0, true)]
    public void RerankHelps_WhenTheRerankedRSumIsAtLeastTheCoarseOne(double d1, double d5, double d10, double e1, double e5, double e10, bool helps)
    {
        var report = new AblationReport("litevl experiment temporal", "setup", [Row("d", d1, d5, d10), Row("e", e1, e5, e10)], [1, 1, 1], []);
        Assert.Equal(helps, TemporalExperiment.RerankHelps(report));
    }

    [Fact]
    public void Search_WithCoarseAndRerank_IsRefusedBeforeAnyRequest()
    {
        // Port 9 (discard) would refuse a connection: the message must come from the options, not the network.
        var (exit, _, error) = Cli.Run("search", "a red circle moves left", "--coarse", "--rerank", "--key", "k", "--server", "http://127.0.0.1:9");
        Assert.Equal(1, exit);
        Assert.Contains("--coarse and --rerank contradict each other", error, StringComparison.Ordinal);
    }

    private static AblationRow Row(string key, double r1, double r5, double r10) =>
        new(key, key, "training", "scoring", new ProbeScores(new RetrievalSummary(80, r1, r5, r10, 3, false, 5, false, 0), 50, 80, 0));
}
