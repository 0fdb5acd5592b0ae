namespace LiteVL.Contracts;

/// <summary>
/// Event: the encoder stored every segment's <c>video_tokens</c> (fp16) in the feature store. Carries the 256-d pooled
/// embeddings (1 KB per segment), which the indexer writes to the vector index. Consumed by the indexer.
/// </summary>
public sealed record SegmentsEncoded
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    public required string ModelVersion { get; init; }

    public required IReadOnlyList<EncodedSegment> Segments { get; init; }
}

/// <summary>One segment's L2-normalised video embedding.</summary>
public sealed record EncodedSegment
{
    public required int Index { get; init; }

    public required float[] Embedding { get; init; }
}
