using System.Diagnostics;
using LiteVL.Media;

namespace LiteVL.FrameExtractor.Tests;

[Collection(MediaCollection.Name)]
public class MediaToolchainTests(MediaFixture fx)
{
    private const int T = 8;
    private const int S = 64;

    private static string CodecName(ClipCodec c) => c switch { ClipCodec.H264 => "h264", ClipCodec.Vp9 => "vp9", _ => "mpeg4" };

    [Fact]
    public async Task CheckTools_reports_versions()
    {
        using var m = new MediaToolchain();
        var v = await m.CheckToolsAsync();
        Assert.StartsWith("ffmpeg version", v.FFmpeg);
        Assert.StartsWith("ffprobe version", v.FFprobe);
    }

    [Fact]
    public async Task Missing_ffmpeg_gives_a_clear_error()
    {
        // A folder whose "ffmpeg" cannot be executed stands in for a machine without ffmpeg.
        var dir = fx.Dir("nobin");
        File.WriteAllText(Path.Combine(dir, "ffmpeg"), "not a program");
        File.WriteAllText(Path.Combine(dir, "ffprobe"), "not a program");
        using var m = new MediaToolchain(new MediaOptions { BinaryFolder = dir });
        var e = await Assert.ThrowsAsync<MediaException>(() => m.CheckToolsAsync());
        Assert.Equal(MediaErrorKind.ToolMissing, e.Kind);
        Assert.Equal("ffmpeg not found: install it with `apt-get install -y ffmpeg`", e.Message);
    }

    [Fact]
    public async Task Probe_reports_every_generated_clip()
    {
        Assert.True(fx.Clips.Count >= 12);
        using var m = new MediaToolchain();
        foreach (var (spec, path) in fx.Clips)
        {
            var info = await m.ProbeAsync(path);
            Assert.True(Math.Abs(info.Duration.TotalSeconds - spec.Seconds) < 0.25, $"{spec.FileName}: duration {info.Duration.TotalSeconds}");
            Assert.Equal((spec.Width, spec.Height), (info.Video.Width, info.Video.Height));
            Assert.True(Math.Abs(info.Video.FrameRate - spec.Fps) < 0.05, $"{spec.FileName}: fps {info.Video.FrameRate}");
            Assert.Equal(CodecName(spec.Codec), info.Video.Codec);
            Assert.Equal(spec.Audio, info.HasAudio);
            Assert.True(info.Video.EstimatedFrameCount > 0);
        }
    }

