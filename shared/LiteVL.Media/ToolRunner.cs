using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FFMpegCore;
using FFMpegCore.Exceptions;

namespace LiteVL.Media;

/// <summary>
/// Runs ffmpeg (through FFMpegCore) and ffprobe under a concurrency gate and a per-run time limit that kills the process.
/// Every ffmpeg run gets <c>-nostdin</c> and <c>-protocol_whitelist file</c> (input and output side); every ffprobe run
/// <c>-protocol_whitelist file</c> (ffprobe has no <c>-nostdin</c>: it never reads the terminal).
/// </summary>
internal sealed class ToolRunner : IDisposable
{
    /// <summary>Input-side options of every ffmpeg run (before <c>-i</c>).</summary>
    public const string CommonInputArguments = "-nostdin -hide_banner -nostats -loglevel info -protocol_whitelist file";

    /// <summary>
    /// Input-side options for a file someone uploaded (added to <see cref="CommonInputArguments"/> and to every ffprobe
    /// run): only the container demuxers of <see cref="MediaOptions.AllowedFormats"/> (playlists and manifests would
    /// open the local files and URLs they list), and decoders that refuse frames over <see cref="MediaOptions.MaxPixels"/>.
    /// </summary>
    public string UntrustedInputArguments => $"-format_whitelist {Options.AllowedFormats} -max_pixels {Options.MaxPixels}";

    /// <summary>Output-side options of every ffmpeg output (the whitelist also governs what a muxer may open).</summary>
    public const string CommonOutputArguments = "-protocol_whitelist file";

    public const string MissingFFmpeg = "ffmpeg not found: install it with `apt-get install -y ffmpeg`";
    public const string MissingFFprobe = "ffprobe not found: install it with `apt-get install -y ffmpeg` (ffprobe is part of the ffmpeg package)";

    private readonly SemaphoreSlim _gate;
    private int _active;
    private int _peak;

    public ToolRunner(MediaOptions options)
    {
        Options = options;
        FFOptions = new FFOptions { BinaryFolder = options.BinaryFolder, LogLevel = null };
        _gate = new SemaphoreSlim(options.MaxConcurrentProcesses, options.MaxConcurrentProcesses);
    }

    public MediaOptions Options { get; }

    public FFOptions FFOptions { get; }

    public int ActiveProcesses => Volatile.Read(ref _active);

    public int PeakConcurrentProcesses => Volatile.Read(ref _peak);

    public string FFmpegPath => GlobalFFOptions.GetFFMpegBinaryPath(FFOptions);

    public string FFprobePath => GlobalFFOptions.GetFFProbeBinaryPath(FFOptions);

    public void Dispose() => _gate.Dispose();

