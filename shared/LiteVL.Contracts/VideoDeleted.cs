namespace LiteVL.Contracts;

/// <summary>
/// Event: the Upload API removed a video's rows and files. Consumed by the indexer, which owns the vector index and
/// removes the video's points. Re-delivery is harmless (deleting absent points does nothing).
/// </summary>
public sealed record VideoDeleted
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    /// <summary>The model version whose collection holds the video's points; <c>null</c> when the video was never
    /// encoded/indexed (the indexer then cleans the active version's collection).</summary>
    public string? ModelVersion { get; init; }
}
