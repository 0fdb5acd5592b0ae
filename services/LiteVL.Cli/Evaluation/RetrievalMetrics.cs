namespace LiteVL.Cli.Evaluation;

/// <summary>
/// Where one query's ground-truth video ended up: a 1-based rank, or not among the hits the search returned.
/// A miss carries <c>Rank = hits returned + 1</c>, the smallest rank it could have; statistics built on it are lower
/// bounds and say so.
/// </summary>
public readonly record struct QueryRank
{
    private QueryRank(int rank, bool retrieved)
    {
        Rank = rank;
        Retrieved = retrieved;
    }

    /// <summary>1-based rank; for a miss, the number of hits returned + 1.</summary>
    public int Rank { get; }

    /// <summary>False when the ground truth was not among the returned hits.</summary>
    public bool Retrieved { get; }

    public static QueryRank Found(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        return new QueryRank(rank, retrieved: true);
    }

    public static QueryRank Missed(int hitsReturned)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hitsReturned);
        return new QueryRank(hitsReturned + 1, retrieved: false);
    }

    public override string ToString() => Retrieved ? Rank.ToString(System.Globalization.CultureInfo.InvariantCulture) : $">{Rank - 1}";
}

/// <summary>Recall at 1/5/10 (percent), median and mean rank of a set of queries.</summary>
/// <param name="MedianRankCensored">True when a middle element of the sorted ranks is a miss: the true median is larger.</param>
/// <param name="MeanRankIsLowerBound">True when any query missed: misses count as hits returned + 1.</param>
public sealed record RetrievalSummary(
    int Queries,
    double RecallAt1,
    double RecallAt5,
    double RecallAt10,
    double MedianRank,
    bool MedianRankCensored,
    double MeanRank,
    bool MeanRankIsLowerBound,
    int Missed);

/// <summary>
/// The text-to-video retrieval metrics of the MSR-VTT literature, as pure functions (no I/O).
/// Conventions:
/// <list type="bullet">
/// <item>Ranks are 1-based. From a score matrix, ties are broken pessimistically: every other video scoring ≥ the ground
/// truth is ranked above it, so rank = 1 + #{j ≠ gt : s[j] ≥ s[gt]}.</item>
/// <item>R@k = 100 · #{rank ≤ k} / #queries; a miss never counts as recalled. k may exceed the number of videos.</item>
/// <item>Median rank as CLIP4Clip/BLIP compute it (<c>np.median(ranks0) + 1</c> over 0-based ranks): for an even count,
/// the mean of the two middle ranks (so 1, 1, 2, 4 gives 1.5).</item>
/// <item>Mean rank: arithmetic mean of the 1-based ranks (<c>np.mean(ranks0) + 1</c>).</item>
/// </list>
/// </summary>
public static class RetrievalMetrics
{
    /// <summary>The 1-based rank of <paramref name="truth"/> in one query's scores, ties counted against it.</summary>
    public static int RankFromScores(ReadOnlySpan<double> scores, int truth)
    {
        if (scores.IsEmpty)
        {
            throw new ArgumentException("A query needs at least one video score.", nameof(scores));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(truth);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(truth, scores.Length);
        double target = scores[truth];
        int above = 0;
        for (int j = 0; j < scores.Length; j++)
        {
            if (double.IsNaN(scores[j]))
            {
                throw new ArgumentException($"Score of video {j} is NaN.", nameof(scores));
            }

            if (j != truth && scores[j] >= target)
            {
                above++;
            }
        }

        return above + 1;
    }

    /// <summary>Ranks of every query of a queries × videos score matrix; <paramref name="groundTruth"/>[i] is query i's video column.</summary>
    public static int[] RanksFromScores(double[,] scores, IReadOnlyList<int> groundTruth)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(groundTruth);
        int queries = scores.GetLength(0), videos = scores.GetLength(1);
        if (queries == 0 || videos == 0)
        {
            throw new ArgumentException($"The score matrix is {queries} × {videos}: it needs at least one query and one video.", nameof(scores));
        }

        if (groundTruth.Count != queries)
        {
            throw new ArgumentException($"{groundTruth.Count} ground-truth indices for {queries} queries.", nameof(groundTruth));
        }

        var ranks = new int[queries];
        var row = new double[videos];
        for (int i = 0; i < queries; i++)
        {
            for (int j = 0; j < videos; j++)
            {
                row[j] = scores[i, j];
            }

            ranks[i] = RankFromScores(row, groundTruth[i]);
        }

        return ranks;
    }

