namespace LiteVL.Storage.Entities;

/// <summary>
/// A deleted video whose vector points may still exist: written in the transaction that deletes the video's rows,
/// removed by the indexer once it has removed the points. The reconciler re-publishes <c>VideoDeleted</c> for tombstones
/// that stay (the broker was down when the video was deleted, or the message was lost), so no point outlives its video.
/// </summary>
public sealed class DeletedVideo
{
    public Guid VideoId { get; set; }

    public required string TenantId { get; set; }

    /// <summary>The model version whose collection holds the points; null when the video was never encoded.</summary>
    public string? ModelVersion { get; set; }

    public DateTime DeletedAt { get; set; }

    /// <summary>When <c>VideoDeleted</c> was last published for it (by the deletion or a re-drive).</summary>
    public DateTime LastPublishedAt { get; set; }

    /// <summary>How often the reconciler re-published <c>VideoDeleted</c>.</summary>
    public int Attempts { get; set; }
}
