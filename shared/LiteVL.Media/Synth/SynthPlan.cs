namespace LiteVL.Media.Synth;

public enum SynthSplit { Train, Val, Test }

/// <summary>
/// One shape over a clip: its centre and size (pixels) move linearly from the first frame to the last; it is drawn on
/// frames [<see cref="VisibleFrom"/>, <see cref="VisibleTo"/>).
/// </summary>
public sealed record ShapeTrack(SynthObject Object, double X0, double Y0, double X1, double Y1, double Size0, double Size1, int VisibleFrom, int VisibleTo);

/// <summary>Everything needed to draw a clip: frame count, background grey level and the shapes.</summary>
public sealed record ClipScene(int Frames, byte Background, IReadOnlyList<ShapeTrack> Shapes);

/// <summary>
/// The ranges a rendering is drawn from. <see cref="Seen"/> is used by train and val (and half of test);
/// <see cref="Novel"/> only by test: lighter backgrounds and smaller shapes than training ever shows.
/// </summary>
public sealed record RenderingRanges(string Name, int BackgroundMin, int BackgroundMax, double SizeMin, double SizeMax)
{
    public static readonly RenderingRanges Seen = new("seen", 24, 88, 0.20, 0.30);

    public static readonly RenderingRanges Novel = new("novel", 100, 136, 0.13, 0.18);
}

/// <summary>
/// A clip and its time-reversed twin. The clip is drawn from <see cref="Scene"/>; the twin is the same frames in reverse
/// order. <see cref="Positive"/> is the clip's direction (right, down, grows); the twin has the other one.
/// </summary>
public sealed record SynthPair(
    int Index, SynthSplit Split, MotionFamily Family, SynthObject First, SynthObject? Second, bool Positive, int Template,
    bool HeldOut, RenderingRanges Rendering, ClipScene Scene)
{
    public string Name => $"{Split.ToString().ToLowerInvariant()}-{Index:D4}";

    public string Caption => Family == MotionFamily.Order
        ? SynthVocabulary.OrderCaption(First, Second!.Value, Template)
        : SynthVocabulary.Caption(Family, First, Positive, Template);

    public string TwinCaption => Family == MotionFamily.Order
        ? SynthVocabulary.OrderCaption(Second!.Value, First, Template)
        : SynthVocabulary.Caption(Family, First, !Positive, Template);
}

/// <summary>
/// A still image for image-text pre-training: one or two shapes that do not move, captioned with what a single frame
/// shows ("a red square", "a red square and a blue circle"). Stored as a short still clip (<see cref="SynthPlanner.ImageFrames"/>
/// equal frames), which the platform's frame extraction reads like any video.
/// </summary>
public sealed record SynthImage(int Index, SynthSplit Split, IReadOnlyList<SynthObject> Objects, int Template, ClipScene Scene, int FrameSize)
{
    public string Name => $"image-{Split.ToString().ToLowerInvariant()}-{Index:D4}";

    /// <summary>
    /// What the frame shows, with where when the shape sits in an outer third: "a red square on the left", "a red square
    /// up at the top", "a red square on the left and a blue circle on the right". The position words are the ones the
    /// motion captions use, so pre-training teaches the text encoder "left" from "right" and "up" from "down" before any
    /// video is seen (docs/training.md).
    /// </summary>
    public string Caption
    {
        get
        {
            var shapes = Scene.Shapes;
            if (shapes.Count == 2)
            {
                bool firstLeft = shapes[0].X0 < shapes[1].X0;
                return SynthVocabulary.ImageCaption(Objects, Template, firstLeft ? "left" : "right", firstLeft ? "right" : "left");
            }

            double x = shapes[0].X0, y = shapes[0].Y0, third = FrameSize / 3.0;
            string? across = x < third ? "left" : x > 2 * third ? "right" : null;
            string? along = y < third ? "top" : y > 2 * third ? "bottom" : null;
            return SynthVocabulary.ImageCaption(Objects, Template, across is not null && (along is null || Template == 0) ? across : along);
        }
    }
}

