namespace LiteVL.Media.Synth;

/// <summary>A named colour of the synthetic set and the RGB it is drawn with.</summary>
public sealed record SynthColour(string Name, byte R, byte G, byte B);

/// <summary>What a clip shows. Each family is closed under time reversal: its twin belongs to the same family.</summary>
public enum MotionFamily
{
    /// <summary>"moves left" ↔ "moves right".</summary>
    Horizontal,

    /// <summary>"moves up" ↔ "moves down".</summary>
    Vertical,

    /// <summary>"grows" ↔ "shrinks".</summary>
    Size,

    /// <summary>"a A appears, then a B appears" ↔ "a B appears, then a A appears".</summary>
    Order,
}

/// <summary>One shape of one colour (indices into <see cref="SynthVocabulary.Colours"/> and <see cref="SynthVocabulary.Shapes"/>).</summary>
public readonly record struct SynthObject(int Colour, int Shape)
{
    public string ColourName => SynthVocabulary.Colours[Colour].Name;

    public string ShapeName => SynthVocabulary.Shapes[Shape];

    public override string ToString() => $"{ColourName} {ShapeName}";
}

/// <summary>A colour × shape × motion combination; <see cref="Family"/> names the motion and its time-reversed opposite together.</summary>
public readonly record struct SynthCombo(SynthObject Object, MotionFamily Family)
{
    public override string ToString() => $"{Object} {SynthVocabulary.MotionPhrase(Family)}";
}

/// <summary>
/// The closed vocabulary of <c>litevl data synth</c>: five colours, three shapes, the motions "moves left/right/up/down",
/// "grows", "shrinks", and the order "a A appears, then a B appears". Captions come from a few templates (paraphrases
/// differ only in article and connective words); a clip and its time-reversed twin always use the same template, so
/// their captions differ only in the word(s) that carry time.
/// </summary>
public static class SynthVocabulary
{
    public static readonly IReadOnlyList<SynthColour> Colours =
    [
        new("red", 220, 40, 40),
        new("green", 40, 180, 70),
        new("blue", 45, 85, 235),
        new("yellow", 240, 215, 35),
        new("white", 245, 245, 245),
    ];

    public static readonly IReadOnlyList<string> Shapes = ["square", "circle", "triangle"];

    /// <summary>A shape by its words, "red" and "circle"; an <see cref="ArgumentException"/> lists the words there are.</summary>
    public static SynthObject Object(string colour, string shape)
    {
        int c = Colours.ToList().FindIndex(k => k.Name == colour);
        int s = Shapes.ToList().IndexOf(shape);
        if (c < 0 || s < 0)
        {
            throw new ArgumentException(
                $"'{colour} {shape}' is not in the vocabulary: colours {string.Join(", ", Colours.Select(k => k.Name))}; shapes {string.Join(", ", Shapes)}.",
                c < 0 ? nameof(colour) : nameof(shape));
        }

        return new SynthObject(c, s);
    }

    public static readonly IReadOnlyList<MotionFamily> Families = [MotionFamily.Horizontal, MotionFamily.Vertical, MotionFamily.Size, MotionFamily.Order];

    /// <summary>Number of templates per family; template 0 is the plain one of the issue.</summary>
    public static int Templates(MotionFamily family) => family switch
    {
        MotionFamily.Horizontal => 3,
        MotionFamily.Vertical => 2,
        MotionFamily.Size => 2,
        MotionFamily.Order => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>The motion word of a family in a given direction (<paramref name="positive"/>: right, down, grows).</summary>
    public static string Motion(MotionFamily family, bool positive) => family switch
    {
        MotionFamily.Horizontal => positive ? "right" : "left",
        MotionFamily.Vertical => positive ? "down" : "up",
        MotionFamily.Size => positive ? "grows" : "shrinks",
        MotionFamily.Order => "appears",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>Both motions of a family as people read them: "moves left/right", "grows/shrinks", "appears".</summary>
    public static string MotionPhrase(MotionFamily family) => family switch
    {
        MotionFamily.Horizontal => "moves left/right",
        MotionFamily.Vertical => "moves up/down",
        MotionFamily.Size => "grows/shrinks",
        MotionFamily.Order => "appears (in an order clip)",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>The caption of a one-shape clip: "a red square moves left", "the blue circle grows", "a red square moves to the left".</summary>
    public static string Caption(MotionFamily family, SynthObject shape, bool positive, int template)
    {
        string motion = Motion(family, positive);
        return family switch
        {
            MotionFamily.Horizontal or MotionFamily.Vertical => template switch
            {
                1 => $"the {shape} moves {motion}",
                2 => $"a {shape} moves to the {motion}",
                _ => $"a {shape} moves {motion}",
            },
            MotionFamily.Size => template == 1 ? $"the {shape} {motion}" : $"a {shape} {motion}",
            _ => throw new ArgumentException($"{family} clips show two shapes; use {nameof(OrderCaption)}.", nameof(family)),
        };
    }

    /// <summary>
    /// The caption of a still image: "a red square", "the red square", "a red square on the left", "a red square up at the
    /// top", "a red square down at the bottom"; two shapes: "a red square on the left and a blue circle on the right".
    /// </summary>
    /// <param name="where">Where the (first) shape is: left, right, top, bottom, or null for nowhere in particular.</param>
    /// <param name="secondWhere">Where the second shape is (two shapes only).</param>
    public static string ImageCaption(IReadOnlyList<SynthObject> objects, int template, string? where = null, string? secondWhere = null)
    {
        ArgumentNullException.ThrowIfNull(objects);
        string Place(string? w) => w switch
        {
            null => string.Empty,
            "left" or "right" => $" on the {w}",
            "top" => " up at the top",
            "bottom" => " down at the bottom",
            _ => throw new ArgumentException($"Unknown place '{w}'.", nameof(where)),
        };

        return objects.Count switch
        {
            1 => (template == 1 && where is null ? $"the {objects[0]}" : $"a {objects[0]}") + Place(where),
            2 => $"a {objects[0]}{Place(where)} and a {objects[1]}{Place(secondWhere)}",
            _ => throw new ArgumentException("A still image shows one or two shapes.", nameof(objects)),
        };
    }

    /// <summary>The video-QA questions of the set, by type; answers are one word ("red", "circle", "left", "grows") or, for order, the shape that appears first ("red square").</summary>
    public static readonly IReadOnlyDictionary<string, string> Questions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["colour"] = "what colour is the shape?",
        ["shape"] = "what shape is it?",
        ["direction"] = "which way does it move?",
        ["size"] = "does it grow or shrink?",
        ["order"] = "what appears first?",
    };

    /// <summary>The caption of an order clip: "a red square appears, then a blue circle appears" and two paraphrases.</summary>
    public static string OrderCaption(SynthObject first, SynthObject second, int template) => template switch
    {
        1 => $"a {first} appears and then a {second} appears",
        2 => $"first a {first} appears, then a {second} appears",
        _ => $"a {first} appears, then a {second} appears",
    };
}
