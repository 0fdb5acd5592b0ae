namespace LiteVL.Storage.Entities;

/// <summary>
/// One running encoder process and its recent work, written by the encoder after each batch and on a timer (the
/// dashboard shows it). A worker whose heartbeat stopped is gone or hung; rows of long-gone workers are pruned.
/// </summary>
public sealed class EncoderWorker
{
    /// <summary>Machine name and process id, e.g. <c>gpu-node-3:4711</c>.</summary>
    public required string Id { get; set; }

    /// <summary>The ONNX Runtime execution provider in use: <c>cpu</c> or <c>cuda</c>.</summary>
    public required string Provider { get; set; }

    public string? ModelVersion { get; set; }

    public DateTime StartedAt { get; set; }

    public DateTime LastHeartbeatAt { get; set; }

    /// <summary>Batches (consumer calls) handled since the process started.</summary>
    public long Batches { get; set; }

    /// <summary>Segments encoded since the process started.</summary>
    public long Segments { get; set; }

    /// <summary>Segments in the most recent batch.</summary>
    public int LastBatchSize { get; set; }

    public DateTime? LastBatchAt { get; set; }

    /// <summary>Segments per second over the last minute (wall-clock time, so idle time lowers it).</summary>
    public double SegmentsPerSecond { get; set; }
}
