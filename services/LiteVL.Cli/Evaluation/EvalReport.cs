using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LiteVL.Cli.Evaluation;

/// <summary>A video left out of the evaluation, with its captions.</summary>
public sealed record ExcludedVideo(string File, string? Id, string Reason, int Captions);

/// <summary>Cost of one pass over the queries, from the server's own timings and the client's wall clock.</summary>
public sealed record PassTimings(double MeanTotalMs, double P95TotalMs, double MeanRerankMs, double P95RerankMs, double QueriesPerSecond);

/// <summary>One evaluated pass (coarse or re-ranked).</summary>
/// <param name="NotReranked">Queries of a re-ranked pass that the server answered without re-ranking.</param>
public sealed record PassReport(string Mode, RetrievalSummary Metrics, PassTimings Timings, int NotReranked);

/// <summary>One query's outcome, for the JSON summary.</summary>
public sealed record QueryOutcome(int Line, string Video, string Caption, string CoarseRank, string RerankedRank);

/// <summary>Everything <c>litevl eval</c> measured; printed as tables and written as JSON with <c>--json</c>.</summary>
/// <param name="Protocol">Which protocol was measured (coarse; re-ranked with TDP or with no pooling, BLIP's zero-shot).</param>
public sealed record EvalReport(
    string Protocol,
    string Dataset,
    string Server,
    DateTime GeneratedAt,
    string? ModelVersion,
    int Videos,
    int Queries,
    int SearchLimit,
    int? Candidates,
    int CoarseCandidates,
    IReadOnlyList<ExcludedVideo> Excluded,
    IReadOnlyList<string> Notes,
    IReadOnlyList<string> Warnings,
    PassReport Coarse,
    PassReport Reranked,
    IReadOnlyList<QueryOutcome> PerQuery)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Markdown tables: quality, then cost, then exclusions, notes and warnings.</summary>
    public string ToMarkdown()
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        s.AppendLine(c, $"# litevl eval — {Path.GetFileName(Dataset)}, {Queries} queries over {Videos} videos, model {ModelVersion ?? "?"}");
        s.AppendLine();
        s.AppendLine(c, $"Protocol — {Protocol}.");
        s.AppendLine();
        s.AppendLine("| mode | R@1 | R@5 | R@10 | MdR | MnR | queries | videos |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var pass in new[] { Coarse, Reranked })
        {
            var m = pass.Metrics;
            // A censored median is at least MedianRank (misses counted as hits returned + 1): strictly above ⌈MedianRank⌉ − 1.
            string median = m.MedianRankCensored ? $"> {Math.Ceiling(m.MedianRank) - 1:0}" : m.MedianRank.ToString("0.#", c);
            string mean = (m.MeanRankIsLowerBound ? "≥ " : string.Empty) + m.MeanRank.ToString("F1", c);
            s.AppendLine(c, $"| {pass.Mode} | {m.RecallAt1:F1} | {m.RecallAt5:F1} | {m.RecallAt10:F1} | {median} | {mean} | {m.Queries} | {Videos} |");
        }

        s.AppendLine();
        s.AppendLine("Cost per query (server timings; queries/s from the client's wall clock, one query at a time):");
        s.AppendLine();
        s.AppendLine("| mode | total ms (mean) | total ms (p95) | rerank ms (mean) | rerank ms (p95) | queries/s |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var pass in new[] { Coarse, Reranked })
        {
            var t = pass.Timings;
            s.AppendLine(c, $"| {pass.Mode} | {t.MeanTotalMs:F1} | {t.P95TotalMs:F1} | {t.MeanRerankMs:F1} | {t.P95RerankMs:F1} | {t.QueriesPerSecond:F2} |");
        }

        s.AppendLine();
        s.AppendLine(c, $"limit {SearchLimit} videos per search; coarse pass {CoarseCandidates} candidates; re-ranked pass {(Candidates is { } k ? k.ToString(c) : "the server's default")} candidates.");
        if (Reranked.NotReranked > 0)
        {
            s.AppendLine(c, $"warning: {Reranked.NotReranked} queries of the re-ranked pass came back without re-ranking.");
        }

        AppendRemarks(s, Excluded, "captions", Notes, Warnings);
        return s.ToString();
    }

    /// <summary>The lines every evaluation report ends with: what was left out and why, notes, the server's warnings.</summary>
    /// <param name="items">What an excluded video's count counts ("captions", "questions").</param>
    public static void AppendRemarks(StringBuilder s, IEnumerable<ExcludedVideo> excluded, string items, IEnumerable<string> notes, IEnumerable<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(s);
        var c = CultureInfo.InvariantCulture;
        foreach (var e in excluded)
        {
            s.AppendLine(c, $"excluded: {e.File} ({e.Captions} {items}): {e.Reason}");
        }

        foreach (string note in notes)
        {
            s.AppendLine(c, $"note: {note}");
        }

        foreach (string warning in warnings)
        {
            s.AppendLine(c, $"server warning: {warning}");
        }
    }
}
