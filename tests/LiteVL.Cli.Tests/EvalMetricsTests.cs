using LiteVL.Cli.Evaluation;

namespace LiteVL.Cli.Tests;

/// <summary>The retrieval metrics on hand-computable cases; each assertion pins a convention a wrong implementation breaks.</summary>
public sealed class EvalMetricsTests
{
    /// <summary>4 queries × 4 videos, ground truth on the diagonal; ground-truth ranks 1, 2, 4, 1.</summary>
    private static readonly double[,] Scores =
    {
        { 0.9, 0.1, 0.2, 0.3 }, // gt 0.9 is the best                      → rank 1
        { 0.8, 0.5, 0.1, 0.2 }, // 0.8 above gt 0.5                          → rank 2
        { 0.5, 0.6, 0.1, 0.7 }, // gt 0.1 is the worst of 4                  → rank 4
        { 0.1, 0.2, 0.3, 0.4 }, // gt 0.4 is the best                        → rank 1
    };

    private static readonly int[] Diagonal = [0, 1, 2, 3];

    [Fact]
    public void RanksFromScores_FourByFour_AreOneBasedPositionsOfTheGroundTruth()
    {
        int[] expected = [1, 2, 4, 1];
        Assert.Equal(expected, RetrievalMetrics.RanksFromScores(Scores, Diagonal));
    }

    [Fact]
    public void Summarize_FourByFour_GivesRecallMedianAndMean()
    {
        var s = RetrievalMetrics.Summarize(RetrievalMetrics.RanksFromScores(Scores, Diagonal));

        Assert.Equal(4, s.Queries);
        Assert.Equal(50.0, s.RecallAt1, 9);
        Assert.Equal(100.0, s.RecallAt5, 9);
        Assert.Equal(100.0, s.RecallAt10, 9);
        Assert.Equal(1.5, s.MedianRank, 9); // np.median([0, 1, 3, 0]) + 1: mean of the two middle ranks 1 and 2
        Assert.False(s.MedianRankCensored);
        Assert.Equal(2.0, s.MeanRank, 9);   // (1 + 2 + 4 + 1) / 4
        Assert.False(s.MeanRankIsLowerBound);
        Assert.Equal(0, s.Missed);
    }

    [Fact]
    public void RecallAt_IntermediateK_CountsRanksUpToAndIncludingK()
    {
        var ranks = RetrievalMetrics.RanksFromScores(Scores, Diagonal).Select(QueryRank.Found).ToList();

        Assert.Equal(50.0, RetrievalMetrics.RecallAt(ranks, 1), 9);
        Assert.Equal(75.0, RetrievalMetrics.RecallAt(ranks, 2), 9);
        Assert.Equal(75.0, RetrievalMetrics.RecallAt(ranks, 3), 9);
        Assert.Equal(100.0, RetrievalMetrics.RecallAt(ranks, 4), 9);
    }

    [Fact]
    public void RanksFromScores_OffDiagonalGroundTruth_UsesTheGivenColumn()
    {
        // Same matrix, ground truth elsewhere: query 0 → video 3 (0.3: below 0.9 → rank 2), query 2 → video 3 (0.7 → rank 1).
        int[] expected = [2, 4, 1, 4];
        Assert.Equal(expected, RetrievalMetrics.RanksFromScores(Scores, [3, 2, 3, 0]));
    }

    [Fact]
    public void RankFromScores_Ties_CountAgainstTheGroundTruth()
    {
        Assert.Equal(2, RetrievalMetrics.RankFromScores([0.5, 0.5, 0.1], 0));
        Assert.Equal(2, RetrievalMetrics.RankFromScores([0.5, 0.5, 0.1], 1));
        Assert.Equal(3, RetrievalMetrics.RankFromScores([0.5, 0.5, 0.1], 2));
        Assert.Equal(4, RetrievalMetrics.RankFromScores([0.3, 0.3, 0.3, 0.3], 2)); // a constant scorer ranks every truth last
        Assert.Equal(3, RetrievalMetrics.RankFromScores([0.9, 0.2, 0.1, 0.2], 1)); // 1 + (0.9 above, 0.2 tied)
    }