/// <summary>The whole set: held-out combinations and every clip/twin pair, in split order (train, val, test), and the still images.</summary>
public sealed record SynthPlan(int Seed, int Size, double Fps, IReadOnlyList<SynthCombo> HeldOut, IReadOnlyList<SynthPair> Pairs, IReadOnlyList<SynthImage> Images)
{
    public int Clips => Pairs.Count * 2;

    public IEnumerable<SynthPair> In(SynthSplit split) => Pairs.Where(p => p.Split == split);
}

/// <summary>
/// Plans a synthetic set deterministically from a seed (<see cref="System.Random"/> with a seed is stable across .NET
/// versions). Held-out combinations: two colour × shape pairs per motion family, drawn from the seed; they appear only in
/// test. Each split draws from its own random stream, so test renderings never repeat a training draw.
/// </summary>
public static class SynthPlanner
{
    public const double Fps = 10;
    public const double MinSeconds = 2;
    public const double MaxSeconds = 6;
    public const int MinClips = 12;
    public const int MaxClips = 100_000;
    public const int MinSize = 64;                                   // the smallest test-only shapes are then 8 px wide
    public const int MaxSize = 1024;
    public const int HeldOutPerFamily = 2;
    public const int MaxImages = 100_000;

    /// <summary>Frames of a still image's clip.</summary>
    public const int ImageFrames = 5;

    /// <summary>Share of the images with two shapes ("a red square and a blue circle").</summary>
    public const double TwoShapeImageShare = 0.25;

    /// <summary>Share of the pairs in test and val (at least 2 and 1 pairs).</summary>
    public const double TestShare = 0.2;
    public const double ValShare = 0.1;

    /// <summary>A moving shape travels this share of the room it has (frame side minus its size).</summary>
    public const double TravelMin = 0.45;
    public const double TravelMax = 0.8;

    /// <summary>A growing shape ends this many times larger than it starts.</summary>
    public const double GrowthMin = 2.0;
    public const double GrowthMax = 2.6;

    /// <summary>Throws <see cref="ArgumentException"/> with the option to fix.</summary>
    public static void Validate(int clips, int size, int images = 0)
    {
        if (images < 0 || images > MaxImages || (images > 0 && images < 10))
        {
            throw new ArgumentException($"--images must be 0 or from 10 to {MaxImages}, not {images}: the still images of image-text pre-training, 90 % train and 10 % val.");
        }

        if (clips < MinClips || clips > MaxClips || clips % 2 != 0)
        {
            throw new ArgumentException(
                $"--clips must be an even number from {MinClips} to {MaxClips}, not {clips}: every clip has its time-reversed twin, and train, val and test each need whole pairs.");
        }

        if (size < MinSize || size > MaxSize || size % 2 != 0)
        {
            throw new ArgumentException($"--size must be an even number of pixels from {MinSize} to {MaxSize} (H.264 in yuv420p needs even sizes), not {size}.");
        }
    }

    /// <summary>Pairs per split: test ≈ 20 %, val ≈ 10 %, the rest train.</summary>
    public static (int Train, int Val, int Test) SplitPairs(int clips)
    {
        int pairs = clips / 2;
        int test = Math.Max(2, (int)Math.Round(pairs * TestShare, MidpointRounding.AwayFromZero));
        int val = Math.Max(1, (int)Math.Round(pairs * ValShare, MidpointRounding.AwayFromZero));
        return (pairs - test - val, val, test);
    }

    public static SynthPlan Plan(int clips, int seed, int size, int images = 0)
    {
        Validate(clips, size, images);
        var heldOut = ChooseHeldOut(new Random(seed));
        var held = heldOut.ToHashSet();
        var (train, val, test) = SplitPairs(clips);
        var pairs = new List<SynthPair>(clips / 2);
        pairs.AddRange(PlanSeen(SynthSplit.Train, train, Stream(seed, 1), held, size));
        pairs.AddRange(PlanSeen(SynthSplit.Val, val, Stream(seed, 2), held, size));
        pairs.AddRange(PlanTest(test, Stream(seed, 3), heldOut, held, size));
        return new SynthPlan(seed, size, Fps, heldOut, pairs, PlanImages(images, Stream(seed, 4), size));
    }

