using System.ComponentModel.DataAnnotations;

namespace LiteVL.Encoder;

/// <summary>Section <c>LiteVL:Encoder</c>.</summary>
public sealed class EncoderOptions
{
    public const string Section = "LiteVL:Encoder";

    /// <summary>Segments per video-encoder run; segments of several videos share a run.</summary>
    [Range(1, 256)]
    public int BatchSize { get; set; } = 8;

    /// <summary>How long to wait for more FramesExtracted messages to fill a batch.</summary>
    [Range(0, 60_000)]
    public int MaxWaitMilliseconds { get; set; } = 200;

    /// <summary>FramesExtracted messages one worker takes at once (each holds 1+ segments).</summary>
    [Range(1, 256)]
    public int MessagesPerBatch { get; set; } = 16;
}
