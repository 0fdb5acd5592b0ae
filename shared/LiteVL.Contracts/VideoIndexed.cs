namespace LiteVL.Contracts;

/// <summary>Event: every segment of the video has exactly one point in the vector index; the video is searchable.</summary>
public sealed record VideoIndexed
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    public required string ModelVersion { get; init; }

    public required int SegmentCount { get; init; }
}
