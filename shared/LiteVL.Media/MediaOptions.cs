namespace LiteVL.Media;

/// <summary>How the T frames of every segment are taken from the video.</summary>
public enum SamplingMode
{
    /// <summary>One ffmpeg pass over the whole video; a select filter keeps the frames at the sample times (default).</summary>
    SinglePass,
    /// <summary>One ffmpeg run per frame, each with an input-side <c>-ss</c> seek (for comparison and benchmarks).</summary>
    Seek,
}

/// <summary>Options of <see cref="MediaToolchain"/>. Bind from configuration and call <see cref="Validate"/> at start-up.</summary>
public sealed class MediaOptions
{
    /// <summary>Folder holding ffmpeg and ffprobe; empty means "on PATH".</summary>
    public string BinaryFolder { get; set; } = "";

    /// <summary>At most this many ffmpeg/ffprobe processes run at once (per <see cref="MediaToolchain"/> instance).</summary>
    public int MaxConcurrentProcesses { get; set; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Time limit of one ffprobe run; past it the process is killed.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time limit of one ffmpeg run (the whole single pass, or one seek); past it the process is killed.</summary>
    public TimeSpan ProcessTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Most resident memory one ffmpeg or ffprobe run on an uploaded file may use (default 2 GiB; 0 turns the check off);
    /// past it the run is stopped and the video fails with that reason. Linux only (sampled from /proc every 100 ms).
    /// </summary>
    public long MaxProcessMemoryBytes { get; set; } = 2L << 30;

    /// <summary>Largest accepted declared frame width; larger files are rejected before decoding.</summary>
    public int MaxWidth { get; set; } = 8192;

    /// <summary>Largest accepted declared frame height.</summary>
    public int MaxHeight { get; set; } = 8192;

    /// <summary>
    /// Largest accepted frame area in pixels (default 36 M: 8K UHD 7680×4320 and DCI 8K 8192×4320 pass). Checked on the
    /// probed size and given to every decoder as <c>-max_pixels</c>, so a stream that switches to a bigger size mid-way
    /// (a new H.264 SPS) is stopped by the decoder instead of allocating frames the probe never saw.
    /// </summary>
    public long MaxPixels { get; set; } = 36_000_000;

    /// <summary>
    /// The ffmpeg demuxers an uploaded file may be opened with (ffmpeg's <c>-format_whitelist</c>), comma-separated: the
    /// containers the upload sniffer recognises. Reason: ffmpeg picks the demuxer by content, and playlist and manifest
    /// demuxers (hls, dash, concat, imf) open the files and URLs they list; <c>-protocol_whitelist file</c> still lets them
    /// read any local file (another tenant's video, /etc/passwd). A DASH manifest that begins <c>&lt;!--free--&gt;</c> passes
    /// a magic-byte check as an MP4 box and was probed as DASH (docs/reliability.md, "Hostile media").
    /// </summary>
    public string AllowedFormats { get; set; } = DefaultAllowedFormats;

    /// <summary>The default of <see cref="AllowedFormats"/> (ffmpeg demuxer names).</summary>
    public const string DefaultAllowedFormats = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,flv,ogg,asf,yuv4mpegpipe";

    /// <summary>Demuxers that open other files or URLs named inside the input; never allowed, whatever the setting says.</summary>
    public static readonly IReadOnlyList<string> ReferencingFormats = ["hls", "dash", "concat", "imf", "webm_dash_manifest", "image2", "sdp", "rtsp"];

    /// <summary>Longest accepted duration.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromHours(6);

    /// <summary>
    /// Window length. Videos up to this long are one segment. 10 s: at T = 8 that is one frame every 1.25 s, close to
    /// the clip lengths LiteVL/BLIP were evaluated on (MSR-VTT clips are 10–30 s), and short enough that a hit names a moment.
    /// </summary>
    public double SegmentSeconds { get; set; } = 10;

    /// <summary>A last window shorter than this is merged into the previous one.</summary>
    public double MinTailSeconds { get; set; } = 1;

    public SamplingMode SamplingMode { get; set; } = SamplingMode.SinglePass;

    /// <summary>Adds <c>-hwaccel cuda</c> (NVDEC) to every decoding ffmpeg run. Frames are downloaded to system memory for the filters.</summary>
    public bool UseCudaDecoding { get; set; }

    /// <summary>Thumbnail width in pixels (height keeps the aspect ratio, rounded to even).</summary>
    public int ThumbnailWidth { get; set; } = 320;

    /// <summary>JPEG quality of thumbnails as ffmpeg's <c>-q:v</c> (2 best … 31 worst).</summary>
    public int ThumbnailQuality { get; set; } = 4;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (MaxConcurrentProcesses < 1) throw new ArgumentException($"{nameof(MaxConcurrentProcesses)} must be at least 1 (got {MaxConcurrentProcesses}).");
        if (ProbeTimeout <= TimeSpan.Zero) throw new ArgumentException($"{nameof(ProbeTimeout)} must be positive.");
        if (ProcessTimeout <= TimeSpan.Zero) throw new ArgumentException($"{nameof(ProcessTimeout)} must be positive.");
        if (MaxWidth < 16 || MaxHeight < 16) throw new ArgumentException($"{nameof(MaxWidth)}/{nameof(MaxHeight)} must be at least 16.");
        if (MaxProcessMemoryBytes is < 0 or (> 0 and < 64L << 20)) throw new ArgumentException($"{nameof(MaxProcessMemoryBytes)} must be 0 (off) or at least 64 MiB (got {MaxProcessMemoryBytes}).");
        if (MaxPixels < 256) throw new ArgumentException($"{nameof(MaxPixels)} must be at least 256 (got {MaxPixels}).");
        var formats = AllowedFormats?.Split(',', StringSplitOptions.TrimEntries) ?? [];
        if (formats.Length == 0 || formats.Any(f => f.Length == 0 || !f.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_')))
        {
            throw new ArgumentException($"{nameof(AllowedFormats)} must be a comma-separated list of ffmpeg demuxer names (got '{AllowedFormats}'); the default is '{DefaultAllowedFormats}'.");
        }
        if (formats.FirstOrDefault(ReferencingFormats.Contains) is { } referencing)
        {
            throw new ArgumentException($"{nameof(AllowedFormats)} names '{referencing}', a demuxer that opens the files or URLs listed inside an upload; remove it.");
        }
        if (MaxDuration <= TimeSpan.Zero) throw new ArgumentException($"{nameof(MaxDuration)} must be positive.");
        if (!(SegmentSeconds > 0) || double.IsInfinity(SegmentSeconds)) throw new ArgumentException($"{nameof(SegmentSeconds)} must be a positive number of seconds (got {SegmentSeconds}).");
        if (!(MinTailSeconds >= 0) || MinTailSeconds >= SegmentSeconds) throw new ArgumentException($"{nameof(MinTailSeconds)} must be in [0, {nameof(SegmentSeconds)}) (got {MinTailSeconds}).");
        if (ThumbnailWidth is < 16 or > 4096) throw new ArgumentException($"{nameof(ThumbnailWidth)} must be in [16, 4096] (got {ThumbnailWidth}).");
        if (ThumbnailQuality is < 2 or > 31) throw new ArgumentException($"{nameof(ThumbnailQuality)} must be in [2, 31] (got {ThumbnailQuality}).");
    }
}