    /// <summary>Runs an ffmpeg command built with FFMpegCore; throws <see cref="MediaException"/> on failure.</summary>
    /// <param name="input">The uploaded file it reads: its runs are held to <see cref="MediaOptions.MaxProcessMemoryBytes"/>.</param>
    public async Task RunFFmpegAsync(FFMpegArgumentProcessor processor, string what, StderrCollector stderr, CancellationToken cancellationToken, string? input = null)
    {
        var commandLine = $"{FFmpegPath} {processor.Arguments}";
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(Options.ProcessTimeout);
            using var memory = new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, memory.Token);
            await using var watch = WatchMemory(input, memory);
            linked.Token.ThrowIfCancellationRequested();
            // FFMpegCore 6: on cancellation it writes 'q' (ignored under -nostdin) and kills the process after the grace period (zero here).
            processor.NotifyOnStandardError(stderr.Add).CancellableThrough(linked.Token, TimeSpan.Zero);
            FFMpegResult? result;
            try
            {
                result = await processor.ProcessAsynchronously(throwOnError: false, FFOptions, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (IsToolMissing(e))
            {
                throw new MediaException(MediaErrorKind.ToolMissing, MissingFFmpeg, commandLine, null, e);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                result = null;
            }
            catch (Exception e) when (e is not OperationCanceledException and not MediaException)
            {
                throw new MediaException(MediaErrorKind.ProcessFailed, $"{what}: ffmpeg could not be run ({e.Message}).", commandLine, stderr.Tail, e);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (memory.IsCancellationRequested)
            {
                throw new MediaException(MediaErrorKind.Unsupported, $"{what}: {OverMemory}", commandLine, stderr.Tail);
            }
            if (timeout.IsCancellationRequested)
            {
                throw new MediaException(MediaErrorKind.Timeout,
                    $"{what}: ffmpeg ran longer than the {Options.ProcessTimeout.TotalSeconds:0.###} s limit and was stopped.", commandLine, stderr.Tail);
            }
            if (result is null || !result.Success)
            {
                var tail = stderr.Tail;
                var kind = ClassifyFailure(tail);
                throw new MediaException(kind, $"{what}: {Describe(kind, tail)} (exit code {result?.ExitCode})", commandLine, tail);
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Runs ffprobe through FFMpegCore's <c>FFProbe.AnalyseAsync</c>.</summary>
    public async Task<IMediaAnalysis> AnalyseAsync(string path, CancellationToken cancellationToken)
    {
        var custom = $"-protocol_whitelist file {UntrustedInputArguments}";
        var commandLine = $"{FFprobePath} -loglevel error -print_format json -show_format -sexagesimal -show_streams -show_chapters \"{path}\" {custom}";
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(Options.ProbeTimeout);
            using var memory = new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, memory.Token);
            await using var watch = WatchMemory(path, memory);
            try
            {
                // Instances kills ffprobe when the token fires.
                return await FFProbe.AnalyseAsync(path, FFOptions, custom, linked.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsToolMissing(e))
            {
                throw new MediaException(MediaErrorKind.ToolMissing, MissingFFprobe, commandLine, null, e);
            }
            catch (Exception e) when (e is not MediaException && linked.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (memory.IsCancellationRequested) throw new MediaException(MediaErrorKind.Unsupported, $"ffprobe: {OverMemory}", commandLine, null, e);
                throw new MediaException(MediaErrorKind.Timeout,
                    $"ffprobe ran longer than the {Options.ProbeTimeout.TotalSeconds:0.###} s limit and was stopped.", commandLine, null, e);
            }
            catch (Exception e) when (e is not OperationCanceledException and not MediaException)
            {
                var tail = StderrCollector.TailOf(string.Join('\n', (e as FFProbeProcessException)?.StandardError ?? []));
                var kind = ClassifyFailure(tail);
                if (kind == MediaErrorKind.ProcessFailed) kind = MediaErrorKind.Undecodable;
                throw new MediaException(kind, $"The file cannot be read as media: {Describe(kind, tail)}", commandLine, tail, e);
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Runs <c>tool -version</c> and returns its first line.</summary>
    public async Task<string> VersionAsync(string tool, bool probe, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(tool, "-version")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Process process;
            try
            {
                process = Process.Start(psi) ?? throw new Win32Exception("not started");
            }
            catch (Win32Exception e)
            {
                throw new MediaException(MediaErrorKind.ToolMissing, probe ? MissingFFprobe : MissingFFmpeg, $"{tool} -version", null, e);
            }
            using (process)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(Options.ProbeTimeout);
                var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderrText = process.StandardError.ReadToEndAsync(timeout.Token);
                try
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    var text = await stdout.ConfigureAwait(false);
                    var err = await stderrText.ConfigureAwait(false);
                    if (process.ExitCode != 0)
                    {
                        throw new MediaException(MediaErrorKind.ToolMissing,
                            $"{tool} -version failed with exit code {process.ExitCode}; reinstall it with `apt-get install -y ffmpeg`.", $"{tool} -version", StderrCollector.TailOf(err));
                    }
                    return text.Split('\n', 2)[0].Trim();
                }
                catch (OperationCanceledException)
                {
                    try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new MediaException(MediaErrorKind.Timeout, $"{tool} -version did not answer within {Options.ProbeTimeout.TotalSeconds:0.###} s.", $"{tool} -version");
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    private string OverMemory => string.Create(CultureInfo.InvariantCulture,
        $"it used more than {Options.MaxProcessMemoryBytes >> 20} MiB of memory (LiteVL:Media:MaxProcessMemoryBytes) and was stopped; the file is too demanding to decode.");

    /// <summary>
    /// Watches the ffmpeg/ffprobe children of this process that read <paramref name="input"/> and cancels
    /// <paramref name="over"/> (which kills the run) when one's resident memory passes <see cref="MediaOptions.MaxProcessMemoryBytes"/>.
    /// Reason: the size limits bound one frame, not what a decoder holds (reference frames, threads, filter queues), and
    /// an upload must not be able to push the machine into swap or the OOM killer. Linux only (it reads /proc); no-op elsewhere.
    /// </summary>
    private MemoryWatch WatchMemory(string? input, CancellationTokenSource over) =>
        new(input is null || Options.MaxProcessMemoryBytes <= 0 || !OperatingSystem.IsLinux() ? null : input, Options.MaxProcessMemoryBytes, over);

    private async Task EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var now = Interlocked.Increment(ref _active);
        int peak;
        while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
    }

    private void Exit()
    {
        Interlocked.Decrement(ref _active);
        _gate.Release();
    }

    private static bool IsToolMissing(Exception e) =>
        e is Win32Exception
        || e.GetType().Name.Contains("FileNotFound", StringComparison.Ordinal)
        || (e is FFMpegException or FFProbeException && e.Message.Contains("was not found", StringComparison.OrdinalIgnoreCase))
        || (e.InnerException is not null && IsToolMissing(e.InnerException));

    internal static MediaErrorKind ClassifyFailure(string stderr)
    {
        if (PictureSizeInvalid.IsMatch(stderr) || NotOnWhitelist.IsMatch(stderr) || OverMaxPixels.IsMatch(stderr)) return MediaErrorKind.Unsupported;
        if (stderr.Contains("Invalid data found", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("moov atom not found", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("End of file", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("could not find codec parameters", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("error while decoding", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("Invalid NAL", StringComparison.OrdinalIgnoreCase))
            return MediaErrorKind.Undecodable;
        return MediaErrorKind.ProcessFailed;
    }

    private static string Describe(MediaErrorKind kind, string stderr)
    {
        var last = LastMeaningfulLine(stderr);
        if (NotOnWhitelist.Match(stderr) is { Success: true } format)
        {
            return $"the file is in the '{format.Groups[1].Value}' format, which is not accepted: only video container files are processed "
                + "(playlists and manifests such as HLS, DASH and ffconcat, which refer to other files or URLs, are refused).";
        }
        if (OverMaxPixels.Match(stderr) is { Success: true } pixels)
        {
            return $"a frame of {pixels.Groups[1].Value}×{pixels.Groups[2].Value} pixels is over the limit of {pixels.Groups[3].Value} pixels (LiteVL:Media:MaxPixels); the file was not decoded.";
        }
        return kind switch
        {
            MediaErrorKind.Unsupported => $"the file declares an impossible frame size ({last}).",
            MediaErrorKind.Undecodable => $"the data is not a decodable audio/video file (truncated, damaged or not media): {last}",
            _ => $"ffmpeg failed: {last}",
        };
    }

    private static string LastMeaningfulLine(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "no error output" : lines[^1];
    }

    internal static readonly Regex PictureSizeInvalid = new(@"Picture size (\d+)x(\d+) is invalid", RegexOptions.Compiled);

    /// <summary>What libavformat prints when the probed demuxer is not in <c>-format_whitelist</c>: "[dash @ 0x…] Format not on whitelist".</summary>
    internal static readonly Regex NotOnWhitelist = new(@"\[(\w+) @ [^\]]*\] Format not on whitelist", RegexOptions.Compiled);

    /// <summary>What a decoder prints for a frame over <c>-max_pixels</c>.</summary>
    internal static readonly Regex OverMaxPixels = new(@"Picture size (\d+)x(\d+) exceeds specified max pixel count (\d+)", RegexOptions.Compiled);

    internal static string Num(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}

/// <summary>Samples, every 100 ms, the resident memory of this process's children whose command line names an input file.</summary>
internal sealed class MemoryWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public MemoryWatch(string? input, long limitBytes, CancellationTokenSource over)
    {
        _loop = input is null ? Task.CompletedTask : Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    if (LargestChildResidentBytes(input) > limitBytes)
                    {
                        await over.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                    await Task.Delay(100, _stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // the run ended
            }
        });
    }

    /// <summary>The largest VmRSS of a child of this process whose arguments include <paramref name="input"/>.</summary>
    internal static long LargestChildResidentBytes(string input)
    {
        var self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        long largest = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 3);
                if (fields.Length < 2 || fields[1] != self) continue;
                if (!File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0').Contains(input, StringComparer.Ordinal)) continue;
                var rss = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (rss is null) continue;
                largest = Math.Max(largest, long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // the process ended while it was read
            }
        }
        return largest;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Collects ffmpeg stderr: the last ~2 KB of ordinary lines, and the frame timestamps printed by <c>showinfo</c> filters.</summary>
internal sealed partial class StderrCollector
{
    public const int TailChars = 2048;
    private readonly Lock _lock = new();
    private readonly Queue<string> _lines = new();
    private int _chars;
    private readonly Dictionary<int, List<long>> _pts = [];
    private readonly Dictionary<int, (long Num, long Den)> _timeBase = [];

    public void Add(string line)
    {
        var info = ShowInfo().Match(line);
        lock (_lock)
        {
            if (info.Success)
            {
                var id = int.Parse(info.Groups[1].Value, CultureInfo.InvariantCulture);
                var body = info.Groups[2].Value;
                var frame = FrameLine().Match(body);
                if (frame.Success)
                {
                    if (!_pts.TryGetValue(id, out var list)) _pts[id] = list = [];
                    list.Add(long.Parse(frame.Groups[1].Value, CultureInfo.InvariantCulture));
                    return;
                }
                var tb = TimeBaseLine().Match(body);
                if (tb.Success)
                {
                    _timeBase[id] = (long.Parse(tb.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(tb.Groups[2].Value, CultureInfo.InvariantCulture));
                }
                return;
            }
            _lines.Enqueue(line);
            _chars += line.Length + 1;
            while (_chars > TailChars && _lines.Count > 1) _chars -= _lines.Dequeue().Length + 1;
        }
    }

    public string Tail
    {
        get
        {
            lock (_lock) return TailOf(string.Join('\n', _lines));
        }
    }

    /// <summary>Frame times in seconds printed by the showinfo filter with this parse index.</summary>
    public double[] FrameTimes(int showInfoIndex)
    {
        lock (_lock)
        {
            if (!_pts.TryGetValue(showInfoIndex, out var list)) return [];
            if (!_timeBase.TryGetValue(showInfoIndex, out var tb) || tb.Den == 0)
                throw new MediaException(MediaErrorKind.ProcessFailed, "ffmpeg did not report the frame time base (showinfo).", null, TailOf(string.Join('\n', _lines)));
            return list.Select(p => (double)p * tb.Num / tb.Den).ToArray();
        }
    }

    public static string TailOf(string text) => text.Length <= TailChars ? text : text[^TailChars..];

    [GeneratedRegex(@"^\[Parsed_showinfo_(\d+) @ [^\]]*\] (.*)$")]
    private static partial Regex ShowInfo();

    [GeneratedRegex(@"^n:\s*\d+\s+pts:\s*(-?\d+)")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"config in time_base: (\d+)/(\d+)")]
    private static partial Regex TimeBaseLine();
}