    [Fact]
    public void RanksFromScores_RandomMatricesWithTies_MatchSortingWithTheTruthLastAmongEquals()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 50; trial++)
        {
            int queries = rng.Next(1, 9), videos = rng.Next(1, 12);
            var scores = new double[queries, videos];
            var truth = new int[queries];
            for (int i = 0; i < queries; i++)
            {
                truth[i] = rng.Next(videos);
                for (int j = 0; j < videos; j++)
                {
                    scores[i, j] = rng.Next(4) / 4.0; // few distinct values: many ties
                }
            }

            var ranks = RetrievalMetrics.RanksFromScores(scores, truth);
            for (int i = 0; i < queries; i++)
            {
                int row = i;
                var order = Enumerable.Range(0, videos).OrderByDescending(j => scores[row, j]).ThenBy(j => j == truth[row] ? 1 : 0).ToList();
                Assert.Equal(order.IndexOf(truth[i]) + 1, ranks[i]);
            }
        }
    }

    [Fact]
    public void MedianRank_OddCount_IsTheMiddleRankNotTheMean()
    {
        List<QueryRank> ranks = [QueryRank.Found(9), QueryRank.Found(1), QueryRank.Found(2)];

        Assert.Equal(2.0, RetrievalMetrics.MedianRank(ranks, out bool censored), 9);
        Assert.False(censored);
        Assert.Equal(4.0, RetrievalMetrics.MeanRank(ranks), 9);
    }

    [Fact]
    public void RecallAt_KLargerThanTheNumberOfVideos_IsAllFoundQueries()
    {
        var ranks = RetrievalMetrics.RanksFromScores(new double[,] { { 0.1, 0.9, 0.5 }, { 0.3, 0.2, 0.1 } }, [0, 0]); // ranks 3, 1

        int[] expected = [3, 1];
        Assert.Equal(expected, ranks);
        var s = RetrievalMetrics.Summarize(ranks);
        Assert.Equal(50.0, s.RecallAt1, 9);
        Assert.Equal(100.0, s.RecallAt5, 9);
        Assert.Equal(100.0, s.RecallAt10, 9);
        Assert.Equal(100.0, RetrievalMetrics.RecallAt([.. ranks.Select(QueryRank.Found)], 1000), 9);
    }

    [Fact]
    public void Misses_AreNeverRecalled_AndMakeMeanALowerBound()
    {
        // Three hits came back for the second query and the truth was not among them: rank "4" but not retrieved.
        var ranks = new List<QueryRank> { QueryRank.Found(1), QueryRank.Missed(3) };

        Assert.Equal(4, ranks[1].Rank);
        Assert.False(ranks[1].Retrieved);
        Assert.Equal(50.0, RetrievalMetrics.RecallAt(ranks, 10), 9);
        var s = RetrievalMetrics.Summarize(ranks);
        Assert.Equal(2.5, s.MeanRank, 9);
        Assert.True(s.MeanRankIsLowerBound);
        Assert.Equal(1, s.Missed);
        Assert.True(s.MedianRankCensored); // the upper middle element is the miss
    }

    [Fact]
    public void MedianRank_MissesSortAfterEveryFoundRank()
    {
        // The miss has a small placeholder rank (2 hits + 1 = 3) but is worse than the found rank 50.
        var ranks = new List<QueryRank> { QueryRank.Found(50), QueryRank.Missed(2), QueryRank.Found(3) };

        Assert.Equal(50.0, RetrievalMetrics.MedianRank(ranks, out bool censored), 9);
        Assert.False(censored);
    }

    [Fact]
    public void MedianRank_OnMisses_IsCensored()
    {
        var odd = new List<QueryRank> { QueryRank.Found(1), QueryRank.Missed(100), QueryRank.Missed(100) };
        Assert.Equal(101.0, RetrievalMetrics.MedianRank(odd, out bool oddCensored), 9);
        Assert.True(oddCensored);

        var even = new List<QueryRank> { QueryRank.Found(1), QueryRank.Found(90), QueryRank.Missed(100), QueryRank.Missed(100) };
        Assert.Equal(95.5, RetrievalMetrics.MedianRank(even, out bool evenCensored), 9);
        Assert.True(evenCensored);

        var notOnMiddle = new List<QueryRank> { QueryRank.Found(1), QueryRank.Found(2), QueryRank.Missed(100) };
        Assert.Equal(2.0, RetrievalMetrics.MedianRank(notOnMiddle, out bool notCensored), 9);
        Assert.False(notCensored);
    }

    [Fact]
    public void RankInHits_IsTheOneBasedPositionOrAMissAfterTheHits()
    {
        string[] hits = ["a", "b", "c"];

        Assert.Equal(QueryRank.Found(1), RetrievalMetrics.RankInHits(hits, "a"));
        Assert.Equal(QueryRank.Found(3), RetrievalMetrics.RankInHits(hits, "c"));
        var miss = RetrievalMetrics.RankInHits(hits, "z");
        Assert.False(miss.Retrieved);
        Assert.Equal(4, miss.Rank);
        Assert.Equal(">3", miss.ToString());
        Assert.False(RetrievalMetrics.RankInHits(Array.Empty<string>(), "a").Retrieved);
    }

    [Fact]
    public void TwoStageRank_PutsRerankedHitsFirstThenTheRemainingCoarseOnes()
    {
        string[] reranked = ["b", "a"];
        string[] coarse = ["a", "b", "c", "d"];

        Assert.Equal(QueryRank.Found(1), RetrievalMetrics.TwoStageRank(reranked, coarse, "b"));
        Assert.Equal(QueryRank.Found(2), RetrievalMetrics.TwoStageRank(reranked, coarse, "a"));
        Assert.Equal(QueryRank.Found(3), RetrievalMetrics.TwoStageRank(reranked, coarse, "c"));
        Assert.Equal(QueryRank.Found(4), RetrievalMetrics.TwoStageRank(reranked, coarse, "d"));
        Assert.Equal(QueryRank.Missed(4), RetrievalMetrics.TwoStageRank(reranked, coarse, "e"));
        Assert.Equal(QueryRank.Found(3), RetrievalMetrics.TwoStageRank(["x", "b"], ["a", "b", "c"], "a")); // a hit only the re-ranker returned still counts
    }

    [Fact]
    public void Percentile_IsNearestRank()
    {
        var values = Enumerable.Range(1, 20).Select(i => (double)i).Reverse().ToList();

        Assert.Equal(19.0, RetrievalMetrics.Percentile(values, 95));
        Assert.Equal(20.0, RetrievalMetrics.Percentile(values, 100));
        Assert.Equal(10.0, RetrievalMetrics.Percentile(values, 50));
        Assert.Equal(7.0, RetrievalMetrics.Percentile([7.0], 95));
        Assert.Equal(2.0, RetrievalMetrics.Percentile([1.0, 2.0], 95));
    }

    [Fact]
    public void EmptyOrInvalidInput_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Summarize(Array.Empty<int>()));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.RecallAt([], 1));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.MedianRank([], out _));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.RanksFromScores(new double[0, 3], []));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.RanksFromScores(new double[2, 0], [0, 0]));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.RanksFromScores(Scores, [0, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrievalMetrics.RanksFromScores(Scores, [0, 1, 2, 4]));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.RankFromScores([0.1, double.NaN], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrievalMetrics.RecallAt([QueryRank.Found(1)], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryRank.Found(0));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Percentile([], 95));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrievalMetrics.Percentile([1.0], 0));
    }
}

