using LiteVL.Model.Config;

namespace LiteVL.Search;

/// <summary>Optional restrictions of a search; the tenant restriction is implicit and always applied.</summary>
public sealed record SearchFilter(IReadOnlyList<string>? Tags = null, IReadOnlyList<Guid>? VideoIds = null, DateTimeOffset? UploadedFrom = null, DateTimeOffset? UploadedTo = null);

/// <summary>Body of <c>POST /v1/search</c>.</summary>
/// <param name="Pooling">Re-ranking protocol: <c>tdp</c> (LiteVL) or <c>none</c> (BLIP's zero-shot: the grounded encoder attends to the video tokens only); default the model's.</param>
public sealed record SearchRequest(string? Query, int? Limit = null, int? Candidates = null, bool? Rerank = null, SearchFilter? Filter = null, PoolingMode? Pooling = null);

/// <summary>One matching segment of a video.</summary>
/// <param name="Score">Ranking score: ITM match logit + coarse cosine when re-ranked, else the coarse cosine.</param>
/// <param name="EvidenceTime">Time (s) of the frame the query matches best (highest frame weight; a coarse search computes the re-ranker's weights from the CLS tokens).</param>
public sealed record SegmentHit(int Index, double Start, double End, double Score, double CoarseScore, double? MatchLogit, double? EvidenceTime, string ThumbnailUrl);

/// <summary>A video and its best segments, best first.</summary>
public sealed record VideoHit(Guid VideoId, string? Title, double Score, IReadOnlyList<SegmentHit> Segments);

public sealed record SearchTimings(double EncodeTextMs, double CoarseSearchMs, double LoadTokensMs, double RerankMs, double TotalMs);

/// <param name="Pooling">The pooling the re-ranker used (null when the search was not re-ranked).</param>
public sealed record SearchResponse(string Query, string ModelVersion, bool Reranked, IReadOnlyList<string> Warnings, IReadOnlyList<VideoHit> Hits, SearchTimings Timings, PoolingMode? Pooling = null);
