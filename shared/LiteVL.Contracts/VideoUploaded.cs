namespace LiteVL.Contracts;

/// <summary>Event: the Upload API stored a new video's original in the blob store. Consumed by the frame extractor.</summary>
public sealed record VideoUploaded
{
    public required Guid VideoId { get; init; }

    public required string TenantId { get; init; }

    public required string Sha256 { get; init; }

    public required long SizeBytes { get; init; }

    public required DateTimeOffset UploadedAt { get; init; }
}
