namespace LiteVL.Storage.Entities;

/// <summary>One uploaded video of one tenant. Unique per (tenant, SHA-256 of the bytes).</summary>
public sealed class Video
{
    public Guid Id { get; set; }

    public required string TenantId { get; set; }

    /// <summary>Lower-case hex SHA-256 of the original bytes.</summary>
    public required string Sha256 { get; set; }

    public long SizeBytes { get; set; }

    public string? ContentType { get; set; }

    public string? OriginalFileName { get; set; }

    public string? Title { get; set; }

    public List<string> Tags { get; set; } = [];

    public VideoState State { get; set; }

    /// <summary>When the video entered <see cref="State"/>; the reconciler re-drives videos stuck too long.</summary>
    public DateTime StateChangedAt { get; set; }

    public string? FailedStage { get; set; }

    public string? FailureReason { get; set; }

    public double? DurationSeconds { get; set; }

    public int? Width { get; set; }

    public int? Height { get; set; }

    public int SegmentCount { get; set; }

    /// <summary>Model version whose vectors index this video.</summary>
    public string? ModelVersion { get; set; }

    /// <summary>How many times the reconciler re-drove this video (all stages together); an operator's retry resets it.</summary>
    public int Attempts { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    public List<Segment> Segments { get; set; } = [];

    public List<VideoEvent> Events { get; set; } = [];
}