    /// <summary>
    /// Still images over every colour × shape (held-out combinations are of colour × shape × motion, so every shape is
    /// seen still): 90 % train, 10 % val, drawn with the training renderings.
    /// </summary>
    private static List<SynthImage> PlanImages(int count, Random rng, int size)
    {
        int val = count / 10;
        var images = new List<SynthImage>(count);
        var r = RenderingRanges.Seen;
        for (int i = 0; i < count; i++)
        {
            var split = i < count - val ? SynthSplit.Train : SynthSplit.Val;
            int index = split == SynthSplit.Train ? i : i - (count - val);
            byte background = (byte)rng.Next(r.BackgroundMin, r.BackgroundMax + 1);
            var all = AllObjects();
            var first = all[rng.Next(all.Count)];
            List<ShapeTrack> shapes;
            List<SynthObject> objects;
            if (rng.NextDouble() < TwoShapeImageShare)
            {
                all.Remove(first);
                var second = all[rng.Next(all.Count)];
                double s1 = Uniform(rng, r.SizeMin, r.SizeMax) * size, s2 = Uniform(rng, r.SizeMin, r.SizeMax) * size, half = size / 2.0;
                bool firstLeft = rng.Next(2) == 0;
                double x1 = Uniform(rng, s1 / 2, half - (s1 / 2)) + (firstLeft ? 0 : half);
                double x2 = Uniform(rng, s2 / 2, half - (s2 / 2)) + (firstLeft ? half : 0);
                double y1 = Uniform(rng, s1 / 2, size - (s1 / 2)), y2 = Uniform(rng, s2 / 2, size - (s2 / 2));
                shapes = [new ShapeTrack(first, x1, y1, x1, y1, s1, s1, 0, ImageFrames), new ShapeTrack(second, x2, y2, x2, y2, s2, s2, 0, ImageFrames)];
                objects = [first, second];
            }
            else
            {
                double s = Uniform(rng, r.SizeMin * 0.7, r.SizeMax * 1.4) * size;            // still shapes span the sizes growing ones pass through
                double x = Uniform(rng, s / 2, size - (s / 2)), y = Uniform(rng, s / 2, size - (s / 2));
                shapes = [new ShapeTrack(first, x, y, x, y, s, s, 0, ImageFrames)];
                objects = [first];
            }

            images.Add(new SynthImage(index, split, objects, rng.Next(2), new ClipScene(ImageFrames, background, shapes), size));
        }

        return images;
    }

    private static Random Stream(int seed, int split) => new(unchecked((seed * 1_000_003) + (split * 7919)));

    /// <summary>Two colour × shape pairs per family, listed family by family in turn so that a short test split covers every family.</summary>
    private static List<SynthCombo> ChooseHeldOut(Random rng)
    {
        var perFamily = SynthVocabulary.Families.Select(f => Shuffled(AllObjects(), rng).Take(HeldOutPerFamily).Select(o => new SynthCombo(o, f)).ToList()).ToList();
        var combos = new List<SynthCombo>();
        for (int k = 0; k < HeldOutPerFamily; k++)
        {
            combos.AddRange(perFamily.Select(list => list[k]));
        }

        return combos;
    }

    private static IEnumerable<SynthPair> PlanSeen(SynthSplit split, int count, Random rng, HashSet<SynthCombo> held, int size)
    {
        int offset = rng.Next(SynthVocabulary.Families.Count);
        for (int i = 0; i < count; i++)
        {
            var family = SynthVocabulary.Families[(i + offset) % SynthVocabulary.Families.Count];
            var first = Pick(rng, family, held, except: null);
            SynthObject? second = family == MotionFamily.Order ? Pick(rng, family, held, except: first) : null;
            yield return Draw(rng, split, i, family, first, second, heldOut: false, RenderingRanges.Seen, size);
        }
    }

