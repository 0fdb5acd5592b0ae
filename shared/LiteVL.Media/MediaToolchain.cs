using FFMpegCore;

namespace LiteVL.Media;

/// <summary>The ffmpeg/ffprobe implementation of <see cref="IMediaProcessor"/> (FFMpegCore 6).</summary>
public sealed class MediaToolchain : IMediaProcessor, IDisposable
{
    /// <summary>Parse index of the showinfo filter on the frames branch of the single-pass graph (see <see cref="SinglePassFilter"/>).</summary>
    private const int FramesShowInfo = 2;
    private const int ThumbsShowInfo = 6;

    private readonly ToolRunner _runner;

    public MediaToolchain(MediaOptions? options = null)
    {
        Options = options ?? new MediaOptions();
        Options.Validate();
        _runner = new ToolRunner(Options);
    }

    public MediaOptions Options { get; }

    /// <summary>ffmpeg/ffprobe processes running now (for metrics and tests).</summary>
    public int ActiveProcesses => _runner.ActiveProcesses;

    /// <summary>The most processes that ever ran at once through this instance (never above <see cref="MediaOptions.MaxConcurrentProcesses"/>).</summary>
    public int PeakConcurrentProcesses => _runner.PeakConcurrentProcesses;

    public void Dispose() => _runner.Dispose();

    /// <inheritdoc />
    public async Task<MediaToolVersions> CheckToolsAsync(CancellationToken cancellationToken = default)
    {
        var ffmpeg = await _runner.VersionAsync(_runner.FFmpegPath, probe: false, cancellationToken).ConfigureAwait(false);
        var ffprobe = await _runner.VersionAsync(_runner.FFprobePath, probe: true, cancellationToken).ConfigureAwait(false);
        return new MediaToolVersions(ffmpeg, ffprobe);
    }

    /// <inheritdoc />
    public async Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileInfo(path);
        if (!file.Exists) throw new MediaException(MediaErrorKind.NotFound, $"No file at '{path}'.");
        if (file.Length == 0) throw new MediaException(MediaErrorKind.Undecodable, $"The file '{file.Name}' is empty (0 bytes).");

