using System.Diagnostics;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.Model.Text;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Search;

/// <summary>A request that cannot be answered as asked; mapped to a 400 ProblemDetails.</summary>
public sealed class SearchRequestException(string message) : Exception(message);

/// <summary>
/// Text → <c>text_encoder</c> → coarse top-k from the vector index (tenant + filters) → candidates' video_tokens →
/// one batched <c>reranker</c> run (text-dependent pooling, or none when the request or model says so, + grounded encoder) → score = ITM match logit + coarse
/// cosine → hits grouped by video, each segment with its evidence frame (from the re-ranker's frame weights, or, for a
/// coarse search, the same weights computed from the shown segments' CLS tokens). Knows nothing of HTTP.
/// </summary>
public sealed class SearchService(LiteVLModel model, IVectorIndex index, LiteVLDbContext db, TokenCache tokens, FeatureStore features, IOptions<SearchOptions> options)
{
    public async Task<SearchResponse> SearchAsync(string tenantId, SearchRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var o = options.Value;
        var (query, limit, candidates, rerank) = Validate(request, o, model.Config.RerankByDefault ?? true);
        var total = Stopwatch.StartNew();
        var warnings = new List<string>();
        var c = model.Config;

        var watch = Stopwatch.StartNew();
        var tokenized = model.Tokenizer.Encode([query]);
        if (tokenized.Truncated[0])
        {
            warnings.Add($"The query is longer than the model's {tokenized.Length} tokens; only its beginning was used.");
        }

        var q = model.EncodeTexts([query]);
        double encodeMs = watch.Elapsed.TotalMilliseconds;

        watch.Restart();
        var filter = new VectorFilter(tenantId)
        {
            Tags = request.Filter?.Tags,
            VideoIds = request.Filter?.VideoIds,
            UploadedFrom = request.Filter?.UploadedFrom,
            UploadedTo = request.Filter?.UploadedTo,
        };
        IReadOnlyList<VectorHit> coarse;
        try
        {
            coarse = await index.SearchAsync(c.Version, q, candidates, filter, ct).ConfigureAwait(false);
        }
        catch (VectorCollectionNotFoundException)
        {
            coarse = []; // nothing indexed with this model yet
        }

        double coarseMs = watch.Elapsed.TotalMilliseconds;

        // The database has the last word: only videos of this tenant that are Indexed with this model are returned
        // (a video deleted or re-indexed since its points were written is dropped here).
        var videoIds = coarse.Select(h => h.VideoId).Distinct().ToList();
        var videos = await db.Videos.AsNoTracking()
            .Where(v => videoIds.Contains(v.Id) && v.TenantId == tenantId && v.State == VideoState.Indexed && v.ModelVersion == c.Version)
            .Select(v => new { v.Id, v.Title, v.StateChangedAt })
            .ToDictionaryAsync(v => v.Id, ct).ConfigureAwait(false);
        var segments = await db.Segments.AsNoTracking()
            .Where(s => videoIds.Contains(s.VideoId))
            .Select(s => new { s.VideoId, s.Index, s.FrameTimes, s.TokensKey, s.ModelVersion })
            .ToListAsync(ct).ConfigureAwait(false);
        var segmentInfo = segments.ToDictionary(s => (s.VideoId, s.Index));
        var live = coarse.Where(h => videos.ContainsKey(h.VideoId) && segmentInfo.TryGetValue((h.VideoId, h.SegmentIndex), out var s) && s.TokensKey is not null && s.ModelVersion == c.Version).ToList();

        double loadMs = 0, rerankMs = 0;
        RerankOutput? reranked = null;
        var scores = live.Select(h => (double)h.Score).ToArray();
        var matchLogits = new double?[live.Count];
        var evidence = new double?[live.Count];
        if (rerank && live.Count > 0)
        {
            watch.Restart();
            int perCandidate = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
            var buffer = new float[live.Count * perCandidate];
            await Parallel.ForEachAsync(Enumerable.Range(0, live.Count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (k, token) =>
            {
                var hit = live[k];
                var key = new TokenKey(segmentInfo[(hit.VideoId, hit.SegmentIndex)].TokensKey!, videos[hit.VideoId].StateChangedAt.Ticks);
                await tokens.ReadAsync(key, buffer.AsMemory(k * perCandidate, perCandidate), c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize, token).ConfigureAwait(false);
            }).ConfigureAwait(false);
            loadMs = watch.Elapsed.TotalMilliseconds;

            watch.Restart();
            try
            {
                reranked = model.Rerank(query, buffer, live.Count, q, request.Pooling);
            }
            catch (ModelInputException e) when (request.Pooling is not null)
            {
                throw new SearchRequestException(e.Message); // e.g. pooling asked of a re-ranker built before it could be chosen
            }

            rerankMs = watch.Elapsed.TotalMilliseconds;
            for (int k = 0; k < live.Count; k++)
            {
                double logit = reranked!.MatchLogit(k);
                matchLogits[k] = logit;
                scores[k] = logit + live[k].Score;
                evidence[k] = EvidenceTime(reranked.FrameWeights.AsSpan(k * c.NumFrames, c.NumFrames), segmentInfo[(live[k].VideoId, live[k].SegmentIndex)].FrameTimes);
            }
        }

        var hits = Enumerable.Range(0, live.Count)
            .Select(k => (Hit: live[k], Segment: new SegmentHit(
                live[k].SegmentIndex,
                live[k].Start,
                live[k].End,
                scores[k],
                live[k].Score,
                matchLogits[k],
                evidence[k],
                $"/v1/videos/{live[k].VideoId}/segments/{live[k].SegmentIndex}/thumbnail")))
            .GroupBy(x => x.Hit.VideoId)
            .Select(g =>
            {
                var best = g.Select(x => x.Segment).OrderByDescending(s => s.Score).ThenBy(s => s.Index).ToList();
                return new VideoHit(g.Key, videos[g.Key].Title, best[0].Score, best.Take(o.SegmentsPerVideo).ToList());
            })
            .OrderByDescending(v => v.Score)
            .ThenBy(v => v.VideoId)
            .Take(limit)
            .ToList();
        bool didRerank = rerank && live.Count > 0;
        if (!didRerank && hits.Count > 0)
        {
            watch.Restart();
            hits = await WithCoarseEvidenceAsync(hits, q, (videoId, index) => segmentInfo[(videoId, index)].FrameTimes, (videoId, index) => segmentInfo[(videoId, index)].TokensKey!, warnings, ct).ConfigureAwait(false);
            loadMs = watch.Elapsed.TotalMilliseconds;
        }

        LiteVLTelemetry.SearchDuration.Record(total.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("rerank", didRerank));
        return new SearchResponse(query, c.Version, didRerank, warnings, hits, new SearchTimings(encodeMs, coarseMs, loadMs, rerankMs, total.Elapsed.TotalMilliseconds), reranked?.Pooling);
    }

    /// <summary>
    /// The evidence frame of every returned segment of a coarse search: the frame weights the re-ranker would give
    /// (<see cref="LiteVLModel.FrameWeights"/>), computed from the segments' stored CLS tokens alone. The evidence is an
    /// extra of a coarse hit, so a segment whose tokens cannot be read (deleted since the database was asked), or a model
    /// directory without its weights file, leaves it null with a warning instead of failing the search.
    /// </summary>
    private async Task<List<VideoHit>> WithCoarseEvidenceAsync(
        List<VideoHit> hits, float[] q, Func<Guid, int, List<double>> frameTimes, Func<Guid, int, string> tokensKey, List<string> warnings, CancellationToken ct)
    {
        var c = model.Config;
        int t = c.NumFrames, d = c.Vision.HiddenSize;
        var shown = hits.SelectMany(h => h.Segments.Select(s => (h.VideoId, s.Index))).ToList();
        var cls = new float[shown.Count * t * d];
        var unreadable = new bool[shown.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, shown.Count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (k, token) =>
        {
            try
            {
                await features.ReadFrameClsAsync(tokensKey(shown[k].VideoId, shown[k].Index), cls.AsMemory(k * t * d, t * d), t, c.Vision.TokensPerFrame, d, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                unreadable[k] = true;
            }
        }).ConfigureAwait(false);
        float[] weights;
        try
        {
            weights = model.FrameWeights(cls, shown.Count, q);
        }
        catch (ModelDirectoryException e)
        {
            warnings.Add($"No evidence frames: {e.Message}");
            return hits;
        }

        var evidence = new Dictionary<(Guid, int), double?>();
        for (int k = 0; k < shown.Count; k++)
        {
            evidence[shown[k]] = unreadable[k] ? null : EvidenceTime(weights.AsSpan(k * t, t), frameTimes(shown[k].VideoId, shown[k].Index));
        }

        int missing = unreadable.Count(u => u);
        if (missing > 0)
        {
            warnings.Add($"{missing} segment(s) have no evidence frame: their stored tokens could not be read (deleted or being re-indexed).");
        }

        return [.. hits.Select(h => h with { Segments = [.. h.Segments.Select(s => s with { EvidenceTime = evidence[(h.VideoId, s.Index)] })] })];
    }

    /// <summary>The time of the frame with the highest weight (null when the segment's frame times do not reach it).</summary>
    private static double? EvidenceTime(ReadOnlySpan<float> frameWeights, List<double> frameTimes)
    {
        int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(frameWeights);
        return best < frameTimes.Count ? frameTimes[best] : null;
    }

    /// <param name="rerankByDefault">What a request that leaves <c>rerank</c> out gets: the model's <see cref="LiteVL.Model.Config.ModelConfig.RerankByDefault"/>.</param>
    private static (string Query, int Limit, int Candidates, bool Rerank) Validate(SearchRequest request, SearchOptions o, bool rerankByDefault)
    {
        string query = request.Query?.Trim() ?? string.Empty;
        if (query.Length == 0)
        {
            throw new SearchRequestException("The query is empty: describe what happens in the moment you are looking for.");
        }

        if (query.Length > o.MaxQueryCharacters)
        {
            throw new SearchRequestException($"The query has {query.Length} characters; the limit is {o.MaxQueryCharacters}.");
        }

        if (string.IsNullOrWhiteSpace(BlipTokenizer.CleanCaption(query)))
        {
            throw new SearchRequestException("The query has no words once punctuation is removed.");
        }

        int limit = request.Limit ?? o.DefaultLimit;
        if (limit < 1 || limit > o.MaxLimit)
        {
            throw new SearchRequestException($"limit must be between 1 and {o.MaxLimit}, not {limit}.");
        }

        int candidates = request.Candidates ?? o.DefaultCandidates;
        if (candidates < 1 || candidates > o.MaxCandidates)
        {
            throw new SearchRequestException($"candidates must be between 1 and {o.MaxCandidates}, not {candidates}.");
        }

        if (request.Filter is { UploadedFrom: { } from, UploadedTo: { } to } && to <= from)
        {
            throw new SearchRequestException("filter.uploadedTo must be later than filter.uploadedFrom.");
        }

        return (query, limit, candidates, request.Rerank ?? rerankByDefault);
    }
}
