namespace LiteVL.Media;

/// <summary>Versions reported by <c>ffmpeg -version</c> and <c>ffprobe -version</c> (first line).</summary>
public sealed record MediaToolVersions(string FFmpeg, string FFprobe);

/// <summary>The primary video stream of a file.</summary>
/// <param name="FrameCount">Frame count when the container states it, otherwise null.</param>
/// <param name="EstimatedFrameCount">Duration × average frame rate (always available when the frame rate is known).</param>
public sealed record VideoStreamInfo(
    string Codec, int Width, int Height, double FrameRate, long? FrameCount, long EstimatedFrameCount, int Rotation, string? PixelFormat);

/// <summary>A probed and validated media file.</summary>
public sealed record MediaInfo(
    string Path, string Container, TimeSpan Duration, VideoStreamInfo Video, bool HasAudio, string? AudioCodec, long SizeBytes);

/// <summary>What to extract and where.</summary>
/// <param name="OutputDirectory">Receives <c>frames/{index:D5}.rgb</c> and <c>thumbs/{index:D5}.jpg</c>.</param>
/// <param name="FramesPerSegment">T, from the model config.</param>
/// <param name="FrameSize">S, from the model config (frames are S×S).</param>
/// <param name="Mode">Overrides <see cref="MediaOptions.SamplingMode"/> when set.</param>
/// <param name="Media">An earlier probe of the same file, to skip probing again.</param>
public sealed record ExtractionRequest(
    string OutputDirectory, int FramesPerSegment, int FrameSize, SamplingMode? Mode = null, MediaInfo? Media = null);

/// <summary>One written segment: <c>FramesPath</c> holds T·S·S·3 bytes, uint8 [T, S, S, 3] RGB.</summary>
public sealed record ExtractedSegment(
    int Index, double StartSeconds, double EndSeconds, IReadOnlyList<double> SampleTimes, string FramesPath, string ThumbnailPath);

public sealed record ExtractionResult(
    MediaInfo Media, SamplingMode Mode, int FramesPerSegment, int FrameSize, IReadOnlyList<ExtractedSegment> Segments, TimeSpan Elapsed);
