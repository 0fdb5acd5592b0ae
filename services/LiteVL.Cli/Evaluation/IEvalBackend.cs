namespace LiteVL.Cli.Evaluation;

/// <summary>Answer to an upload: the video's id (an existing one when the bytes were already uploaded), or why it was refused.</summary>
public sealed record UploadOutcome(string? Id, bool Duplicate, string? Rejection);

/// <summary>What the evaluation needs of <c>GET /v1/videos/{id}</c>.</summary>
public sealed record VideoStatus(string State, string? FailureReason, string? ModelVersion, int SegmentCount);

/// <summary>One <c>POST /v1/search</c>; <paramref name="Pooling"/> "tdp" or "none" (null: the model's default).</summary>
public sealed record SearchQuery(string Query, int Limit, int? Candidates, bool Rerank, IReadOnlyList<string> VideoIds, string? Pooling = null);

/// <summary>
/// What the evaluation needs of a search response: video ids best first, timings, and what the server said, including
/// the pooling its re-ranker used (null when it did not re-rank).
/// </summary>
public sealed record SearchOutcome(
    IReadOnlyList<string> VideoIds,
    double TotalMs,
    double RerankMs,
    bool Reranked,
    string? ModelVersion,
    IReadOnlyList<string> Warnings,
    string? Pooling = null);

/// <summary>One <c>POST /v1/videos/{id}/ask</c>: <paramref name="Answers"/> for rank mode, none for generate mode.</summary>
public sealed record AskQuery(string VideoId, string Question, IReadOnlyList<string>? Answers, string Mode);

/// <summary>What the evaluation needs of an ask response, and the client's round-trip time (the API reports no timings for asks).</summary>
public sealed record AskOutcome(string Answer, double Score, string Mode, string? ModelVersion, IReadOnlyList<string> Warnings, double Milliseconds);

/// <summary>The platform as the evaluation sees it; <see cref="HttpEvalBackend"/> is the thin HTTP layer.</summary>
public interface IEvalBackend
{
    Task<UploadOutcome> UploadAsync(string path, string title, CancellationToken ct);

    Task<VideoStatus> GetVideoAsync(string id, CancellationToken ct);

    Task<SearchOutcome> SearchAsync(SearchQuery query, CancellationToken ct);

    Task<AskOutcome> AskAsync(AskQuery query, CancellationToken ct);
}
