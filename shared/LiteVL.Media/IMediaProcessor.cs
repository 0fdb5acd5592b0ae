namespace LiteVL.Media;

/// <summary>
/// Everything the platform does with ffmpeg/ffprobe. Every run has a time limit that kills the process,
/// bounded concurrency, <c>-nostdin</c> and <c>-protocol_whitelist file</c>; failures are <see cref="MediaException"/>s.
/// Cancelling the token kills the running process and throws <see cref="OperationCanceledException"/>.
/// </summary>
public interface IMediaProcessor
{
    /// <summary>Start-up / health check: the versions of ffmpeg and ffprobe; <see cref="MediaErrorKind.ToolMissing"/> when absent.</summary>
    Task<MediaToolVersions> CheckToolsAsync(CancellationToken cancellationToken = default);

    /// <summary>Probes and validates a file (video stream present, positive duration, within the size and duration limits).</summary>
    Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Plans segments and writes T RGB frames (S×S) and one thumbnail per segment, atomically.</summary>
    Task<ExtractionResult> ExtractAsync(string path, ExtractionRequest request, CancellationToken cancellationToken = default);

    /// <summary>Writes a JPEG of the frame at <paramref name="at"/>, <see cref="MediaOptions.ThumbnailWidth"/> wide, atomically.</summary>
    Task ThumbnailAsync(string path, TimeSpan at, string outputPath, CancellationToken cancellationToken = default);
}
