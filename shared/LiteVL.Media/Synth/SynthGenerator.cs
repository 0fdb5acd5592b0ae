using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using LiteVL.Media;

namespace LiteVL.Media.Synth;

/// <summary>
/// One line of <c>data.jsonl</c>: <c>video</c> and <c>caption</c> as <c>litevl eval</c> and <c>litevl train</c> read them;
/// the other fields (ignored by those readers) say what the clip is, so results can be sliced.
/// </summary>
public sealed record SynthRecord(
    string Video, string Caption, string Split, string Twin, string Family, string Motion, IReadOnlyList<string> Objects,
    bool HeldOut, string Rendering, int Frames, int Background);

/// <summary>One line of <c>images-train.jsonl</c> / <c>images-val.jsonl</c>: a still image (as a short still clip) and what it shows.</summary>
public sealed record SynthImageRecord(string Video, string Caption, string Split, IReadOnlyList<string> Objects, int Background);

/// <summary>
/// One line of <c>qa-train.jsonl</c> / <c>qa-val.jsonl</c> / <c>qa-test.jsonl</c>: a question about a clip, its answer and
/// the question's type (colour, shape, direction, size, order), for video question answering.
/// </summary>
public sealed record SynthQaRecord(string Video, string Question, string Answer, string Type, string Split);

/// <summary>Renders a <see cref="SynthPlan"/> to H.264 MP4 files and writes the JSON-lines files and the manifest.</summary>
public static class SynthGenerator
{
    public const string VideosFolder = "videos";
    public const string DataFile = "data.jsonl";
    public const string ManifestFile = "manifest.json";
    public const string ImagesFolder = "images";

    public static string ImageSplitFile(SynthSplit split) => $"images-{Name(split)}.jsonl";

    public static string ImagePath(SynthImage image) => $"{ImagesFolder}/{image.Name}.mp4";

    public static SynthImageRecord Record(SynthImage image) =>
        new(ImagePath(image), image.Caption, Name(image.Split), [.. image.Objects.Select(o => o.ToString())], image.Scene.Background);

    private static readonly JsonSerializerOptions LineOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly JsonSerializerOptions ManifestOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string SplitFile(SynthSplit split) => $"{Name(split)}.jsonl";

    public static string Name(SynthSplit split) => split.ToString().ToLowerInvariant();

    public static string VideoPath(SynthPair pair, bool twin) => $"{VideosFolder}/{pair.Name}{(twin ? "-twin" : string.Empty)}.mp4";

    /// <summary>The two lines of a pair: the clip, then its twin.</summary>
    public static IEnumerable<SynthRecord> Records(SynthPair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        string family = pair.Family.ToString().ToLowerInvariant();
        string clip = VideoPath(pair, twin: false), twin = VideoPath(pair, twin: true);
        var forward = pair.Second is { } b ? new[] { pair.First.ToString(), b.ToString() } : [pair.First.ToString()];
        var backward = pair.Second is { } b2 ? new[] { b2.ToString(), pair.First.ToString() } : [pair.First.ToString()];
        yield return new SynthRecord(clip, pair.Caption, Name(pair.Split), twin, family, SynthVocabulary.Motion(pair.Family, pair.Positive), forward,
            pair.HeldOut, pair.Rendering.Name, pair.Scene.Frames, pair.Scene.Background);
        yield return new SynthRecord(twin, pair.TwinCaption, Name(pair.Split), clip, family, SynthVocabulary.Motion(pair.Family, !pair.Positive), backward,
            pair.HeldOut, pair.Rendering.Name, pair.Scene.Frames, pair.Scene.Background);
    }

    public static string Line(SynthRecord record) => JsonSerializer.Serialize(record, LineOptions);

    public static string QaSplitFile(SynthSplit split) => $"qa-{Name(split)}.jsonl";

