namespace LiteVL.Contracts;

/// <summary>
/// Event: every segment's frames (uint8 [T,S,S,3]) and thumbnail are in the blob store and the segments are recorded
/// in the database. Consumed by the encoder workers.
/// </summary>
public sealed record FramesExtracted
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    public required int SegmentCount { get; init; }

    /// <summary>T of the frames on disk: the encoder checks it matches its model.</summary>
    public required int FramesPerSegment { get; init; }

    /// <summary>S of the frames on disk.</summary>
    public required int FrameSize { get; init; }
}