    /// <summary>
    /// Test alternates held-out combinations (even indices) and seen ones (odd), and uses the novel rendering ranges for
    /// the first two of every four pairs, so all four cells (combination seen or not × rendering seen or not) get clips.
    /// </summary>
    private static IEnumerable<SynthPair> PlanTest(int count, Random rng, List<SynthCombo> heldOut, HashSet<SynthCombo> held, int size)
    {
        int offset = rng.Next(SynthVocabulary.Families.Count);
        int nextHeld = 0, nextSeen = 0;
        for (int i = 0; i < count; i++)
        {
            var rendering = i % 4 < 2 ? RenderingRanges.Novel : RenderingRanges.Seen;
            if (i % 2 == 0)
            {
                var combo = heldOut[nextHeld++ % heldOut.Count];
                var (first, second) = (combo.Object, (SynthObject?)null);
                if (combo.Family == MotionFamily.Order)
                {
                    var other = Pick(rng, MotionFamily.Order, [], except: combo.Object);
                    (first, second) = rng.Next(2) == 0 ? (combo.Object, other) : (other, combo.Object);
                }

                yield return Draw(rng, SynthSplit.Test, i, combo.Family, first, second, heldOut: true, rendering, size);
            }
            else
            {
                var family = SynthVocabulary.Families[(nextSeen++ + offset) % SynthVocabulary.Families.Count];
                var first = Pick(rng, family, held, except: null);
                SynthObject? second = family == MotionFamily.Order ? Pick(rng, family, held, except: first) : null;
                yield return Draw(rng, SynthSplit.Test, i, family, first, second, heldOut: false, rendering, size);
            }
        }
    }

    /// <summary>A random colour × shape whose combination with <paramref name="family"/> is not held out.</summary>
    private static SynthObject Pick(Random rng, MotionFamily family, HashSet<SynthCombo> held, SynthObject? except)
    {
        var allowed = AllObjects().Where(o => o != except && !held.Contains(new SynthCombo(o, family))).ToList();
        return allowed[rng.Next(allowed.Count)];
    }

    /// <summary>
    /// One chosen pair outside any set (the embedded host's sample clips): <paramref name="first"/> (and
    /// <paramref name="second"/>, for <see cref="MotionFamily.Order"/> clips only) in the direction <paramref name="positive"/>
    /// (right, down, grows), captioned with the plain template 0 ("a red circle moves left"), and otherwise drawn from
    /// <paramref name="seed"/> exactly as a training pair is (seen renderings, same ranges and drawing code).
    /// <see cref="SynthPair.Scene"/> is the clip; its frames in reverse order are the twin (<see cref="SynthPair.TwinCaption"/>).
    /// </summary>
    public static SynthPair Chosen(MotionFamily family, SynthObject first, SynthObject? second, bool positive, int seed, int size)
    {
        if (size < MinSize || size > MaxSize || size % 2 != 0)
        {
            throw new ArgumentException($"The size must be an even number of pixels from {MinSize} to {MaxSize}, not {size}.", nameof(size));
        }

        if ((family == MotionFamily.Order) != (second is not null) || second == first)
        {
            throw new ArgumentException(family == MotionFamily.Order
                ? "An order clip shows two different shapes: give the one that appears first and the one that appears second."
                : $"A {family.ToString().ToLowerInvariant()} clip shows one shape, not two.", nameof(second));
        }

        return Draw(new Random(seed), SynthSplit.Train, 0, family, first, second, heldOut: false, RenderingRanges.Seen, size, chosenPositive: positive, chosenTemplate: 0);
    }

