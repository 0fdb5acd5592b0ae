using System.Diagnostics;
using System.Globalization;

namespace LiteVL.Cli.Evaluation;

/// <summary>Settings of one evaluation run.</summary>
/// <param name="Candidates">Candidates the re-ranked pass re-scores (null: the server's default).</param>
/// <param name="PollInterval">How often ingestion progress is checked.</param>
/// <param name="IndexTimeout">How long to wait for every video to be Indexed or Failed.</param>
/// <param name="Pooling">Re-ranking protocol: "tdp" (LiteVL), "none" (BLIP's zero-shot), null: the model's default.</param>
public sealed record EvalSettings(
    string VideosDirectory,
    int? Candidates = null,
    int UploadParallelism = 4,
    TimeSpan? PollInterval = null,
    TimeSpan? IndexTimeout = null,
    string? Pooling = null);

/// <summary>
/// <c>litevl eval</c> without the HTTP: (1) upload every distinct video (the API deduplicates by SHA-256, so a re-run
/// reuses what is there) and wait until each is Indexed or Failed; (2) search every caption twice, coarse and
/// re-ranked, restricted to the dataset's videos; (3) rank the ground truth in each answer and summarise.
/// </summary>
public sealed class EvalRunner(IEvalBackend backend, TextWriter log, EvalSettings settings)
{
    /// <summary>The API's largest <c>limit</c>: with more videos, ranks beyond it are misses.</summary>
    public const int MaxSearchLimit = 100;

    /// <summary>The API's default largest <c>candidates</c>; the coarse pass asks for no more.</summary>
    public const int MaxCandidates = 256;

