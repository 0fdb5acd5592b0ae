namespace LiteVL.Contracts;

/// <summary>Event: a stage gave up on a video; its state is <c>Failed</c> with the reason a person can act on.</summary>
public sealed record VideoFailed
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    public required string Stage { get; init; }

    public required string Reason { get; init; }
}
