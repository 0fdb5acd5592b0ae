using System.Globalization;
using System.Text;
using FFMpegCore;

namespace LiteVL.Media;

/// <summary>ffmpeg lavfi sources used for synthetic clips.</summary>
public enum ClipSource { TestSrc2, SmpteBars, Mandelbrot, Life, CellAuto, RgbTestSrc, MovingBox, Color }

public enum ClipCodec { H264, Vp9, Mpeg4 }

/// <summary>One synthetic clip. <paramref name="Container"/>: mp4, webm, mkv or avi. <paramref name="Color"/> is used by <see cref="ClipSource.Color"/>.</summary>
public sealed record ClipSpec(
    ClipSource Source, double Seconds, int Width, int Height, double Fps, ClipCodec Codec, string Container, bool Audio, string Color = "red")
{
    public string FileName =>
        string.Create(CultureInfo.InvariantCulture, $"{Source}_{Width}x{Height}_{Fps:0.##}fps_{Seconds:0.#}s_{Codec}{(Audio ? "_audio" : "")}.{Container}").ToLowerInvariant();
}

/// <summary>
/// Makes sample and test clips with ffmpeg's lavfi sources (fast settings for 2 cores), and deliberately bad files.
/// Used by the tests, the benchmark and (later) the embedded host's first-run sample library.
/// </summary>
public sealed class SampleClips : IDisposable
{
    private readonly ToolRunner _runner;

    public SampleClips(MediaOptions? options = null)
    {
        var o = options ?? new MediaOptions();
        o.Validate();
        _runner = new ToolRunner(o);
    }

    public void Dispose() => _runner.Dispose();

    /// <summary>≥ 12 varied clips: 1–40 s; portrait, odd, tiny and 720p sizes; 10/24/25/29.97/60 fps; three codecs; four containers; with and without audio.</summary>
    public static IReadOnlyList<ClipSpec> VariedSet() =>
    [
        new(ClipSource.TestSrc2, 1, 320, 240, 25, ClipCodec.H264, "mp4", false),
        new(ClipSource.SmpteBars, 4, 640, 360, 29.97, ClipCodec.H264, "mp4", true),
        new(ClipSource.Mandelbrot, 6, 240, 426, 24, ClipCodec.H264, "mkv", false),          // portrait
        new(ClipSource.Life, 8, 321, 241, 10, ClipCodec.Vp9, "webm", false),                // odd size
        new(ClipSource.CellAuto, 3, 64, 48, 60, ClipCodec.Mpeg4, "avi", false),             // tiny, 60 fps
        new(ClipSource.RgbTestSrc, 12, 352, 288, 25, ClipCodec.Mpeg4, "mkv", true),
        new(ClipSource.MovingBox, 21, 480, 270, 30, ClipCodec.H264, "mp4", true),
        new(ClipSource.TestSrc2, 40, 160, 120, 10, ClipCodec.Vp9, "webm", true),
        new(ClipSource.Color, 2, 200, 200, 24, ClipCodec.H264, "mp4", false, "red"),
        new(ClipSource.TestSrc2, 5, 1280, 720, 24, ClipCodec.H264, "mp4", false),          // 720p
        new(ClipSource.SmpteBars, 10.5, 400, 300, 25, ClipCodec.Vp9, "mkv", false),          // tail merged
        new(ClipSource.MovingBox, 15, 180, 320, 60, ClipCodec.Mpeg4, "mp4", true),          // portrait, 60 fps
        new(ClipSource.Mandelbrot, 2.5, 300, 100, 29.97, ClipCodec.Vp9, "webm", true),      // 3:1
    ];

    /// <summary>Generates a clip; returns <paramref name="path"/>.</summary>
    public async Task<string> GenerateAsync(ClipSpec spec, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);