    [Fact]
    public async Task Extraction_writes_T_S_S_3_bytes_per_segment_for_every_clip()
    {
        using var m = new MediaToolchain();
        foreach (var (spec, path) in fx.Clips)
        {
            var result = await m.ExtractAsync(path, new ExtractionRequest(fx.Dir("extract"), T, S));
            var expected = SegmentPlanner.Plan(result.Media.Duration.TotalSeconds, T, 10, 1).Count;
            Assert.Equal(expected, result.Segments.Count);
            Assert.Equal(SegmentPlanner.Plan(spec.Seconds, T, 10, 1).Count, result.Segments.Count);
            foreach (var s in result.Segments)
            {
                Assert.Equal((long)T * S * S * 3, new FileInfo(s.FramesPath).Length);
                Assert.Equal($"{s.Index:D5}.rgb", Path.GetFileName(s.FramesPath));
                var jpeg = await File.ReadAllBytesAsync(s.ThumbnailPath);
                Assert.True(jpeg.Length > 100 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, $"{spec.FileName}: thumbnail is not a JPEG");
            }
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(result.Segments[0].FramesPath)!, ".*"));
        }
    }

    [Fact]
    public async Task Long_clip_is_segmented_and_frames_differ_and_are_not_black()
    {
        using var m = new MediaToolchain();
        var result = await m.ExtractAsync(fx.LongClip, new ExtractionRequest(fx.Dir("long"), T, S));
        Assert.Equal(6, result.Segments.Count);
        var frameBytes = S * S * 3;
        var all = new List<byte[]>();
        foreach (var s in result.Segments)
        {
            var bytes = await File.ReadAllBytesAsync(s.FramesPath);
            for (var i = 0; i < T; i++) all.Add(bytes.AsSpan(i * frameBytes, frameBytes).ToArray());
        }
        Assert.All(all, f => Assert.True(f.Average(b => (double)b) > 20, "a frame is (nearly) black"));
        Assert.All(all, f => Assert.True(f.Distinct().Count() > 16, "a frame is flat"));
        // testsrc2 moves: consecutive samples differ.
        for (var i = 1; i < all.Count; i++) Assert.True(MeanAbsDiff(all[i - 1], all[i]) > 1, $"frames {i - 1} and {i} are equal");
    }

    [Fact]
    public async Task Pixels_are_RGB_in_that_order()
    {
        var red = fx.Clips.Single(c => c.Key.Source == ClipSource.Color).Value;
        using var m = new MediaToolchain();
        var result = await m.ExtractAsync(red, new ExtractionRequest(fx.Dir("red"), T, S));
        var bytes = await File.ReadAllBytesAsync(Assert.Single(result.Segments).FramesPath);
        double r = 0, g = 0, b = 0;
        for (var i = 0; i < bytes.Length; i += 3) { r += bytes[i]; g += bytes[i + 1]; b += bytes[i + 2]; }
        var n = bytes.Length / 3.0;
        Assert.True(r / n > 245 && g / n < 10 && b / n < 10, $"mean RGB = ({r / n:0.0}, {g / n:0.0}, {b / n:0.0}), expected ≈ (255, 0, 0)");
    }

    [Theory]
    [InlineData(ClipSource.MovingBox, ClipCodec.H264)]
    [InlineData(ClipSource.TestSrc2, ClipCodec.Vp9)]
    [InlineData(ClipSource.MovingBox, ClipCodec.Mpeg4)]
    [InlineData(ClipSource.Life, ClipCodec.Vp9)]
    public async Task Single_pass_and_seek_give_the_same_frames(ClipSource source, ClipCodec codec)
    {
        var clip = fx.Clips.First(c => c.Key.Source == source && c.Key.Codec == codec).Value;
        using var m = new MediaToolchain();
        var a = await m.ExtractAsync(clip, new ExtractionRequest(fx.Dir("sp"), T, S, SamplingMode.SinglePass));
        var b = await m.ExtractAsync(clip, new ExtractionRequest(fx.Dir("seek"), T, S, SamplingMode.Seek));
        Assert.Equal(a.Segments.Count, b.Segments.Count);
        foreach (var (x, y) in a.Segments.Zip(b.Segments))
        {
            var diff = MeanAbsDiff(await File.ReadAllBytesAsync(x.FramesPath), await File.ReadAllBytesAsync(y.FramesPath));
            Assert.True(diff < 0.5, $"segment {x.Index}: mean |Δ| = {diff}");
            Assert.Equal(await File.ReadAllBytesAsync(x.ThumbnailPath), await File.ReadAllBytesAsync(y.ThumbnailPath));
        }
    }

    [Fact]
    public async Task Rerun_into_the_same_directory_replaces_files_with_identical_content()
    {
        var clip = fx.Clips.First(c => c.Key.Seconds > 20).Value;
        var dir = fx.Dir("rerun");
        using var m = new MediaToolchain();
        var first = await m.ExtractAsync(clip, new ExtractionRequest(dir, T, S));
        var before = first.Segments.Select(s => (File.ReadAllBytes(s.FramesPath), File.ReadAllBytes(s.ThumbnailPath))).ToList();
        var second = await m.ExtractAsync(clip, new ExtractionRequest(dir, T, S));
        var after = second.Segments.Select(s => (File.ReadAllBytes(s.FramesPath), File.ReadAllBytes(s.ThumbnailPath))).ToList();
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Item1, after[i].Item1);
            Assert.Equal(before[i].Item2, after[i].Item2);
        }
        Assert.Equal(["frames", "thumbs"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
        Assert.Equal(first.Segments.Count, Directory.GetFiles(Path.Combine(dir, "frames")).Length);
    }

    [Fact]
    public async Task Thumbnail_is_a_jpeg_of_the_configured_width()
    {
        var clip = fx.Clips.First(c => c.Key.Width == 1280).Value;
        var path = Path.Combine(fx.Dir("thumb"), "t.jpg");
        using var m = new MediaToolchain();
        await m.ThumbnailAsync(clip, TimeSpan.FromSeconds(2), path);
        var info = await FFMpegCore.FFProbe.AnalyseAsync(path);
        Assert.Equal((320, 180), (info.PrimaryVideoStream!.Width, info.PrimaryVideoStream.Height));
    }

    public static TheoryData<string, MediaErrorKind> BadFiles() => new()
    {
        { "truncated", MediaErrorKind.Undecodable },
        { "text", MediaErrorKind.Undecodable },
        { "zero", MediaErrorKind.Undecodable },
        { "audio", MediaErrorKind.NoVideoStream },
        { "huge", MediaErrorKind.Unsupported },
        { "large", MediaErrorKind.Unsupported },
        { "still", MediaErrorKind.Unsupported }, // a JPEG: its demuxer is not a video container (LiteVL:Media:AllowedFormats)
        { "missing", MediaErrorKind.NotFound },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task Bad_files_are_refused_with_the_right_kind(string what, MediaErrorKind kind)
    {
        var dir = fx.Dir("bad");
        using var clips = new SampleClips();
        var path = Path.Combine(dir, $"bad-{what}.mp4");
        switch (what)
        {
            case "truncated": await clips.MakeTruncatedMp4Async(path); break;
            case "text": SampleClips.MakeTextAsVideo(path); break;
            case "zero": SampleClips.MakeZeroBytes(path); break;
            case "audio": await clips.MakeAudioOnlyAsync(path); break;
            case "huge": await clips.MakeHugeDeclaredSizeAsync(path = Path.ChangeExtension(path, ".mkv"), 100000, 100000); break;
            case "large": await clips.MakeHugeDeclaredSizeAsync(path = Path.ChangeExtension(path, ".mkv"), 12000, 12000); break;
            case "still": await clips.MakeStillImageAsync(path); break;
            case "missing": break;
        }
        using var m = new MediaToolchain();
        var probe = await Assert.ThrowsAsync<MediaException>(() => m.ProbeAsync(path));
        Assert.Equal(kind, probe.Kind);
        Assert.Contains(Path.GetFileName(path), probe.Message + probe.CommandLine);
        Assert.True(probe.Message.Length > 20, probe.Message);
        // Extraction refuses the same way, and writes nothing.
        var outDir = fx.Dir("bad-out");
        var extract = await Assert.ThrowsAsync<MediaException>(() => m.ExtractAsync(path, new ExtractionRequest(outDir, T, S)));
        Assert.Equal(kind, extract.Kind);
        Assert.Empty(Directory.GetFiles(outDir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Timeout_kills_ffmpeg()
    {
        // A private copy so the process can be recognised by its command line.
        var clip = Path.Combine(fx.Dir("timeout"), $"slow-{Guid.NewGuid():N}.mp4");
        File.Copy(fx.LongClip, clip);
        using var m = new MediaToolchain(new MediaOptions { ProcessTimeout = TimeSpan.FromMilliseconds(300) });
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MediaException>(() => m.ExtractAsync(clip, new ExtractionRequest(fx.Dir("timeout-out"), 64, 384)));
        Assert.Equal(MediaErrorKind.Timeout, e.Kind);
        Assert.Contains("-protocol_whitelist file", e.CommandLine);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Empty(ProcessesMentioning(Path.GetFileName(clip)));
    }

    [Fact]
    public async Task Caller_cancellation_kills_ffmpeg_and_throws_OperationCanceled()
    {
        var clip = Path.Combine(fx.Dir("cancel"), $"cancel-{Guid.NewGuid():N}.mp4");
        File.Copy(fx.LongClip, clip);
        using var m = new MediaToolchain();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => m.ExtractAsync(clip, new ExtractionRequest(fx.Dir("cancel-out"), 64, 384), cts.Token));
        Assert.Empty(ProcessesMentioning(Path.GetFileName(clip)));
    }

    [Fact]
    public async Task Concurrency_is_bounded()
    {
        using var m = new MediaToolchain(new MediaOptions { MaxConcurrentProcesses = 2 });
        var clips = fx.Clips.Values.ToArray();
        var max = 0;
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                max = Math.Max(max, m.ActiveProcesses);
                await Task.Delay(2);
            }
        });
        var work = clips.Select(c => m.ProbeAsync(c)).Cast<Task>()
            .Concat(clips.Take(4).Select(c => m.ExtractAsync(c, new ExtractionRequest(fx.Dir("conc"), T, S, SamplingMode.Seek))));
        await Task.WhenAll(work);
        await stop.CancelAsync();
        await watcher;
        Assert.Equal(2, m.PeakConcurrentProcesses);
        Assert.True(max <= 2);
    }

    [Fact]
    public void Every_command_line_has_the_whitelist_nostdin_and_optional_cuda()
    {
        using var plain = new MediaToolchain();
        using var cuda = new MediaToolchain(new MediaOptions { UseCudaDecoding = true });
        var plan = SegmentPlanner.Plan(25, T, 10, 1);
        foreach (var m in new[] { plain, cuda })
        {
            var lines = new[]
            {
                m.BuildSinglePass("/in/v.mp4", plan, S, "/out/f.rgb", "/out/t%05d.jpg").Arguments,
                m.BuildSeekFrame("/in/v.mp4", 1.5, S, "/out/f.rgb").Arguments,
                m.BuildThumbnail("/in/v.mp4", 1.5, "/out/t.jpg").Arguments,
            };
            foreach (var line in lines)
            {
                var input = line.IndexOf("-i \"/in/v.mp4\"", StringComparison.Ordinal);
                Assert.True(input > 0, line);
                Assert.True(line.IndexOf("-nostdin", StringComparison.Ordinal) is >= 0 and var i && i < input, line);
                Assert.True(line.IndexOf("-protocol_whitelist file", StringComparison.Ordinal) < input, line);
                Assert.Contains("-protocol_whitelist file \"/out/", line);
                Assert.True(line.IndexOf($"-format_whitelist {MediaOptions.DefaultAllowedFormats} ", StringComparison.Ordinal) is >= 0 and var f && f < input, line);
                Assert.True(line.IndexOf("-max_pixels 36000000", StringComparison.Ordinal) is >= 0 and var p && p < input, line);
                var hw = line.IndexOf("-hwaccel cuda", StringComparison.Ordinal);
                if (m.Options.UseCudaDecoding) Assert.True(hw >= 0 && hw < input, line);
                else Assert.Equal(-1, hw);
            }
            Assert.Contains("scale=64:64:flags=bicubic", lines[0]);
            Assert.Contains("format=rgb24", lines[0]);
            Assert.Contains("-ss 1.5 ", lines[1]);
        }
    }

    [Fact]
    public async Task A_manifest_disguised_as_an_MP4_box_is_refused_without_opening_what_it_names()
    {
        // '<!--free-->' reads as a 'free' box to a magic-byte check; ffmpeg's probe picks DASH (it finds '<MPD'), whose
        // BaseURL opens any local file even under -protocol_whitelist file. The named file is a valid clip here.
        var dir = fx.Dir("disguised");
        var manifest = Path.Combine(dir, $"disguised-{Guid.NewGuid():N}.mp4");
        File.WriteAllText(manifest, "<!--free-->\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\" type=\"static\" "
            + "mediaPresentationDuration=\"PT2S\" minBufferTime=\"PT1S\"><Period><AdaptationSet mimeType=\"video/mp4\"><Representation id=\"1\" bandwidth=\"1000\">"
            + $"<BaseURL>file://{fx.Clips.Values.First()}</BaseURL></Representation></AdaptationSet></Period></MPD>\n");
        using var m = new MediaToolchain();
        var e = await Assert.ThrowsAsync<MediaException>(() => m.ProbeAsync(manifest));
        Assert.Equal(MediaErrorKind.Unsupported, e.Kind);
        Assert.Contains("'dash' format, which is not accepted", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hls")]
    [InlineData("mov,concat")]
    [InlineData("mov;rm -rf")]
    [InlineData("")]
    public void Allowed_formats_never_include_a_demuxer_that_opens_other_files(string formats) =>
        Assert.Throws<ArgumentException>(() => new MediaOptions { AllowedFormats = formats }.Validate());

    private static double MeanAbsDiff(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double sum = 0;
        for (var i = 0; i < a.Length; i++) sum += Math.Abs(a[i] - b[i]);
        return sum / a.Length;
    }

    /// <summary>Running processes whose command line mentions <paramref name="text"/> (from /proc, like pgrep -f).</summary>
    private static List<int> ProcessesMentioning(string text)
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmd.Contains(text, StringComparison.Ordinal) && cmd.Contains("ffmpeg", StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }
}
