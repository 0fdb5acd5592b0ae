namespace LiteVL.Storage.Entities;

/// <summary>One step of a video's stage timeline.</summary>
public sealed class VideoEvent
{
    public long Id { get; set; }

    public Guid VideoId { get; set; }

    public VideoState State { get; set; }

    public DateTime At { get; set; }

    public string? Detail { get; set; }
}