/// <summary>The twin accuracy <c>litevl train</c> prints after each epoch when the validation set names twins.</summary>
public sealed class ValidationTwinTests
{
    [Fact]
    public void TwinAccuracy_ComparesEachCaptionsClipWithItsOwnTwinOnly()
    {
        // Clips 0 ↔ 1 and 2 ↔ 3 are twins; clip 4 has none, so its caption does not count.
        var clips = new List<LiteVL.Model.Training.TrainingClip>
        {
            new("a.mp4", ["a"]) { Twin = 1 }, new("a-rev.mp4", ["b"]) { Twin = 0 },
            new("c.mp4", ["c"]) { Twin = 3 }, new("c-rev.mp4", ["d"]) { Twin = 2 },
            new("e.mp4", ["e"]),
        };
        var examples = Enumerable.Range(0, 5).Select(i => new LiteVL.Model.Training.TrainingExample(i + 1, i, $"caption {i}")).ToList();
        var set = new LiteVL.Model.Training.TrainingSet(clips, examples);
        var scores = new double[5, 5]
        {
            { 0.50, 0.40, 0.90, 0.90, 0.90 },   // caption 0: above its twin (a far better non-twin clip does not matter) → 1
            { 0.60, 0.55, 0.00, 0.00, 0.00 },   // caption 1: below its twin → 0
            { 0.00, 0.00, 0.30, 0.30, 0.00 },   // caption 2: a tie → ½
            { 0.00, 0.00, 0.10, 0.20, 0.00 },   // caption 3: above its twin → 1
            { 0.00, 0.00, 0.00, 0.00, 0.00 },   // caption 4: no twin
        };

        var (accuracy, pairs) = LiteVL.Cli.Commands.TrainCommand.TwinAccuracy(scores, set);

        Assert.Equal(4, pairs);
        Assert.Equal(62.5, accuracy!.Value, 6);
        Assert.Equal((null, 0), LiteVL.Cli.Commands.TrainCommand.TwinAccuracy(scores, set with { Clips = clips.Select(c => c with { Twin = null }).ToList() }));
    }
}