    /// <summary>
    /// The questions about a pair's clip, then its twin's: colour, shape and direction (or grow/shrink) of a one-shape
    /// clip; which shape appears first in an order clip (in the twin, the other one). Direction and order answers differ
    /// between a clip and its twin, so an order-invariant model can get at most half of them right.
    /// </summary>
    public static IEnumerable<SynthQaRecord> QaRecords(SynthPair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        string split = Name(pair.Split);
        foreach (bool twin in new[] { false, true })
        {
            string video = VideoPath(pair, twin);
            if (pair.Family == MotionFamily.Order)
            {
                var first = twin ? pair.Second!.Value : pair.First;
                yield return Qa(video, "order", first.ToString(), split);
                continue;
            }

            yield return Qa(video, "colour", pair.First.ColourName, split);
            yield return Qa(video, "shape", pair.First.ShapeName, split);
            yield return Qa(video, pair.Family == MotionFamily.Size ? "size" : "direction", SynthVocabulary.Motion(pair.Family, pair.Positive != twin), split);
        }
    }

    private static SynthQaRecord Qa(string video, string type, string answer, string split) =>
        new(video, SynthVocabulary.Questions[type], answer, type, split);

    /// <summary>
    /// Renders and encodes every clip (up to one ffmpeg per core), then writes the split files, <c>data.jsonl</c> and
    /// <c>manifest.json</c> (last, so a folder with a manifest is complete). Reports progress on <paramref name="output"/>.
    /// </summary>
    public static async Task GenerateAsync(SynthPlan plan, string outDir, TextWriter output, bool terminal, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(output);
        string videos = Path.Combine(outDir, VideosFolder);
        Directory.CreateDirectory(videos);
        var clock = Stopwatch.StartNew();
        int total = plan.Clips + plan.Images.Count;
        int done = 0, step = Math.Max(2, total / 10 / 2 * 2), reported = 0;
        var gate = new Lock();
        using var clips = new SampleClips();
        void Progress(int files)
        {
            lock (gate)
            {
                done += files;
                string line = $"{Bar(done, total)} {done,6}/{total} files · {clock.Elapsed.TotalSeconds:F1} s";
                if (terminal)
                {
                    output.Write("\r" + line + "\u001b[K");
                }
                else if (done - reported >= step || done == total)
                {
                    reported = done;
                    output.WriteLine(line);
                }
            }
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct };
        await Parallel.ForEachAsync(plan.Pairs, parallel, async (pair, token) =>
        {
            var frames = SynthRenderer.Render(pair.Scene, plan.Size);
            await clips.EncodeFramesAsync(frames, plan.Size, plan.Size, plan.Fps, Path.Combine(outDir, VideoPath(pair, twin: false)), token).ConfigureAwait(false);
            Array.Reverse(frames);
            await clips.EncodeFramesAsync(frames, plan.Size, plan.Size, plan.Fps, Path.Combine(outDir, VideoPath(pair, twin: true)), token).ConfigureAwait(false);
            Progress(2);
        }).ConfigureAwait(false);
        await Parallel.ForEachAsync(plan.Images, parallel, async (image, token) =>
        {
            var frames = SynthRenderer.Render(image.Scene, plan.Size);
            await clips.EncodeFramesAsync(frames, plan.Size, plan.Size, plan.Fps, Path.Combine(outDir, ImagePath(image)), token).ConfigureAwait(false);
            Progress(1);
        }).ConfigureAwait(false);
        if (terminal)
        {
            output.WriteLine();
        }

        if (plan.Images.Count > 0)
        {
            foreach (var split in new[] { SynthSplit.Train, SynthSplit.Val })
            {
                await File.WriteAllLinesAsync(
                    Path.Combine(outDir, ImageSplitFile(split)),
                    plan.Images.Where(i => i.Split == split).Select(i => JsonSerializer.Serialize(Record(i), LineOptions)),
                    ct).ConfigureAwait(false);
            }
        }

        var all = plan.Pairs.SelectMany(Records).Select(Line).ToList();
        foreach (var split in Enum.GetValues<SynthSplit>())
        {
            await File.WriteAllLinesAsync(Path.Combine(outDir, SplitFile(split)), plan.In(split).SelectMany(Records).Select(Line), ct).ConfigureAwait(false);
            await File.WriteAllLinesAsync(
                Path.Combine(outDir, QaSplitFile(split)), plan.In(split).SelectMany(QaRecords).Select(q => JsonSerializer.Serialize(q, LineOptions)), ct).ConfigureAwait(false);
        }

        await File.WriteAllLinesAsync(Path.Combine(outDir, DataFile), all, ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDir, ManifestFile), Manifest(plan) + "\n", ct).ConfigureAwait(false);
    }

    private static string Bar(int done, int total)
    {
        const int Width = 24;
        int filled = (int)((long)done * Width / total);
        return "[" + new string('#', filled) + new string('.', Width - filled) + "]";
    }

    /// <summary>The manifest: seed, size, counts per split, the held-out combinations and the rendering ranges of each split.</summary>
    public static string Manifest(SynthPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var splits = Enum.GetValues<SynthSplit>().ToDictionary(Name, s =>
        {
            var pairs = plan.In(s).ToList();
            return new
            {
                Clips = pairs.Count * 2,
                Pairs = pairs.Count,
                HeldOutClips = pairs.Count(p => p.HeldOut) * 2,
                NovelRenderingClips = pairs.Count(p => p.Rendering == RenderingRanges.Novel) * 2,
                Families = SynthVocabulary.Families.ToDictionary(f => f.ToString().ToLowerInvariant(), f => pairs.Count(p => p.Family == f) * 2),
            };
        });
        var manifest = new
        {
            Generator = "litevl data synth",
            plan.Seed,
            plan.Clips,
            Width = plan.Size,
            Height = plan.Size,
            plan.Fps,
            Codec = "h264 (libx264, yuv420p, crf 18)",
            Seconds = new[] { SynthPlanner.MinSeconds, SynthPlanner.MaxSeconds },
            Splits = splits,
            HeldOut = plan.HeldOut.Select(c => new
            {
                Colour = c.Object.ColourName,
                Shape = c.Object.ShapeName,
                Family = c.Family.ToString().ToLowerInvariant(),
                Motions = c.Family == MotionFamily.Order ? ["appears"] : new[] { SynthVocabulary.Motion(c.Family, false), SynthVocabulary.Motion(c.Family, true) },
                TestClips = plan.In(SynthSplit.Test).Count(p => p.HeldOut && p.Family == c.Family && (p.First == c.Object || p.Second == c.Object)) * 2,
            }),
            Renderings = new[] { RenderingRanges.Seen, RenderingRanges.Novel }.Select(r => new
            {
                r.Name,
                UsedBy = r == RenderingRanges.Seen ? "train, val and half of test" : "test only",
                Background = new[] { r.BackgroundMin, r.BackgroundMax },
                ShapeSize = new[] { r.SizeMin, r.SizeMax },
            }),
            Vocabulary = new
            {
                Colours = SynthVocabulary.Colours.Select(c => c.Name),
                SynthVocabulary.Shapes,
                Motions = new[] { "moves left", "moves right", "moves up", "moves down", "grows", "shrinks", "appears" },
            },
            Images = new
            {
                Train = plan.Images.Count(i => i.Split == SynthSplit.Train),
                Val = plan.Images.Count(i => i.Split == SynthSplit.Val),
                TwoShapes = plan.Images.Count(i => i.Objects.Count == 2),
                Captions = "what one frame shows, with where: \"a red square on the left\", \"a blue circle up at the top\"",
                FramesEach = SynthPlanner.ImageFrames,
            },
            Qa = new
            {
                Questions = SynthVocabulary.Questions,
                Answers = "one word (\"red\", \"circle\", \"left\", \"grows\"), or for order the shape that appears first (\"red square\")",
                Lines = Enum.GetValues<SynthSplit>().ToDictionary(Name, s => plan.In(s).Sum(p => QaRecords(p).Count())),
            },
            Files = new[] { DataFile, SplitFile(SynthSplit.Train), SplitFile(SynthSplit.Val), SplitFile(SynthSplit.Test), QaSplitFile(SynthSplit.Train), QaSplitFile(SynthSplit.Val), QaSplitFile(SynthSplit.Test), VideosFolder + "/" }
                .Concat(plan.Images.Count > 0 ? [ImageSplitFile(SynthSplit.Train), ImageSplitFile(SynthSplit.Val), ImagesFolder + "/"] : []),
        };
        return JsonSerializer.Serialize(manifest, ManifestOptions);
    }
}