        var args = FFMpegArguments.FromFileInput(SourceGraph(spec), verifyExists: false,
            o => o.WithCustomArgument($"{ToolRunner.CommonInputArguments} -f lavfi"));
        if (spec.Audio)
        {
            args = args.AddFileInput($"sine=frequency=440:sample_rate=44100:duration={ToolRunner.Num(spec.Seconds)}", verifyExists: false,
                o => o.WithCustomArgument("-f lavfi"));
        }
        var temp = AtomicFile.TempPathFor(path);
        var output = new StringBuilder();
        output.Append(CultureInfo.InvariantCulture, $"-t {ToolRunner.Num(spec.Seconds)} -map 0:v:0 ");
        if (spec.Audio) output.Append("-map 1:a:0 ").Append(AudioCodec(spec.Container)).Append(' ');
        output.Append(VideoCodec(spec.Codec)).Append(" -f ").Append(Muxer(spec.Container)).Append(' ').Append(ToolRunner.CommonOutputArguments);
        try
        {
            await _runner.RunFFmpegAsync(args.OutputToFile(temp, overwrite: true, o => o.WithCustomArgument(output.ToString())),
                $"Generating {spec.FileName}", new StderrCollector(), cancellationToken).ConfigureAwait(false);
            AtomicFile.Commit(temp, path);
        }
        finally
        {
            AtomicFile.TryDelete(temp);
        }
        return path;
    }

    /// <summary>
    /// Encodes frames drawn by the caller (rgb24, <paramref name="width"/>×<paramref name="height"/> each, in display order)
    /// as an H.264 MP4 (yuv420p, CRF 18, one thread so equal frames give equal files) at <paramref name="fps"/>; returns
    /// <paramref name="path"/>. The frames go to ffmpeg as a temporary raw file, under the same protocol whitelist as every run.
    /// </summary>
    public async Task<string> EncodeFramesAsync(IReadOnlyList<byte[]> frames, int width, int height, double fps, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.Count == 0) throw new ArgumentException("At least one frame is needed.", nameof(frames));
        if (width < 16 || height < 16 || width % 2 != 0 || height % 2 != 0)
            throw new ArgumentException($"H.264 in yuv420p needs even sizes of at least 16 pixels, not {width}×{height}.", nameof(width));
        if (!(fps > 0) || double.IsInfinity(fps)) throw new ArgumentOutOfRangeException(nameof(fps), fps, "The frame rate must be positive.");
        int frameBytes = width * height * 3;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);

        var temp = AtomicFile.TempPathFor(path);
        var raw = temp + ".rgb";
        try
        {
            await using (var stream = new FileStream(raw, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                for (var i = 0; i < frames.Count; i++)
                {
                    if (frames[i].Length != frameBytes)
                        throw new ArgumentException($"Frame {i} holds {frames[i].Length} bytes, not {width}×{height}×3 = {frameBytes}.", nameof(frames));
                    await stream.WriteAsync(frames[i], cancellationToken).ConfigureAwait(false);
                }
            }

            var args = FFMpegArguments.FromFileInput(raw, verifyExists: true,
                o => o.WithCustomArgument($"{ToolRunner.CommonInputArguments} -f rawvideo -pix_fmt rgb24 -video_size {width}x{height} -framerate {Rate(fps)}"));
            var output = $"-map 0:v:0 -c:v libx264 -preset veryfast -crf 18 -threads 1 -pix_fmt yuv420p -f mp4 {ToolRunner.CommonOutputArguments}";
            await _runner.RunFFmpegAsync(args.OutputToFile(temp, overwrite: true, o => o.WithCustomArgument(output)),
                $"Encoding {Path.GetFileName(path)}", new StderrCollector(), cancellationToken).ConfigureAwait(false);
            AtomicFile.Commit(temp, path);
        }
        finally
        {
            AtomicFile.TryDelete(raw);
            AtomicFile.TryDelete(temp);
        }
        return path;
    }

    internal static string Rate(double fps) =>
        Math.Abs(fps - 29.97) < 0.001 ? "30000/1001" : Math.Abs(fps - 59.94) < 0.001 ? "60000/1001" : ToolRunner.Num(fps);

    internal static string SourceGraph(ClipSpec s)
    {
        var size = $"s={s.Width}x{s.Height}:r={Rate(s.Fps)}";
        return s.Source switch
        {
            ClipSource.TestSrc2 => $"testsrc2={size}",
            ClipSource.SmpteBars => $"smptebars={size}",
            ClipSource.Mandelbrot => $"mandelbrot={size}:maxiter=64",
            ClipSource.Life => $"life={size}:mold=10:ratio=0.2:death_color=#C83232:life_color=#00ff00",
            ClipSource.CellAuto => $"cellauto={size}:rule=110:random_fill_ratio=0.5",
            ClipSource.RgbTestSrc => $"rgbtestsrc={size}",
            ClipSource.MovingBox => $"color=c=navy:{size},drawbox=x='mod(t*120\\,iw)':y='ih/3+sin(t)*ih/6':w='iw/5':h='ih/4':color=yellow:t=fill",
            ClipSource.Color => $"color=c={s.Color}:{size}",
            _ => throw new ArgumentOutOfRangeException(nameof(s)),
        };
    }

    private static string VideoCodec(ClipCodec codec) => codec switch
    {
        ClipCodec.H264 => "-c:v libx264 -preset ultrafast -crf 28 -pix_fmt yuv420p",
        ClipCodec.Vp9 => "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -b:v 400k -pix_fmt yuv420p",
        ClipCodec.Mpeg4 => "-c:v mpeg4 -q:v 6 -pix_fmt yuv420p",
        _ => throw new ArgumentOutOfRangeException(nameof(codec)),
    };

    private static string AudioCodec(string container) => container switch
    {
        "webm" => "-c:a libopus -b:a 48k",
        "avi" => "-c:a libmp3lame -b:a 64k",
        _ => "-c:a aac -b:a 64k",
    };

    private static string Muxer(string container) => container switch
    {
        "mp4" => "mp4",
        "webm" => "webm",
        "mkv" => "matroska",
        "avi" => "avi",
        _ => throw new ArgumentException($"Unknown container '{container}' (mp4, webm, mkv, avi).", nameof(container)),
    };

    /// <summary>An H.264 MP4 (index at the end, as ffmpeg writes it) cut to <paramref name="keepFraction"/> of its bytes.</summary>
    public async Task<string> MakeTruncatedMp4Async(string path, double keepFraction = 0.4, CancellationToken cancellationToken = default)
    {
        var full = path + ".full.mp4";
        await GenerateAsync(new ClipSpec(ClipSource.TestSrc2, 3, 320, 240, 25, ClipCodec.H264, "mp4", false), full, cancellationToken).ConfigureAwait(false);
        var bytes = await File.ReadAllBytesAsync(full, cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(path, bytes.AsMemory(0, (int)(bytes.Length * keepFraction)).ToArray(), cancellationToken).ConfigureAwait(false);
        File.Delete(full);
        return path;
    }

    /// <summary>A text file with a video extension.</summary>
    public static string MakeTextAsVideo(string path)
    {
        File.WriteAllText(path, "This is not a video.\nJust some text renamed to look like one.\n");
        return path;
    }

    public static string MakeZeroBytes(string path)
    {
        File.WriteAllBytes(path, []);
        return path;
    }

    /// <summary>Audio only (AAC) in an .mp4 container.</summary>
    public async Task<string> MakeAudioOnlyAsync(string path, CancellationToken cancellationToken = default)
    {
        var temp = AtomicFile.TempPathFor(path);
        try
        {
            var args = FFMpegArguments.FromFileInput("sine=frequency=440:duration=2", verifyExists: false,
                o => o.WithCustomArgument($"{ToolRunner.CommonInputArguments} -f lavfi"));
            await _runner.RunFFmpegAsync(args.OutputToFile(temp, overwrite: true, o => o.WithCustomArgument($"-c:a aac -b:a 64k -f mp4 {ToolRunner.CommonOutputArguments}")),
                "Generating an audio-only file", new StderrCollector(), cancellationToken).ConfigureAwait(false);
            AtomicFile.Commit(temp, path);
        }
        finally
        {
            AtomicFile.TryDelete(temp);
        }
        return path;
    }

    /// <summary>A single JPEG still saved under a video name: a video stream with no duration.</summary>
    public async Task<string> MakeStillImageAsync(string path, CancellationToken cancellationToken = default)
    {
        var temp = AtomicFile.TempPathFor(path);
        try
        {
            var args = FFMpegArguments.FromFileInput("testsrc2=s=320x240:r=1", verifyExists: false,
                o => o.WithCustomArgument($"{ToolRunner.CommonInputArguments} -f lavfi"));
            await _runner.RunFFmpegAsync(args.OutputToFile(temp, overwrite: true, o => o.WithCustomArgument($"-frames:v 1 -c:v mjpeg -f image2 -update 1 {ToolRunner.CommonOutputArguments}")),
                "Generating a still image", new StderrCollector(), cancellationToken).ConfigureAwait(false);
            AtomicFile.Commit(temp, path);
        }
        finally
        {
            AtomicFile.TryDelete(temp);
        }
        return path;
    }

    /// <summary>
    /// A one-second Matroska file whose header declares <paramref name="width"/>×<paramref name="height"/> (up to 65535) while it holds
    /// a tiny 256×256 gray raw-video frame. Made by rewriting the two-byte PixelWidth/PixelHeight elements of a real file, so
    /// ffprobe reports the declared size (or, past libav's own limit of about 16k×16k, refuses it with "Picture size … is invalid").
    /// </summary>
    public async Task<string> MakeHugeDeclaredSizeAsync(string path, int width = 100000, int height = 100000, CancellationToken cancellationToken = default)
    {
        width = Math.Clamp(width, 1, 65535);
        height = Math.Clamp(height, 1, 65535);
        var temp = AtomicFile.TempPathFor(path);
        try
        {
            var args = FFMpegArguments.FromFileInput("color=c=gray:s=256x256:r=1:d=1", verifyExists: false,
                o => o.WithCustomArgument($"{ToolRunner.CommonInputArguments} -f lavfi"));
            await _runner.RunFFmpegAsync(args.OutputToFile(temp, overwrite: true, o => o.WithCustomArgument($"-c:v rawvideo -pix_fmt gray -f matroska {ToolRunner.CommonOutputArguments}")),
                "Generating a huge-declared-size file", new StderrCollector(), cancellationToken).ConfigureAwait(false);
            var bytes = await File.ReadAllBytesAsync(temp, cancellationToken).ConfigureAwait(false);
            Patch(bytes, 0xB0, width);   // PixelWidth
            Patch(bytes, 0xBA, height);  // PixelHeight
            await File.WriteAllBytesAsync(path, bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            AtomicFile.TryDelete(temp);
        }
        return path;

        static void Patch(byte[] data, byte id, int value)
        {
            // EBML element: id, size 0x82 (2 bytes), value 0x0100 (256).
            ReadOnlySpan<byte> pattern = [id, 0x82, 0x01, 0x00];
            var at = data.AsSpan().IndexOf(pattern);
            if (at < 0) throw new InvalidOperationException($"Matroska element 0x{id:X2}=256 not found; cannot patch the declared size.");
            data[at + 2] = (byte)(value >> 8);
            data[at + 3] = (byte)(value & 0xFF);
        }
    }
}