        var analysis = await _runner.AnalyseAsync(file.FullName, cancellationToken).ConfigureAwait(false);
        return Validate(file, analysis);
    }

    private MediaInfo Validate(FileInfo file, IMediaAnalysis analysis)
    {
        var name = file.Name;
        var stderr = StderrCollector.TailOf(string.Join('\n', analysis.StandardError));
        var invalidSize = ToolRunner.PictureSizeInvalid.Match(stderr);
        var video = analysis.VideoStreams.FirstOrDefault(v => !(v.Disposition?.GetValueOrDefault("attached_pic") ?? false));
        int width = video?.Width ?? 0, height = video?.Height ?? 0;

        // -max_pixels stops the probe's decoder before it reports a size: the size is then in its error line.
        if (ToolRunner.OverMaxPixels.Match(stderr) is { Success: true } over)
        {
            throw new MediaException(MediaErrorKind.Unsupported,
                $"'{name}' declares {over.Groups[1].Value}×{over.Groups[2].Value} pixels, over the limit of {Options.MaxPixels} pixels a frame (LiteVL:Media:MaxPixels); the file was not decoded.", null, stderr);
        }

        if (video is null)
        {
            if (invalidSize.Success)
            {
                throw new MediaException(MediaErrorKind.Unsupported,
                    $"'{name}' declares a frame size of {invalidSize.Groups[1].Value}×{invalidSize.Groups[2].Value}, which ffmpeg refuses; the file was not decoded.", null, stderr);
            }
            var what = analysis.AudioStreams.Count > 0 ? "it has audio only" : "it has no audio or video streams";
            throw new MediaException(MediaErrorKind.NoVideoStream, $"'{name}' has no video stream ({what}).", null, stderr);
        }

        if (invalidSize.Success || width <= 0 || height <= 0)
        {
            var declared = invalidSize.Success ? $"{invalidSize.Groups[1].Value}×{invalidSize.Groups[2].Value}" : $"{width}×{height}";
            throw new MediaException(MediaErrorKind.Unsupported,
                $"'{name}' declares an impossible frame size ({declared}); the file was not decoded.", null, stderr);
        }
        if (width > Options.MaxWidth || height > Options.MaxHeight)
        {
            throw new MediaException(MediaErrorKind.Unsupported,
                $"'{name}' declares {width}×{height} pixels, over the limit of {Options.MaxWidth}×{Options.MaxHeight}; the file was not decoded.", null, stderr);
        }
        if ((long)width * height > Options.MaxPixels)
        {
            throw new MediaException(MediaErrorKind.Unsupported,
                $"'{name}' declares {width}×{height} = {(long)width * height} pixels a frame, over the limit of {Options.MaxPixels} (LiteVL:Media:MaxPixels); the file was not decoded.", null, stderr);
        }

        // The container duration, but never past the end of the video stream (audio can run longer than the picture).
        var duration = analysis.Format.Duration;
        if (video.Duration > TimeSpan.Zero && (duration <= TimeSpan.Zero || video.Duration < duration)) duration = video.Duration;
        if (duration <= TimeSpan.Zero)
        {
            throw new MediaException(MediaErrorKind.ZeroDuration,
                $"'{name}' has a zero or unknown duration (a still image or a broken header); there is nothing to sample.", null, stderr);
        }
        if (duration > Options.MaxDuration)
        {
            throw new MediaException(MediaErrorKind.Unsupported,
                $"'{name}' lasts {duration:g}, over the limit of {Options.MaxDuration:g}.", null, stderr);
        }

        var fps = video.AverageFrameRate > 0 && !double.IsInfinity(video.AverageFrameRate) ? video.AverageFrameRate : video.RealFrameRate;
        if (double.IsNaN(fps) || double.IsInfinity(fps) || fps < 0) fps = 0;
        long? frames = null;
        if (video.Tags is not null)
        {
            foreach (var key in new[] { "NUMBER_OF_FRAMES", "NUMBER_OF_FRAMES-eng" })
            {
                if (video.Tags.TryGetValue(key, out var v) && long.TryParse(v, out var n) && n > 0) { frames = n; break; }
            }
        }

        var audio = analysis.PrimaryAudioStream;
        return new MediaInfo(
            file.FullName,
            analysis.Format.FormatName,
            duration,
            new VideoStreamInfo(video.CodecName ?? "unknown", width, height, fps, frames,
                (long)Math.Round(duration.TotalSeconds * fps), video.Rotation, video.PixelFormat),
            audio is not null,
            audio?.CodecName,
            file.Length);
    }

    /// <summary>Plans the segments of a probed video with this instance's options.</summary>
    public IReadOnlyList<SegmentPlan> PlanSegments(MediaInfo media, int framesPerSegment)
    {
        ArgumentNullException.ThrowIfNull(media);
        return SegmentPlanner.Plan(media.Duration.TotalSeconds, framesPerSegment, Options.SegmentSeconds, Options.MinTailSeconds);
    }

    /// <inheritdoc />
    public async Task<ExtractionResult> ExtractAsync(string path, ExtractionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.OutputDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.FramesPerSegment, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.FrameSize, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(request.FrameSize, 4096);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var media = request.Media ?? await ProbeAsync(path, cancellationToken).ConfigureAwait(false);
        var plan = PlanSegments(media, request.FramesPerSegment);
        var mode = request.Mode ?? Options.SamplingMode;

        var output = Path.GetFullPath(request.OutputDirectory);
        var framesDir = Path.Combine(output, "frames");
        var thumbsDir = Path.Combine(output, "thumbs");
        Directory.CreateDirectory(framesDir);
        Directory.CreateDirectory(thumbsDir);

        var segments = plan.Select(s => new ExtractedSegment(
            s.Index, s.Start, s.End, s.SampleTimes,
            Path.Combine(framesDir, $"{s.Index:D5}.rgb"),
            Path.Combine(thumbsDir, $"{s.Index:D5}.jpg"))).ToArray();

        if (mode == SamplingMode.SinglePass)
            await ExtractSinglePassAsync(media, plan, segments, request, output, cancellationToken).ConfigureAwait(false);
        else
            await ExtractBySeekingAsync(media, plan, segments, request, cancellationToken).ConfigureAwait(false);

        return new ExtractionResult(media, mode, request.FramesPerSegment, request.FrameSize, segments, started.Elapsed);
    }

    /// <summary>
    /// The single-pass filter graph: the decoded video is split in two; one branch keeps the frames at the sample times
    /// (select), prints their timestamps (showinfo) and resizes them to S×S RGB; the other keeps the segment middles for thumbnails.
    /// </summary>
    internal string SinglePassFilter(IReadOnlyList<SegmentPlan> plan, int frameSize, double frameRate = 0) =>
        $"[0:v]split=2[a][b];" +
        $"[a]select='{SegmentPlanner.SelectExpression(plan, middleOnly: false, frameRate)}',showinfo,{FrameScale(frameSize)}[f];" +
        $"[b]select='{SegmentPlanner.SelectExpression(plan, middleOnly: true)}',showinfo,{ThumbScale}[t]";

    /// <summary>Resize to S×S with bicubic filtering, RGB (no crop, aspect not kept: as BLIP). Chroma is interpolated at full resolution.</summary>
    internal static string FrameScale(int frameSize) =>
        $"scale={frameSize}:{frameSize}:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24";

    private string ThumbScale => $"scale={Options.ThumbnailWidth}:-2:flags=bicubic";

    private string InputArguments(double? seekSeconds = null) =>
        ToolRunner.CommonInputArguments + " " + _runner.UntrustedInputArguments
        + (Options.UseCudaDecoding ? " -hwaccel cuda" : "")
        + (seekSeconds is { } ss ? $" -ss {ToolRunner.Num(ss)}" : "");

    /// <summary>The ffmpeg arguments of the single-pass extraction (exposed for tests and logs).</summary>
    internal FFMpegArgumentProcessor BuildSinglePass(string input, IReadOnlyList<SegmentPlan> plan, int frameSize, string rawOutput, string thumbPattern, double frameRate = 0) =>
        FFMpegArguments
            .FromFileInput(input, verifyExists: false, o => o.WithCustomArgument(InputArguments()))
            .OutputToMany(m => m
                .OutputToFile(rawOutput, overwrite: true, o => o.WithCustomArgument(
                    $"-filter_complex \"{SinglePassFilter(plan, frameSize, frameRate)}\" -map \"[f]\" -fps_mode passthrough -f rawvideo {ToolRunner.CommonOutputArguments}"))
                .OutputToFile(thumbPattern, overwrite: true, o => o.WithCustomArgument(
                    $"-map \"[t]\" -fps_mode passthrough -q:v {Options.ThumbnailQuality} -f image2 -start_number 0 {ToolRunner.CommonOutputArguments}")));

    /// <summary>The ffmpeg arguments of one seek for one frame (exposed for tests and logs).</summary>
    internal FFMpegArgumentProcessor BuildSeekFrame(string input, double at, int frameSize, string rawOutput) =>
        FFMpegArguments
            .FromFileInput(input, verifyExists: false, o => o.WithCustomArgument(InputArguments(at)))
            .OutputToFile(rawOutput, overwrite: true, o => o.WithCustomArgument(
                $"-map 0:v:0 -frames:v 1 -vf \"{FrameScale(frameSize)}\" -f rawvideo {ToolRunner.CommonOutputArguments}"));

    internal FFMpegArgumentProcessor BuildThumbnail(string input, double at, string jpegOutput) =>
        FFMpegArguments
            .FromFileInput(input, verifyExists: false, o => o.WithCustomArgument(InputArguments(at)))
            .OutputToFile(jpegOutput, overwrite: true, o => o.WithCustomArgument(
                $"-map 0:v:0 -frames:v 1 -vf \"{ThumbScale}\" -q:v {Options.ThumbnailQuality} -f image2 -update 1 {ToolRunner.CommonOutputArguments}"));

    private async Task ExtractSinglePassAsync(
        MediaInfo media, IReadOnlyList<SegmentPlan> plan, ExtractedSegment[] segments, ExtractionRequest request, string output, CancellationToken ct)
    {
        var frameBytes = request.FrameSize * request.FrameSize * 3;
        var work = Path.Combine(output, $".work-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var raw = Path.Combine(work, "frames.rgb");
            var thumbPattern = Path.Combine(work, "t%05d.jpg");
            var stderr = new StderrCollector();
            var processor = BuildSinglePass(media.Path, plan, request.FrameSize, raw, thumbPattern, media.Video.FrameRate);
            await _runner.RunFFmpegAsync(processor, $"Extracting frames from '{Path.GetFileName(media.Path)}'", stderr, ct, media.Path).ConfigureAwait(false);

            var frameTimes = stderr.FrameTimes(FramesShowInfo);
            var thumbTimes = stderr.FrameTimes(ThumbsShowInfo);
            var rawLength = File.Exists(raw) ? new FileInfo(raw).Length : 0;
            if (rawLength != (long)frameTimes.Length * frameBytes)
            {
                throw new MediaException(MediaErrorKind.ProcessFailed,
                    $"ffmpeg wrote {rawLength} bytes for {frameTimes.Length} selected frames of {frameBytes} bytes.", null, stderr.Tail);
            }

            using (var source = File.OpenHandle(raw))
            {
                var buffer = new byte[frameBytes];
                foreach (var segment in segments)
                {
                    ct.ThrowIfCancellationRequested();
                    var temp = AtomicFile.TempPathFor(segment.FramesPath);
                    try
                    {
                        await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                        {
                            foreach (var lookup in plan[segment.Index].LookupTimes(media.Video.FrameRate))
                            {
                                var index = FrameFor(frameTimes, lookup, media, stderr.Tail);
                                await RandomAccess.ReadAsync(source, buffer, (long)index * frameBytes, ct).ConfigureAwait(false);
                                await target.WriteAsync(buffer, ct).ConfigureAwait(false);
                            }
                        }
                        AtomicFile.Commit(temp, segment.FramesPath);
                    }
                    finally
                    {
                        AtomicFile.TryDelete(temp);
                    }
                }
            }

            foreach (var (segment, planned) in segments.Zip(plan))
            {
                var index = FrameFor(thumbTimes, planned.Middle, media, stderr.Tail);
                var produced = Path.Combine(work, $"t{index:D5}.jpg");
                if (!File.Exists(produced))
                {
                    throw new MediaException(MediaErrorKind.ProcessFailed, $"ffmpeg did not write the thumbnail of segment {segment.Index}.", null, stderr.Tail);
                }
                // Copy (not move) since two segments could share a frame; then rename into place.
                var temp = AtomicFile.TempPathFor(segment.ThumbnailPath);
                try
                {
                    File.Copy(produced, temp);
                    AtomicFile.Commit(temp, segment.ThumbnailPath);
                }
                finally
                {
                    AtomicFile.TryDelete(temp);
                }
            }
        }
        finally
        {
            AtomicFile.TryDeleteDirectory(work);
        }
    }

    /// <summary>
    /// The index of the first frame at or after <paramref name="time"/> (what an accurate seek returns). Past the last decoded
    /// frame: the last frame when the time is within the final frame interval(s); otherwise the stream ended early (truncated).
    /// </summary>
    internal static int FrameFor(double[] frameTimes, double time, MediaInfo media, string stderrTail)
    {
        var target = time - 1e-6;
        int lo = 0, hi = frameTimes.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (frameTimes[mid] >= target) hi = mid; else lo = mid + 1;
        }
        if (lo < frameTimes.Length) return lo;
        EnsureNearEnd(frameTimes.Length == 0 ? null : frameTimes[^1], time, media, stderrTail);
        return frameTimes.Length - 1;
    }

    private static void EnsureNearEnd(double? lastDecoded, double time, MediaInfo media, string? stderrTail)
    {
        var name = Path.GetFileName(media.Path);
        if (lastDecoded is null)
        {
            throw new MediaException(MediaErrorKind.Undecodable, $"No frame of '{name}' could be decoded (damaged or truncated file).", null, stderrTail);
        }
        var interval = media.Video.FrameRate > 0 ? 1 / media.Video.FrameRate : 0.1;
        var slack = Math.Max(0.5, 3 * interval);
        if (media.Duration.TotalSeconds - time > slack)
        {
            throw new MediaException(MediaErrorKind.Undecodable,
                $"Decoding of '{name}' stopped at {lastDecoded:0.##} s of the declared {media.Duration.TotalSeconds:0.##} s: the file is truncated or damaged.",
                null, stderrTail);
        }
    }

    private async Task ExtractBySeekingAsync(
        MediaInfo media, IReadOnlyList<SegmentPlan> plan, ExtractedSegment[] segments, ExtractionRequest request, CancellationToken ct)
    {
        var frameBytes = request.FrameSize * request.FrameSize * 3;
        var jobs = plan.SelectMany(s => s.LookupTimes(media.Video.FrameRate).Select((t, i) => (Segment: s.Index, Frame: i, Time: t))).ToArray();
        var frames = new byte[jobs.Length][];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrentProcesses, CancellationToken = ct };

        await Parallel.ForEachAsync(Enumerable.Range(0, jobs.Length), parallel, async (j, token) =>
        {
            var job = jobs[j];
            var temp = AtomicFile.TempPathFor(segments[job.Segment].FramesPath);
            try
            {
                var stderr = new StderrCollector();
                await _runner.RunFFmpegAsync(BuildSeekFrame(media.Path, job.Time, request.FrameSize, temp),
                    $"Seeking to {job.Time:0.###} s in '{Path.GetFileName(media.Path)}'", stderr, token, media.Path).ConfigureAwait(false);
                var bytes = File.Exists(temp) ? await File.ReadAllBytesAsync(temp, token).ConfigureAwait(false) : [];
                if (bytes.Length == 0)
                {
                    EnsureNearEnd(-1, job.Time, media, stderr.Tail);
                    frames[j] = null!; // past the last frame: filled from the previous frame below
                }
                else if (bytes.Length != frameBytes)
                {
                    throw new MediaException(MediaErrorKind.ProcessFailed, $"ffmpeg wrote {bytes.Length} bytes for one {frameBytes}-byte frame.", null, stderr.Tail);
                }
                else
                {
                    frames[j] = bytes;
                }
            }
            finally
            {
                AtomicFile.TryDelete(temp);
            }
        }).ConfigureAwait(false);

        for (var j = 0; j < frames.Length; j++)
        {
            frames[j] ??= j > 0 ? frames[j - 1] : throw new MediaException(MediaErrorKind.Undecodable, $"No frame of '{Path.GetFileName(media.Path)}' could be decoded.");
        }

        var offset = 0;
        foreach (var segment in segments)
        {
            var temp = AtomicFile.TempPathFor(segment.FramesPath);
            try
            {
                await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                {
                    for (var i = 0; i < segment.SampleTimes.Count; i++) await target.WriteAsync(frames[offset + i], ct).ConfigureAwait(false);
                }
                AtomicFile.Commit(temp, segment.FramesPath);
            }
            finally
            {
                AtomicFile.TryDelete(temp);
            }
            offset += segment.SampleTimes.Count;
        }

        await Parallel.ForEachAsync(segments.Zip(plan), parallel, async (pair, token) =>
            await ThumbnailCoreAsync(media.Path, pair.Second.Middle, pair.First.ThumbnailPath, token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task ThumbnailAsync(string path, TimeSpan at, string outputPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!File.Exists(path)) throw new MediaException(MediaErrorKind.NotFound, $"No file at '{path}'.");
        var dir = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        await ThumbnailCoreAsync(Path.GetFullPath(path), Math.Max(0, at.TotalSeconds), outputPath, cancellationToken).ConfigureAwait(false);
    }

    private async Task ThumbnailCoreAsync(string path, double at, string outputPath, CancellationToken ct)
    {
        var temp = AtomicFile.TempPathFor(outputPath);
        try
        {
            var stderr = new StderrCollector();
            await _runner.RunFFmpegAsync(BuildThumbnail(path, at, temp), $"Making the thumbnail at {at:0.###} s of '{Path.GetFileName(path)}'", stderr, ct, path)
                .ConfigureAwait(false);
            if (!File.Exists(temp) || new FileInfo(temp).Length == 0)
            {
                throw new MediaException(MediaErrorKind.Undecodable, $"No frame at {at:0.###} s of '{Path.GetFileName(path)}' to make a thumbnail from.", null, stderr.Tail);
            }
            AtomicFile.Commit(temp, outputPath);
        }
        finally
        {
            AtomicFile.TryDelete(temp);
        }
    }
}
