namespace LiteVL.Media;

/// <summary>Why a media operation failed; a consumer maps it to a video's failure reason.</summary>
public enum MediaErrorKind
{
    /// <summary>The input file does not exist.</summary>
    NotFound,
    /// <summary>ffmpeg or ffprobe is not installed (or not executable).</summary>
    ToolMissing,
    /// <summary>The file is not a readable media file (truncated, corrupt, not media at all, empty).</summary>
    Undecodable,
    /// <summary>The file is media but has no video stream (for example audio only).</summary>
    NoVideoStream,
    /// <summary>The duration is zero or unknown (for example a single still image).</summary>
    ZeroDuration,
    /// <summary>The file declares something we refuse before decoding (size or duration over the limits).</summary>
    Unsupported,
    /// <summary>ffmpeg/ffprobe ran past its time limit and was killed.</summary>
    Timeout,
    /// <summary>ffmpeg failed for another reason (see the stderr tail).</summary>
    ProcessFailed,
}

/// <summary>A media failure with a message a person understands, the command line that ran and the tail of its stderr.</summary>
public sealed class MediaException : Exception
{
    public MediaException() : this(MediaErrorKind.ProcessFailed, "media processing failed") { }

    public MediaException(string message) : this(MediaErrorKind.ProcessFailed, message) { }

    public MediaException(string message, Exception innerException) : this(MediaErrorKind.ProcessFailed, message, null, null, innerException) { }

    public MediaException(MediaErrorKind kind, string message, string? commandLine = null, string? stderrTail = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        CommandLine = commandLine;
        StderrTail = stderrTail;
    }

    public MediaErrorKind Kind { get; }

    /// <summary>The ffmpeg/ffprobe command line (binary and arguments), when a process ran.</summary>
    public string? CommandLine { get; }

    /// <summary>The last ~2 KB of the tool's stderr, when a process ran.</summary>
    public string? StderrTail { get; }

    /// <summary>Message plus command line and stderr tail, for logs.</summary>
    public string Details =>
        $"{Kind}: {Message}" +
        (CommandLine is null ? "" : $"\ncommand: {CommandLine}") +
        (string.IsNullOrWhiteSpace(StderrTail) ? "" : $"\nstderr (tail):\n{StderrTail}");

    public override string ToString() => Details + "\n" + base.ToString();
}
