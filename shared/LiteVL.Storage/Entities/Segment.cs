namespace LiteVL.Storage.Entities;

/// <summary>A time window of a video, encoded as one unit (T frames). Key (VideoId, Index): re-runs never duplicate it.</summary>
public sealed class Segment
{
    public Guid VideoId { get; set; }

    public int Index { get; set; }

    public double StartSeconds { get; set; }

    public double EndSeconds { get; set; }

    /// <summary>Blob key of the uint8 [T,S,S,3] frames.</summary>
    public required string FramesKey { get; set; }

    /// <summary>Blob key of the JPEG thumbnail.</summary>
    public required string ThumbnailKey { get; set; }

    /// <summary>Timestamps (seconds) of the T sampled frames, for the evidence frame of a hit.</summary>
    public List<double> FrameTimes { get; set; } = [];

    /// <summary>Blob key of the fp16 video_tokens, once encoded.</summary>
    public string? TokensKey { get; set; }

    public string? ModelVersion { get; set; }
}
