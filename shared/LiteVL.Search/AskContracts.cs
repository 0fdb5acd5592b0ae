namespace LiteVL.Search;

/// <summary>Body of <c>POST /v1/videos/{id}/ask</c>.</summary>
/// <param name="Answers">Candidate answers to pick from (rank mode); none to let the model write one (generate mode).</param>
/// <param name="Mode"><c>rank</c> or <c>generate</c>; default <c>rank</c> when answers are given, else <c>generate</c>.</param>
public sealed record AskRequest(string? Question, IReadOnlyList<string>? Answers = null, string? Mode = null);

/// <param name="Score">The answer's probability under the answer decoder (0..1).</param>
public sealed record AskAlternative(string Answer, double Score);

/// <summary>The segment whose answer was returned.</summary>
public sealed record AskSegment(int Index, double Start, double End);

/// <param name="Score">Probability of <paramref name="Answer"/> under the answer decoder (0..1).</param>
/// <param name="Alternatives">The next most likely answers of the answering segment, best first.</param>
/// <param name="EvidenceTime">Time (s) of the frame with the highest pooling weight for the question in the answering segment.</param>
/// <param name="Mode"><c>rank</c> or <c>generate</c>: how the answer was found.</param>
/// <param name="Warnings">What the answer should be read with, e.g. a question cut to the model's token limit.</param>
public sealed record AskResponse(
    string Answer, double Score, IReadOnlyList<AskAlternative> Alternatives, double? EvidenceTime, AskSegment Segment, string Mode, string ModelVersion,
    IReadOnlyList<string>? Warnings = null);

/// <summary>Why a question was not answered; the endpoint maps each to its status (400, 404, 409).</summary>
public enum AskFailure
{
    /// <summary>The request itself is malformed (400).</summary>
    BadRequest,

    /// <summary>No video with this id for this tenant (404; another tenant's video is not told apart from a missing one).</summary>
    VideoNotFound,

    /// <summary>The video is not (yet) Indexed with the model the service runs (409).</summary>
    VideoNotReady,

    /// <summary>The model has no video QA heads (409: a deployment matter, not the request's).</summary>
    NoQaHeads,
}

/// <summary>A question that cannot be answered; <see cref="Failure"/> says why.</summary>
public sealed class AskException(AskFailure failure, string message) : Exception(message)
{
    public AskFailure Failure { get; } = failure;
}