    public async Task<EvalReport> RunAsync(EvalDataset dataset, string datasetName, string server, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var files = dataset.Videos;
        var paths = files.ToDictionary(f => f, f => Path.GetFullPath(Path.Combine(settings.VideosDirectory, f)), StringComparer.Ordinal);
        var missing = files.Where(f => !File.Exists(paths[f])).ToList();
        if (missing.Count > 0)
        {
            throw new FileNotFoundException($"{missing.Count} of {files.Count} videos not found under '{Path.GetFullPath(settings.VideosDirectory)}' (first: '{missing[0]}'); set --videos-dir.", paths[missing[0]]);
        }

        var captionsPerFile = dataset.Pairs.GroupBy(p => p.Video, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var excluded = new List<ExcludedVideo>();
        var notes = new List<string>();

        // 1. Upload (or find again through deduplication) and wait for indexing.
        var (ids, statuses) = await new GalleryIngestion(backend, log, settings).IngestAsync(files, paths, captionsPerFile, excluded, ct).ConfigureAwait(false);

        var sharedIds = ids.GroupBy(kv => kv.Value, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        foreach (var g in sharedIds)
        {
            notes.Add($"{string.Join(", ", g.Select(kv => kv.Key))} have identical bytes: one video ({g.Key}); each of their captions counts it as ground truth.");
        }

        var gallery = ids.Values.Distinct(StringComparer.Ordinal).ToList();
        var pairs = dataset.Pairs.Where(p => ids.ContainsKey(p.Video)).ToList();
        if (pairs.Count == 0)
        {
            throw new InvalidOperationException($"No video of the dataset was indexed ({excluded.Count} excluded): nothing to evaluate.");
        }

        int limit = Math.Min(gallery.Count, MaxSearchLimit);
        if (gallery.Count > MaxSearchLimit)
        {
            notes.Add($"{gallery.Count} videos but the API returns at most {MaxSearchLimit} hits: a ground truth beyond rank {MaxSearchLimit} is a miss (never recalled; counted as rank hits + 1 in the mean rank, which is then a lower bound; the median is shown as '> N' when it falls on misses).");
        }

        // The coarse ranking covers `limit` videos only if it has enough segment candidates for them.
        int maxSegments = gallery.Max(id => Math.Max(1, statuses[id].SegmentCount));
        int coarseCandidates = Math.Min(MaxCandidates, Math.Max(settings.Candidates ?? 0, limit * maxSegments));
        if (limit * maxSegments > MaxCandidates)
        {
            notes.Add($"Videos have up to {maxSegments} segments: {MaxCandidates} coarse candidates may cover fewer than {limit} videos (index one segment per clip, e.g. --LiteVL:Media:SegmentSeconds=60, for full rankings).");
        }

        var modelVersions = gallery.Select(id => statuses[id].ModelVersion).Distinct().ToList();

        // 2. Two passes over the captions: coarse, then re-ranked.
        var coarse = await PassAsync("coarse", pairs, gallery, limit, coarseCandidates, rerank: false, ct).ConfigureAwait(false);
        var reranked = await PassAsync("re-ranked", pairs, gallery, limit, settings.Candidates, rerank: true, ct).ConfigureAwait(false);

        // 3. Ranks: coarse = position in the coarse hits; re-ranked = position in "re-ranked hits, then the rest of the coarse hits".
        var coarseRanks = new List<QueryRank>(pairs.Count);
        var rerankedRanks = new List<QueryRank>(pairs.Count);
        var perQuery = new List<QueryOutcome>(pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            string truth = ids[pairs[i].Video];
            var c = RetrievalMetrics.RankInHits(coarse.Outcomes[i].VideoIds, truth);
            var r = RetrievalMetrics.TwoStageRank(reranked.Outcomes[i].VideoIds, coarse.Outcomes[i].VideoIds, truth);
            coarseRanks.Add(c);
            rerankedRanks.Add(r);
            perQuery.Add(new QueryOutcome(pairs[i].Line, pairs[i].Video, pairs[i].Caption, c.ToString(), r.ToString()));
        }

        string? modelVersion = coarse.Outcomes.Concat(reranked.Outcomes).Select(o => o.ModelVersion).FirstOrDefault(v => v is not null);
        int stale = gallery.Count(id => statuses[id].ModelVersion is { } v && modelVersion is not null && v != modelVersion);
        if (stale > 0)
        {
            notes.Add($"{stale} videos were indexed with another model than the one searching ({modelVersion}; indexed with {string.Join(", ", modelVersions.Where(v => v != modelVersion))}): the search cannot find them. Use a fresh data directory or tenant after changing the model.");
        }

        var warnings = coarse.Outcomes.Concat(reranked.Outcomes).SelectMany(o => o.Warnings).Distinct(StringComparer.Ordinal).Take(20).ToList();
        string protocol = Protocol(reranked.Outcomes);
        log.WriteLine($"protocol: {protocol}");
        return new EvalReport(
            protocol,
            datasetName,
            server,
            DateTime.UtcNow,
            modelVersion,
            gallery.Count,
            pairs.Count,
            limit,
            settings.Candidates,
            coarseCandidates,
            excluded,
            notes,
            warnings,
            new PassReport(coarse.Mode, RetrievalMetrics.Summarize(coarseRanks), coarse.Timings, 0),
            new PassReport(reranked.Mode, RetrievalMetrics.Summarize(rerankedRanks), reranked.Timings, reranked.Outcomes.Count(o => !o.Reranked)),
            perQuery);
    }

    /// <summary>
    /// The protocol measured, from what the server says it did (not from what was asked): the coarse pass is BLIP's
    /// video protocol; the re-ranked pass used TDP (LiteVL) or none (BLIP's zero-shot protocol), or a mix if the model
    /// changed under the run.
    /// </summary>
    public static string Protocol(IReadOnlyList<SearchOutcome> reranked)
    {
        ArgumentNullException.ThrowIfNull(reranked);
        var used = reranked.Where(o => o.Reranked).Select(o => o.Pooling ?? "unknown").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        string rerank = used switch
        {
            [] => "no query was re-ranked",
            ["none"] => "re-ranked with pooling: none — BLIP's zero-shot protocol (the grounded encoder attends to the T·P video tokens only)",
            ["tdp"] => "re-ranked with pooling: tdp — LiteVL's text-dependent pooling (T·P video tokens + T + P pooled ones); not BLIP's zero-shot protocol",
            ["unknown"] => "re-ranked; the server did not say with which pooling (an older server: its model's default)",
            _ => $"re-ranked with mixed pooling ({string.Join(", ", used)}): the numbers mix two protocols",
        };
        return $"coarse: BLIP's video protocol (mean of the frames' projected CLS); {rerank}";
    }

    /// <summary>Summary of one pass's cost: server-side total and re-rank times, and queries/s over the client's wall clock.</summary>
    public static PassTimings Summarize(IReadOnlyList<SearchOutcome> outcomes, TimeSpan wall)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var total = outcomes.Select(o => o.TotalMs).ToList();
        var rerank = outcomes.Select(o => o.RerankMs).ToList();
        return new PassTimings(
            total.Average(),
            RetrievalMetrics.Percentile(total, 95),
            rerank.Average(),
            RetrievalMetrics.Percentile(rerank, 95),
            outcomes.Count / Math.Max(wall.TotalSeconds, 1e-9));
    }

    private async Task<(string Mode, List<SearchOutcome> Outcomes, PassTimings Timings)> PassAsync(
        string mode, List<EvalPair> pairs, List<string> gallery, int limit, int? candidates, bool rerank, CancellationToken ct)
    {
        // One untimed warm-up search, so the first query's one-off costs (JIT, session start) do not land in the p95.
        await backend.SearchAsync(new SearchQuery(pairs[0].Caption, limit, candidates, rerank, gallery, rerank ? settings.Pooling : null), ct).ConfigureAwait(false);
        var outcomes = new List<SearchOutcome>(pairs.Count);
        var watch = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        foreach (var pair in pairs)
        {
            outcomes.Add(await backend.SearchAsync(new SearchQuery(pair.Caption, limit, candidates, rerank, gallery, rerank ? settings.Pooling : null), ct).ConfigureAwait(false));
            if (watch.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = watch.Elapsed;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: {outcomes.Count}/{pairs.Count} queries ({watch.Elapsed.TotalSeconds:F0} s)"));
            }
        }

        var wall = watch.Elapsed;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: {pairs.Count} queries in {wall.TotalSeconds:F1} s"));
        return (mode, outcomes, Summarize(outcomes, wall));
    }
}