    /// <param name="chosenPositive">Overrides the drawn direction (after drawing it, so the random stream is the same either way).</param>
    /// <param name="chosenTemplate">Overrides the drawn caption template, likewise.</param>
    private static SynthPair Draw(
        Random rng, SynthSplit split, int index, MotionFamily family, SynthObject first, SynthObject? second, bool heldOut, RenderingRanges r, int size,
        bool? chosenPositive = null, int? chosenTemplate = null)
    {
        int frames = (int)Math.Round(Uniform(rng, MinSeconds, MaxSeconds) * Fps);
        byte background = (byte)rng.Next(r.BackgroundMin, r.BackgroundMax + 1);
        bool positive = rng.Next(2) == 0;
        int template = rng.NextDouble() < 0.5 ? 0 : 1 + rng.Next(SynthVocabulary.Templates(family) - 1);
        positive = chosenPositive ?? positive;
        template = chosenTemplate ?? template;
        double s = Uniform(rng, r.SizeMin, r.SizeMax) * size;
        List<ShapeTrack> shapes;
        switch (family)
        {
            case MotionFamily.Horizontal:
            case MotionFamily.Vertical:
            {
                double room = size - s;
                double travel = Uniform(rng, TravelMin, TravelMax) * room;
                double from = (s / 2) + Uniform(rng, 0, room - travel);
                double to = from + travel;
                if (!positive)
                {
                    (from, to) = (to, from);
                }

                double across = Uniform(rng, s / 2, size - (s / 2));
                shapes = family == MotionFamily.Horizontal
                    ? [new ShapeTrack(first, from, across, to, across, s, s, 0, frames)]
                    : [new ShapeTrack(first, across, from, across, to, s, s, 0, frames)];
                break;
            }

            case MotionFamily.Size:
            {
                double ratio = Math.Sqrt(Uniform(rng, GrowthMin, GrowthMax));
                double small = s / ratio, large = s * ratio;
                double cx = Uniform(rng, large / 2, size - (large / 2));
                double cy = Uniform(rng, large / 2, size - (large / 2));
                shapes = [positive ? new ShapeTrack(first, cx, cy, cx, cy, small, large, 0, frames) : new ShapeTrack(first, cx, cy, cx, cy, large, small, 0, frames)];
                break;
            }

            case MotionFamily.Order:
            {
                // A and B in opposite halves, each shown in its own window; A's window starts and ends first, so the
                // reversed clip shows B first and then A: exactly the twin's caption.
                double s2 = Uniform(rng, r.SizeMin, r.SizeMax) * size;
                bool firstLeft = rng.Next(2) == 0;
                double half = size / 2.0;
                double x1 = Uniform(rng, s / 2, half - (s / 2)) + (firstLeft ? 0 : half);
                double x2 = Uniform(rng, s2 / 2, half - (s2 / 2)) + (firstLeft ? half : 0);
                double y1 = Uniform(rng, s / 2, size - (s / 2));
                double y2 = Uniform(rng, s2 / 2, size - (s2 / 2));
                int a0 = (int)Math.Round(frames * Uniform(rng, 0.05, 0.2));
                int a1 = (int)Math.Round(frames * Uniform(rng, 0.45, 0.6));
                int b0 = (int)Math.Round(frames * Uniform(rng, 0.4, 0.55));
                int b1 = (int)Math.Round(frames * Uniform(rng, 0.8, 0.95));
                shapes =
                [
                    new ShapeTrack(first, x1, y1, x1, y1, s, s, a0, a1),
                    new ShapeTrack(second!.Value, x2, y2, x2, y2, s2, s2, b0, b1),
                ];
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(family));
        }

        return new SynthPair(index, split, family, first, second, positive, template, heldOut, r, new ClipScene(frames, background, shapes));
    }

    private static double Uniform(Random rng, double min, double max) => min + (rng.NextDouble() * (max - min));

    private static List<SynthObject> AllObjects() =>
        [.. Enumerable.Range(0, SynthVocabulary.Colours.Count).SelectMany(c => Enumerable.Range(0, SynthVocabulary.Shapes.Count).Select(s => new SynthObject(c, s)))];

    private static List<T> Shuffled<T>(List<T> items, Random rng)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }

        return items;
    }
}
