using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LiteVL.Cli.Evaluation;
using LiteVL.Testing;

namespace LiteVL.Cli.Tests;

/// <summary>One small synthetic set (24 clips, 64 px, seed 3) made once through the CLI and read by every test.</summary>
public sealed class SynthSetFixture : IDisposable
{
    public const int Clips = 24;
    public const int Size = 64;
    public const int Seed = 3;

    public SynthSetFixture()
    {
        Dir = Path.Combine(Root, "set");
        (Exit, Output, Error) = Cli.Run("data", "synth", "--out", Dir, "--clips", Clips.ToString(CultureInfo.InvariantCulture),
            "--size", Size.ToString(CultureInfo.InvariantCulture), "--seed", Seed.ToString(CultureInfo.InvariantCulture));
        if (Exit == 0)
        {
            Records = [.. File.ReadAllLines(Path.Combine(Dir, "data.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
            Manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json"))).RootElement.Clone();
        }
    }

    public string Root { get; } = Directory.CreateTempSubdirectory("litevl-synth-").FullName;

    public string Dir { get; }

    public int Exit { get; }

    public string Output { get; }

    public string Error { get; }

    public IReadOnlyList<JsonElement> Records { get; } = [];

    public JsonElement Manifest { get; }

    private readonly Dictionary<string, byte[][]> _frames = new(StringComparer.Ordinal);

    /// <summary>The decoded rgb24 frames of a clip (decoded once).</summary>
    public byte[][] Frames(string video)
    {
        lock (_frames)
        {
            if (!_frames.TryGetValue(video, out var frames))
            {
                _frames[video] = frames = SynthMedia.Decode(Path.Combine(Dir, video), Size);
            }

            return frames;
        }
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// <c>litevl data synth</c>: real H.264 files with the stated frame counts, captions inside the vocabulary, time-reversed
/// twins (caption and decoded frames), held-out combinations only in test, determinism, and shapes that really do what
/// their captions say (measured on the decoded video, independently of the generator's code).
/// </summary>
public sealed class SynthCommandTests(SynthSetFixture set) : IClassFixture<SynthSetFixture>
{
    private const string Colour = "(red|green|blue|yellow|white)";
    private const string Shape = "(square|circle|triangle)";

    private static readonly string[] Splits = ["train", "val", "test"];

    /// <summary>The grammar every caption must satisfy.</summary>
    private static readonly Regex MoveCaption = new($"^(?:a|the) {Colour} {Shape} moves (?:to the )?(left|right|up|down)$", RegexOptions.CultureInvariant);
    private static readonly Regex SizeCaption = new($"^(?:a|the) {Colour} {Shape} (grows|shrinks)$", RegexOptions.CultureInvariant);
    private static readonly Regex OrderCaption = new($"^(?:first )?a {Colour} {Shape} appears(?:,| and) then a {Colour} {Shape} appears$", RegexOptions.CultureInvariant);

    [Fact]
    public void Synth_WritesH264ClipsWithTheStatedFrameCounts_AndSplitFilesEvalAndTrainRead()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        Assert.Contains("wrote 24 clips", set.Output, StringComparison.Ordinal);
        Assert.Contains("held out of train and val (test only):", set.Output, StringComparison.Ordinal);
        Assert.Equal(SynthSetFixture.Clips, set.Records.Count);
        Assert.Equal(SynthSetFixture.Clips, set.Records.Select(r => Str(r, "video")).Distinct(StringComparer.Ordinal).Count());

        foreach (var record in set.Records)
        {
            var (codec, width, height, frames, seconds) = SynthMedia.Probe(Path.Combine(set.Dir, Str(record, "video")));
            int stated = record.GetProperty("frames").GetInt32();
            Assert.Equal("h264", codec);
            Assert.Equal((SynthSetFixture.Size, SynthSetFixture.Size), (width, height));
            Assert.Equal(stated, frames);
            Assert.InRange(stated, 20, 60);                                           // 2–6 s at 10 fps
            Assert.Equal(stated / 10.0, seconds, 2);
            Assert.Equal(stated, set.Frames(Str(record, "video")).Length);             // and that many frames decode
        }

        int total = 0;
        foreach (string split in new[] { "train", "val", "test" })
        {
            string file = Path.Combine(set.Dir, $"{split}.jsonl");
            var expected = set.Records.Where(r => Str(r, "split") == split).Select(r => Str(r, "video")).ToList();
            Assert.NotEmpty(expected);
            var eval = EvalDataset.Load(file);                                       // litevl eval's reader
            Assert.Equal(expected, eval.Pairs.Select(p => p.Video));
            var (pairs, problems) = EvalDataset.ParseLenient(File.ReadLines(file), file);   // litevl train's reader
            Assert.Empty(problems);
            Assert.Equal(expected.Count, pairs.Count);
            Assert.Equal(expected.Count, set.Manifest.GetProperty("splits").GetProperty(split).GetProperty("clips").GetInt32());
            total += expected.Count;
        }

        Assert.Equal(SynthSetFixture.Clips, total);
        Assert.Equal(SynthSetFixture.Seed, set.Manifest.GetProperty("seed").GetInt32());
    }

    [Fact]
    public void Synth_CaptionsStayInsideTheVocabulary_AndAgreeWithTheRecord()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        var families = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in set.Records)
        {
            var (family, motion, objects) = Parse(Str(record, "caption"));
            families.Add(family);
            Assert.Equal(Str(record, "family"), family);
            Assert.Equal(Str(record, "motion"), motion);
            Assert.Equal(record.GetProperty("objects").EnumerateArray().Select(o => o.GetString()!), objects);
        }

        Assert.Equal(["horizontal", "order", "size", "vertical"], families.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Synth_EveryClipHasItsTwin_WithTheOppositeCaptionAndTheFramesInReverse()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        var byVideo = set.Records.ToDictionary(r => Str(r, "video"), StringComparer.Ordinal);
        foreach (var record in set.Records)
        {
            var twin = byVideo[Str(record, "twin")];
            Assert.Equal(Str(record, "video"), Str(twin, "twin"));
            Assert.Equal(Str(record, "split"), Str(twin, "split"));
            Assert.Equal(Reversed(Str(record, "caption")), Str(twin, "caption"));
            Assert.NotEqual(Str(record, "caption"), Str(twin, "caption"));

            var a = set.Frames(Str(record, "video"));
            var b = set.Frames(Str(twin, "video"));
            Assert.Equal(a.Length, b.Length);
            int n = a.Length;
            double reversed = 0, sameOrder = 0;
            for (int i = 0; i < n; i++)
            {
                reversed = Math.Max(reversed, SynthMedia.ChangedShare(a[i], b[n - 1 - i]));
                sameOrder = Math.Max(sameOrder, SynthMedia.ChangedShare(a[i], b[i]));
            }

            // Frame i of the clip is frame n-1-i of the twin up to codec error; played in the same order they differ.
            Assert.True(reversed < 0.002, $"{Str(record, "video")}: {reversed:P2} of the pixels differ from the reversed twin");
            Assert.True(sameOrder > 0.01, $"{Str(record, "video")}: only {sameOrder:P2} of the pixels differ from the twin in the same order");
        }
    }

    [Fact]
    public void Synth_QaLinesAnswerWhatTheCaptionSays_AndTwinsDisagreeOnDirectionAndOrder()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        var qa = Splits
            .SelectMany(split => File.ReadAllLines(Path.Combine(set.Dir, $"qa-{split}.jsonl")).Select(l => (Split: split, Line: JsonDocument.Parse(l).RootElement.Clone())))
            .ToList();
        Assert.All(qa, q => Assert.Equal(q.Split, Str(q.Line, "split")));
        foreach (string split in Splits)
        {
            Assert.Equal(qa.Count(q => q.Split == split), set.Manifest.GetProperty("qa").GetProperty("lines").GetProperty(split).GetInt32());
        }

        var questions = new Dictionary<string, string>
        {
            ["colour"] = "what colour is the shape?", ["shape"] = "what shape is it?", ["direction"] = "which way does it move?",
            ["size"] = "does it grow or shrink?", ["order"] = "what appears first?",
        };
        var byVideo = qa.Select(q => q.Line).ToLookup(q => Str(q, "video"), StringComparer.Ordinal);
        foreach (var record in set.Records)
        {
            // The expected answers come from the caption, parsed with the test's own grammar.
            var (family, motion, objects) = Parse(Str(record, "caption"));
            var expected = family == "order"
                ? new Dictionary<string, string> { ["order"] = objects[0] }
                : new Dictionary<string, string>
                {
                    ["colour"] = objects[0].Split(' ')[0],
                    ["shape"] = objects[0].Split(' ')[1],
                    [family == "size" ? "size" : "direction"] = motion,
                };
            var lines = byVideo[Str(record, "video")].ToList();
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), lines.Select(l => Str(l, "type")).Order(StringComparer.Ordinal));
            foreach (var line in lines)
            {
                Assert.Equal(questions[Str(line, "type")], Str(line, "question"));
                Assert.Equal(expected[Str(line, "type")], Str(line, "answer"));
            }

            // The twin gets the same colour and shape answers and the other direction, size change or first shape.
            var twin = byVideo[Str(record, "twin")].ToDictionary(l => Str(l, "type"), l => Str(l, "answer"), StringComparer.Ordinal);
            foreach (var line in lines)
            {
                bool temporal = Str(line, "type") is "direction" or "size" or "order";
                Assert.Equal(!temporal, Str(line, "answer") == twin[Str(line, "type")]);
            }
        }

        Assert.Equal(set.Records.Count, qa.Select(q => Str(q.Line, "video")).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Synth_HeldOutCombinationsAppearOnlyInTest_AndTestHasUnseenRenderings()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        var heldOut = set.Manifest.GetProperty("held_out").EnumerateArray()
            .Select(h => $"{Str(h, "colour")} {Str(h, "shape")} {Str(h, "family")}").ToHashSet(StringComparer.Ordinal);
        Assert.Equal(8, heldOut.Count);                                               // two per motion family
        int heldOutInTest = 0;
        foreach (var record in set.Records)
        {
            var (family, _, objects) = Parse(Str(record, "caption"));
            bool held = objects.Any(o => heldOut.Contains($"{o} {family}"));
            if (Str(record, "split") == "test")
            {
                heldOutInTest += held ? 1 : 0;
            }
            else
            {
                Assert.False(held, $"{Str(record, "video")} ({Str(record, "caption")}) shows a held-out combination outside test");
            }
        }

        Assert.True(heldOutInTest >= 2, "test holds no clip of a held-out combination");

        // Backgrounds measured on the decoded frames: the unseen test renderings are lighter than anything in training.
        var train = set.Records.Where(r => Str(r, "split") == "train").Select(r => SynthMedia.Background(set.Frames(Str(r, "video"))[0]).Max()).ToList();
        var novel = set.Records.Where(r => Str(r, "rendering") == "novel").Select(r => SynthMedia.Background(set.Frames(Str(r, "video"))[0]).Max()).ToList();
        Assert.NotEmpty(novel);
        Assert.All(set.Records.Where(r => Str(r, "rendering") == "novel"), r => Assert.Equal("test", Str(r, "split")));
        Assert.True(novel.Min() > train.Max(), $"novel backgrounds {novel.Min()}.. not above training's ..{train.Max()}");
    }

    [Fact]
    public void Synth_ShapesMoveGrowAndAppearAsTheirCaptionsSay()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        var problems = new List<string>();
        foreach (var record in set.Records)
        {
            string video = Str(record, "video"), caption = Str(record, "caption");
            var frames = set.Frames(video);
            var bg = SynthMedia.Background(frames[0]);
            var (family, motion, objects) = Parse(caption);
            if (family == "order")
            {
                // The first frame with a shape shows only the first-named one; the last frame with a shape only the other
                // (each appears once, so the second one appears later).
                int from = Array.FindIndex(frames, f => SynthMedia.Blob(f, bg).Area > 0), to = Array.FindLastIndex(frames, f => SynthMedia.Blob(f, bg).Area > 0);
                if (!(from > 0 && from < to))
                {
                    problems.Add($"{video}: '{caption}' but shapes show on frames {from}..{to}");
                    continue;
                }

                if (Describe(frames[from], bg) != Describe(objects[0]) || Describe(frames[to], bg) != Describe(objects[1]))
                {
                    problems.Add($"{video}: '{caption}' but the first shape seen is {Describe(frames[from], bg)} and the last {Describe(frames[to], bg)}");
                }

                continue;
            }

            var first = SynthMedia.Blob(frames[0], bg);
            var last = SynthMedia.Blob(frames[^1], bg);
            if (Describe(frames[frames.Length / 2], bg) != Describe(objects[0]))
            {
                problems.Add($"{video}: '{caption}' but the middle frame shows {Describe(frames[frames.Length / 2], bg)}");
            }

            double dx = last.X - first.X, dy = last.Y - first.Y, travel = 0.2 * SynthSetFixture.Size;
            bool ok = motion switch
            {
                "left" => dx < -travel && Math.Abs(dy) < 1,
                "right" => dx > travel && Math.Abs(dy) < 1,
                "up" => dy < -travel && Math.Abs(dx) < 1,
                "down" => dy > travel && Math.Abs(dx) < 1,
                "grows" => last.Area > 1.8 * first.Area,
                "shrinks" => first.Area > 1.8 * last.Area,
                _ => false,
            };
            if (!ok)
            {
                problems.Add($"{video}: '{caption}' but the shape moved ({dx:F1}, {dy:F1}) px and its area went {first.Area} → {last.Area}");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Synth_SameSeedGivesIdenticalFiles_AnotherSeedAnotherSet()
    {
        Assert.True(set.Exit == 0, set.Output + set.Error);
        string again = Path.Combine(set.Root, "again"), other = Path.Combine(set.Root, "other");
        Assert.Equal(0, Cli.Run("data", "synth", "--out", again, "--clips", "24", "--size", "64", "--seed", "3").Exit);
        Assert.Equal(0, Cli.Run("data", "synth", "--out", other, "--clips", "24", "--size", "64", "--seed", "4").Exit);

        var data = File.ReadAllBytes(Path.Combine(set.Dir, "data.jsonl"));
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(again, "data.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(set.Dir, "manifest.json")), File.ReadAllBytes(Path.Combine(again, "manifest.json")));
        foreach (var record in set.Records)
        {
            string video = Str(record, "video");
            Assert.True(File.ReadAllBytes(Path.Combine(set.Dir, video)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(again, video))), $"{video} differs between equal seeds");
        }

        Assert.NotEqual(data, File.ReadAllBytes(Path.Combine(other, "data.jsonl")));
        Assert.NotEqual(set.Manifest.GetProperty("held_out").GetRawText(), JsonDocument.Parse(File.ReadAllText(Path.Combine(other, "manifest.json"))).RootElement.GetProperty("held_out").GetRawText());
    }

    [Theory]
    [InlineData("--clips", "13", "--clips must be an even number")]
    [InlineData("--clips", "10", "--clips must be an even number from 12")]
    [InlineData("--size", "48", "--size must be an even number of pixels from 64")]
    [InlineData("--size", "2000", "--size must be an even number of pixels from 64")]
    [InlineData("--size", "65", "--size must be an even number")]
    public void Synth_BadNumbers_AreRefusedBeforeAnythingIsWritten(string option, string value, string message)
    {
        string dir = Path.Combine(set.Root, $"bad{option}{value}");
        var (exit, _, error) = Cli.Run("data", "synth", "--out", dir, option, value);
        Assert.Equal(1, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Synth_OutputThatIsAFileOrNotEmpty_IsRefused()
    {
        string file = Path.Combine(set.Root, "a-file");
        File.WriteAllText(file, "x");
        var (exit, _, error) = Cli.Run("data", "synth", "--out", file, "--clips", "12");
        Assert.Equal(1, exit);
        Assert.Contains("is a file", error, StringComparison.Ordinal);

        (exit, _, error) = Cli.Run("data", "synth", "--out", set.Dir, "--clips", "12");
        Assert.Equal(1, exit);
        Assert.Contains("is not empty", error, StringComparison.Ordinal);
        Assert.Equal(SynthSetFixture.Clips, File.ReadAllLines(Path.Combine(set.Dir, "data.jsonl")).Length);
    }

    /// <summary>"red square" → its colours and shape, as measured on a frame by <see cref="Describe(byte[], byte[])"/>.</summary>
    private static string Describe(string shape) => $"[{shape.Split(' ')[0]}] {shape.Split(' ')[1]}";

    private static string Describe(byte[] frame, byte[] bg) => $"[{string.Join(",", SynthMedia.Colours(frame, bg))}] {SynthMedia.ShapeOf(frame, bg)}";

    private static string Str(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    /// <summary>Parses a caption with the grammar: family, motion word, objects in caption order.</summary>
    private static (string Family, string Motion, List<string> Objects) Parse(string caption)
    {
        if (MoveCaption.Match(caption) is { Success: true } m)
        {
            string d = m.Groups[3].Value;
            return (d is "left" or "right" ? "horizontal" : "vertical", d, [$"{m.Groups[1].Value} {m.Groups[2].Value}"]);
        }

        if (SizeCaption.Match(caption) is { Success: true } s)
        {
            return ("size", s.Groups[3].Value, [$"{s.Groups[1].Value} {s.Groups[2].Value}"]);
        }

        if (OrderCaption.Match(caption) is { Success: true } o)
        {
            var objects = new List<string> { $"{o.Groups[1].Value} {o.Groups[2].Value}", $"{o.Groups[3].Value} {o.Groups[4].Value}" };
            Assert.NotEqual(objects[0], objects[1]);
            return ("order", "appears", objects);
        }

        Assert.Fail($"caption outside the vocabulary: '{caption}'");
        return default;
    }

    /// <summary>The caption of the time-reversed clip: the opposite motion, or the two shapes swapped.</summary>
    private static string Reversed(string caption)
    {
        if (OrderCaption.Match(caption) is { Success: true } o)
        {
            string a = $"{o.Groups[1].Value} {o.Groups[2].Value}", b = $"{o.Groups[3].Value} {o.Groups[4].Value}";
            return caption.Replace(a, "\0", StringComparison.Ordinal).Replace(b, a, StringComparison.Ordinal).Replace("\0", b, StringComparison.Ordinal);
        }

        string[] words = caption.Split(' ');
        words[^1] = words[^1] switch
        {
            "left" => "right",
            "right" => "left",
            "up" => "down",
            "down" => "up",
            "grows" => "shrinks",
            "shrinks" => "grows",
            _ => throw new InvalidOperationException($"no motion word at the end of '{caption}'"),
        };
        return string.Join(' ', words);
    }
}

/// <summary>ffprobe and ffmpeg run directly (not through the code under test), and simple measurements on decoded frames.</summary>
internal static class SynthMedia
{
    public sealed record BlobInfo(int Area, double X, double Y);

    public static (string Codec, int Width, int Height, int Frames, double Seconds) Probe(string path)
    {
        string json = Run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,nb_frames:format=duration", "-of", "json", path], out _);
        var root = JsonDocument.Parse(json).RootElement;
        var stream = root.GetProperty("streams")[0];
        return (stream.GetProperty("codec_name").GetString()!, stream.GetProperty("width").GetInt32(), stream.GetProperty("height").GetInt32(),
            int.Parse(stream.GetProperty("nb_frames").GetString()!, CultureInfo.InvariantCulture),
            double.Parse(root.GetProperty("format").GetProperty("duration").GetString()!, CultureInfo.InvariantCulture));
    }

    public static byte[][] Decode(string path, int size)
    {
        Run("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], out var raw);
        int frame = size * size * 3;
        Assert.Equal(0, raw.Length % frame);
        return [.. Enumerable.Range(0, raw.Length / frame).Select(i => raw.AsSpan(i * frame, frame).ToArray())];
    }

    /// <summary>Share of pixels where some channel differs by more than 48 (a shape there in one frame and not the other).</summary>
    public static double ChangedShare(byte[] a, byte[] b)
    {
        int changed = 0;
        for (int p = 0; p < a.Length; p += 3)
        {
            if (Math.Abs(a[p] - b[p]) > 48 || Math.Abs(a[p + 1] - b[p + 1]) > 48 || Math.Abs(a[p + 2] - b[p + 2]) > 48)
            {
                changed++;
            }
        }

        return changed / (a.Length / 3.0);
    }

    /// <summary>The per-channel median: the background, since shapes cover well under half the frame.</summary>
    public static byte[] Background(byte[] frame)
    {
        var result = new byte[3];
        for (int c = 0; c < 3; c++)
        {
            var values = new List<byte>(frame.Length / 3);
            for (int p = c; p < frame.Length; p += 3)
            {
                values.Add(frame[p]);
            }

            values.Sort();
            result[c] = values[values.Count / 2];
        }

        return result;
    }

    /// <summary>Pixels far from the background: their count and centroid.</summary>
    public static BlobInfo Blob(byte[] frame, byte[] bg)
    {
        int size = (int)Math.Sqrt(frame.Length / 3), area = 0;
        double sx = 0, sy = 0;
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                if (Distance(frame, ((y * size) + x) * 3, bg) > 60)
                {
                    area++;
                    sx += x;
                    sy += y;
                }
            }
        }

        return area == 0 ? new BlobInfo(0, double.NaN, double.NaN) : new BlobInfo(area, sx / area, sy / area);
    }

    /// <summary>
    /// The shape in a frame showing one: each pixel's coverage is its distance from the background over the shape's
    /// contrast; the ideal square, circle and triangle (apex up) of the same area and centroid are drawn, and the one
    /// closest to the measured coverage (sum of absolute differences) names the shape. Works down to shapes of a few pixels.
    /// </summary>
    public static string ShapeOf(byte[] frame, byte[] bg)
    {
        int size = (int)Math.Sqrt(frame.Length / 3);
        var cov = new double[size * size];
        double contrast = 0;
        for (int i = 0; i < cov.Length; i++)
        {
            contrast = Math.Max(contrast, Distance(frame, i * 3, bg));
        }

        if (contrast < 60)
        {
            return "none";
        }

        double area = 0, cx = 0, cy = 0;
        for (int i = 0; i < cov.Length; i++)
        {
            double c = Distance(frame, i * 3, bg) / contrast;
            cov[i] = c < 0.2 ? 0 : Math.Min(1, c);                                     // codec noise is not shape
            area += cov[i];
            cx += cov[i] * ((i % size) + 0.5);
            cy += cov[i] * ((i / size) + 0.5);
        }

        (cx, cy) = (cx / area, cy / area);
        double square = Math.Sqrt(area), circle = 2 * Math.Sqrt(area / Math.PI), triangle = Math.Sqrt(2 * area);
        var errors = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["square"] = Misfit(cov, size, (dx, dy) => Math.Abs(dx) <= square / 2 && Math.Abs(dy) <= square / 2, cx, cy),
            ["circle"] = Misfit(cov, size, (dx, dy) => (dx * dx) + (dy * dy) <= circle * circle / 4, cx, cy),
            // The centroid of a triangle lies a sixth of its height below the middle of its box.
            ["triangle"] = Misfit(cov, size, (dx, dy) => dy >= -triangle / 2 && dy <= triangle / 2 && Math.Abs(dx) <= (dy + (triangle / 2)) / 2, cx, cy - (triangle / 6)),
        };
        return errors.MinBy(kv => kv.Value).Key;
    }

    private static double Misfit(double[] cov, int size, Func<double, double, bool> inside, double cx, double cy)
    {
        double error = 0;
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                int hits = 0;
                for (int s = 0; s < 16; s++)
                {
                    hits += inside(x + (((s % 4) + 0.5) / 4) - cx, y + (((s / 4) + 0.5) / 4) - cy) ? 1 : 0;
                }

                error += Math.Abs(cov[(y * size) + x] - (hits / 16.0));
            }
        }

        return error;
    }

    /// <summary>The named colours present: each far-from-background pixel is named by simple channel rules (not the generator's palette).</summary>
    public static IReadOnlyList<string> Colours(byte[] frame, byte[] bg)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < frame.Length; p += 3)
        {
            if (Distance(frame, p, bg) <= 60)
            {
                continue;
            }

            int r = frame[p], g = frame[p + 1], b = frame[p + 2];
            string? name = (r, g, b) switch
            {
                _ when Math.Min(r, Math.Min(g, b)) > 200 => "white",
                _ when r > 180 && g > 160 && b < 110 => "yellow",
                _ when r > 150 && g < 110 && b < 110 => "red",
                _ when g > 130 && r < 110 && b < 130 => "green",
                _ when b > 160 && r < 110 && g < 150 => "blue",
                _ => null,
            };
            if (name is not null)
            {
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }
        }

        // A colour counts when enough pixels carry it (edges blended with the background are left unnamed or noise).
        return [.. counts.Where(kv => kv.Value >= 6).Select(kv => kv.Key).Order(StringComparer.Ordinal)];
    }

    private static int Distance(byte[] frame, int at, byte[] bg) =>
        Math.Max(Math.Abs(frame[at] - bg[0]), Math.Max(Math.Abs(frame[at + 1] - bg[1]), Math.Abs(frame[at + 2] - bg[2])));

    private static string Run(string tool, string[] args, out byte[] stdout)
    {
        var run = Programs.Run(tool, args);
        Assert.True(run.ExitCode == 0, $"{tool} failed: {run.Error}");
        stdout = run.OutputBytes;
        return run.Output;
    }
}