    /// <summary>The rank of <paramref name="truth"/> in a best-first hit list: its 1-based position, or a miss.</summary>
    public static QueryRank RankInHits<T>(IReadOnlyList<T> hits, T truth)
    {
        ArgumentNullException.ThrowIfNull(hits);
        var comparer = EqualityComparer<T>.Default;
        for (int i = 0; i < hits.Count; i++)
        {
            if (comparer.Equals(hits[i], truth))
            {
                return QueryRank.Found(i + 1);
            }
        }

        return QueryRank.Missed(hits.Count);
    }

    /// <summary>
    /// Rank in the two-stage ranking "re-ranked hits first, then the remaining coarse hits in coarse order" — the order a
    /// re-ranking search implies when it re-scores only its top candidates.
    /// </summary>
    public static QueryRank TwoStageRank<T>(IReadOnlyList<T> reranked, IReadOnlyList<T> coarse, T truth)
    {
        ArgumentNullException.ThrowIfNull(reranked);
        ArgumentNullException.ThrowIfNull(coarse);
        var merged = new List<T>(reranked);
        var seen = new HashSet<T>(reranked);
        foreach (var id in coarse)
        {
            if (seen.Add(id))
            {
                merged.Add(id);
            }
        }

        return RankInHits(merged, truth);
    }

    /// <summary>Percentage of queries whose ground truth is within the first <paramref name="k"/> (misses never count).</summary>
    public static double RecallAt(IReadOnlyList<QueryRank> ranks, int k)
    {
        RequireNonEmpty(ranks);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int hits = 0;
        foreach (var r in ranks)
        {
            if (r.Retrieved && r.Rank <= k)
            {
                hits++;
            }
        }

        return 100.0 * hits / ranks.Count;
    }

    /// <summary>Median 1-based rank (mean of the two middle ones for an even count); censored when a middle one is a miss.</summary>
    public static double MedianRank(IReadOnlyList<QueryRank> ranks, out bool censored)
    {
        RequireNonEmpty(ranks);
        // Misses sort after every found rank: their true rank is unknown but beyond the returned hits.
        var sorted = ranks.OrderBy(r => r.Retrieved ? 0 : 1).ThenBy(r => r.Rank).ToArray();
        int n = sorted.Length;
        if (n % 2 == 1)
        {
            var middle = sorted[n / 2];
            censored = !middle.Retrieved;
            return middle.Rank;
        }

        var (low, high) = (sorted[(n / 2) - 1], sorted[n / 2]);
        censored = !low.Retrieved || !high.Retrieved;
        return (low.Rank + high.Rank) / 2.0;
    }

    /// <summary>Mean 1-based rank; misses count as hits returned + 1 (then the mean is a lower bound).</summary>
    public static double MeanRank(IReadOnlyList<QueryRank> ranks)
    {
        RequireNonEmpty(ranks);
        return ranks.Average(r => (double)r.Rank);
    }

    public static RetrievalSummary Summarize(IReadOnlyList<QueryRank> ranks)
    {
        RequireNonEmpty(ranks);
        double median = MedianRank(ranks, out bool censored);
        int missed = ranks.Count(r => !r.Retrieved);
        return new RetrievalSummary(ranks.Count, RecallAt(ranks, 1), RecallAt(ranks, 5), RecallAt(ranks, 10), median, censored, MeanRank(ranks), missed > 0, missed);
    }

    /// <summary>Summary of full rankings (every ground truth ranked, e.g. from a score matrix).</summary>
    public static RetrievalSummary Summarize(IReadOnlyList<int> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        return Summarize([.. ranks.Select(QueryRank.Found)]);
    }

    /// <summary>Nearest-rank percentile (the smallest value with at least p % of the values ≤ it); p in (0, 100].</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("No values to take a percentile of.", nameof(values));
        }

        if (!(p > 0 && p <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The percentile must be in (0, 100].");
        }

        var sorted = values.Order().ToArray();
        int index = (int)Math.Ceiling(p * sorted.Length / 100.0) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }

    private static void RequireNonEmpty(IReadOnlyList<QueryRank> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        if (ranks.Count == 0)
        {
            throw new ArgumentException("No queries: retrieval metrics need at least one ranked query.", nameof(ranks));
        }
    }
}
