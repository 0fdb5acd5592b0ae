using System.Globalization;
using System.Security;
using System.Text;
using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Weights;

namespace LiteVL.Model.Training;

/// <summary>
/// The learned dynamic temporal scaling per vision layer: the mean over the T frame slots of 1 + tanh(α_l), the paper's
/// per-layer figure. As a list of numbers (<see cref="LayerMeans(ModelWeights)"/>), a text bar chart for terminals
/// (<see cref="Text"/>) and a self-contained SVG (<see cref="Svg"/>). Both charts use the factor's whole range 0..2 as a
/// fixed axis, so the charts of different models compare: 0 = temporal branch off, 1 = as imported, 2 = the maximum.
/// </summary>
public static class ScalingChart
{
    /// <summary>The upper end of the axis: 1 + tanh(α) lies in (0, 2).</summary>
    public const double AxisMax = 2.0;

    /// <summary>Bar length of the text chart at <see cref="AxisMax"/>, in characters (1.0 = 20 characters).</summary>
    public const int TextWidth = 40;

    /// <summary>The tick values of both charts' axes.</summary>
    public static IReadOnlyList<double> Ticks { get; } = [0, 0.5, 1, 1.5, 2];

    /// <summary>Horizontal pixels per unit of the SVG's axis (the bar of 2.0 is 400 px long).</summary>
    public const double SvgPixelsPerUnit = 200;

    private const double SvgLeft = 72, SvgTop = 60, SvgRow = 20, SvgBar = 13, SvgRight = 64, SvgBottom = 52;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The weight name of layer <paramref name="layer"/>'s α, shape [1, MaxFrames, 1].</summary>
    public static string WeightName(int layer) => $"vision_model.encoder.layers.{layer}.temporal_scaling";

    /// <summary>Per vision layer, the mean over the model's T = NumFrames frame slots of 1 + tanh(α_l).</summary>
    /// <remarks>
    /// <see cref="ModelWeights"/> always holds every layer's α (its constructor checks the tensors against
    /// <see cref="WeightSpec"/>), so there is no missing case here.
    /// </remarks>
    public static IReadOnlyList<double> LayerMeans(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var c = weights.Config;
        var means = new double[c.Vision.NumLayers];
        for (int l = 0; l < means.Length; l++)
        {
            means[l] = Mean(weights[WeightName(l)].Data, c.NumFrames);
        }

        return means;
    }

    /// <summary>
    /// <see cref="LayerMeans(ModelWeights)"/> of a model directory, reading only the α tensors of
    /// <c>weights.safetensors</c> (not the whole model: cheap for blip-large too). A missing or mis-shaped α fails with
    /// <see cref="MissingWeightException"/> or <see cref="WeightShapeException"/> naming the tensor.
    /// </summary>
    public static (ModelConfig Config, IReadOnlyList<double> Means) LayerMeans(string modelDir)
    {
        var config = ModelConfig.Load(modelDir);
        string path = Path.Combine(modelDir, ModelWeights.FileName);
        if (!File.Exists(path))
        {
            throw new ModelDirectoryException($"Weights file '{path}' does not exist.");
        }

        using var file = SafeTensorsFile.Open(path);
        var means = new double[config.Vision.NumLayers];
        for (int l = 0; l < means.Length; l++)
        {
            string name = WeightName(l);
            if (!file.Contains(name))
            {
                throw new MissingWeightException($"{path} has no tensor '{name}' (the dynamic temporal scaling of layer {l}).");
            }

            means[l] = Mean(ModelWeights.ReadChecked(file, name, [1, config.MaxFrames, 1]), config.NumFrames);
        }

        return (config, means);
    }

    /// <summary>Mean of 1 + tanh(α) over the first <paramref name="frames"/> slots (the ones the graphs use).</summary>
    internal static double Mean(ReadOnlySpan<float> alpha, int frames)
    {
        if (frames < 1 || frames > alpha.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(frames), $"{frames} frame slots asked for, α has {alpha.Length}.");
        }

        double sum = 0;
        foreach (float a in alpha[..frames])
        {
            sum += 1 + Math.Tanh(a);
        }

        return sum / frames;
    }

    /// <summary>Characters of the text chart's bar for <paramref name="value"/>: round(value / 2 · 40), 0 for NaN.</summary>
    public static int TextBarLength(double value) =>
        double.IsFinite(value) ? (int)Math.Round(Math.Clamp(value, 0, AxisMax) / AxisMax * TextWidth) : 0;

    /// <summary>
    /// One row per layer, <c>  layer  3  1.042  #####…</c> (bar length <see cref="TextBarLength"/>), then a ruler with
    /// the ticks 0, 0.5, 1, 1.5 and 2 under the bars' ends. Lines end with <see cref="Environment.NewLine"/>.
    /// </summary>
    public static string Text(IReadOnlyList<double> means)
    {
        ArgumentNullException.ThrowIfNull(means);
        var b = new StringBuilder();
        int indent = RowPrefix(0, 0.0).Length - 1;
        for (int l = 0; l < means.Count; l++)
        {
            b.Append(RowPrefix(l, means[l])).Append('#', TextBarLength(means[l])).AppendLine();
        }

        // A bar of n characters ends in column indent + n, so tick v sits in column indent + v / 2 · 40.
        var ruler = new string(' ', indent).ToCharArray().Concat(Enumerable.Repeat('-', TextWidth + 1)).ToArray();
        var labels = new string(' ', indent + TextWidth + 3).ToCharArray();
        foreach (double tick in Ticks)
        {
            int column = indent + TextBarLength(tick);
            ruler[column] = '|';
            string label = tick.ToString(Inv);
            label.CopyTo(0, labels, column - ((label.Length - 1) / 2), label.Length);
        }

        b.Append(ruler).AppendLine();
        b.Append(new string(labels).TrimEnd()).AppendLine();
        return b.ToString();
    }

    /// <summary>Horizontal pixel length of the SVG bar for <paramref name="value"/> (0 for NaN).</summary>
    public static double SvgBarLength(double value) =>
        double.IsFinite(value) ? Math.Clamp(value, 0, AxisMax) * SvgPixelsPerUnit : 0;

    /// <summary>
    /// A self-contained SVG document: the title, one horizontal bar per layer (<c>rect class="bar"</c>, labelled
    /// "layer i", its value as text), a dashed reference line at 1.0 ("as imported") and an x axis with the ticks 0,
    /// 0.5, 1, 1.5, 2. Its height grows with the layer count (2 layers for tiny, 24 for blip-large).
    /// </summary>
    /// <param name="means">The per-layer values, e.g. from <see cref="LayerMeans(ModelWeights)"/>.</param>
    /// <param name="subtitle">A line under the title, e.g. the model version (escaped here).</param>
    public static string Svg(IReadOnlyList<double> means, string? subtitle = null)
    {
        ArgumentNullException.ThrowIfNull(means);
        double plot = AxisMax * SvgPixelsPerUnit;
        double width = SvgLeft + plot + SvgRight;
        double axisY = SvgTop + (means.Count * SvgRow) + 4;
        double height = axisY + SvgBottom;
        const string title = "Dynamic temporal scaling per layer";
        var s = new StringBuilder();
        s.Append(Inv, $"""<svg xmlns="http://www.w3.org/2000/svg" class="scaling-chart" width="{N(width)}" height="{N(height)}" viewBox="0 0 {N(width)} {N(height)}" role="img" aria-label="{title}: mean over frames of 1 + tanh(α) for {means.Count} vision layers" font-family="system-ui, sans-serif" font-size="12">""").Append('\n');
        s.Append(Inv, $"<title>{title}</title>\n");
        s.Append(Inv, $"""<rect x="0" y="0" width="{N(width)}" height="{N(height)}" fill="#ffffff"/>""").Append('\n');
        s.Append(Inv, $"""<text class="title" x="8" y="18" font-size="14" font-weight="600" fill="#1d2433">{title}</text>""").Append('\n');
        if (!string.IsNullOrWhiteSpace(subtitle))
        {
            s.Append(Inv, $"""<text class="subtitle" x="8" y="34" fill="#5b6475">{Escape(subtitle)}</text>""").Append('\n');
        }

        // Grid lines at the ticks, behind the bars.
        s.Append("""<g class="grid" stroke="#e3e6ec">""").Append('\n');
        foreach (double tick in Ticks)
        {
            double x = SvgLeft + SvgBarLength(tick);
            s.Append(Inv, $"""<line x1="{N(x)}" y1="{N(SvgTop - 4)}" x2="{N(x)}" y2="{N(axisY)}"/>""").Append('\n');
        }

        s.Append("</g>\n");

        // The reference line behind the bars (which let it show through); the values carry a white halo where they cross it.
        double one = SvgLeft + SvgBarLength(1);
        s.Append(Inv, $"""<line class="reference" x1="{N(one)}" y1="{N(SvgTop - 8)}" x2="{N(one)}" y2="{N(axisY)}" stroke="#c0392b" stroke-dasharray="4 3"/>""").Append('\n');
        s.Append(Inv, $"""<text class="reference-label" x="{N(one + 4)}" y="{N(SvgTop - 10)}" fill="#c0392b" font-size="11">1.0 = as imported</text>""").Append('\n');
        s.Append("<g class=\"bars\">\n");
        for (int l = 0; l < means.Count; l++)
        {
            double v = means[l];
            double y = SvgTop + (l * SvgRow);
            double length = SvgBarLength(v);
            string value = Format(v);
            string fill = double.IsFinite(v) && v < 1 ? "#9db8f2" : "#3b6fd8";
            s.Append(Inv, $"""<g class="layer" data-layer="{l}" data-value="{value}">""");
            s.Append(Inv, $"""<text class="layer-label" x="{N(SvgLeft - 6)}" y="{N(y + SvgBar - 2)}" text-anchor="end" fill="#1d2433">layer {l}</text>""");
            s.Append(Inv, $"""<rect class="bar" x="{N(SvgLeft)}" y="{N(y)}" width="{N(length)}" height="{N(SvgBar)}" fill="{fill}" fill-opacity="0.85"><title>layer {l}: {value}</title></rect>""");
            s.Append(Inv, $"""<text class="value" x="{N(SvgLeft + length + 4)}" y="{N(y + SvgBar - 2)}" fill="#1d2433" stroke="#ffffff" stroke-width="3" paint-order="stroke">{value}</text>""");
            s.Append("</g>\n");
        }

        s.Append("</g>\n");
        s.Append(Inv, $"""<g class="axis" fill="#5b6475"><line x1="{N(SvgLeft)}" y1="{N(axisY)}" x2="{N(SvgLeft + plot)}" y2="{N(axisY)}" stroke="#5b6475"/>""").Append('\n');
        foreach (double tick in Ticks)
        {
            double x = SvgLeft + SvgBarLength(tick);
            s.Append(Inv, $"""<line x1="{N(x)}" y1="{N(axisY)}" x2="{N(x)}" y2="{N(axisY + 5)}" stroke="#5b6475"/><text class="tick" x="{N(x)}" y="{N(axisY + 18)}" text-anchor="middle">{tick.ToString(Inv)}</text>""").Append('\n');
        }

        s.Append(Inv, $"""<text class="axis-title" x="{N(SvgLeft + (plot / 2))}" y="{N(axisY + 38)}" text-anchor="middle">mean over the T frame slots of 1 + tanh(α)   (0 = temporal branch off, 2 = max)</text>""").Append('\n');
        s.Append("</g>\n</svg>\n");
        return s.ToString();
    }

    private static string RowPrefix(int layer, double value) => string.Create(Inv, $"  layer {layer,2}  {Format(value)}  ");

    private static string Format(double value) => double.IsFinite(value) ? value.ToString("F3", Inv) : "NaN";

    private static string N(double value) => Math.Round(value, 2).ToString("0.##", Inv);

    private static string Escape(string text) => SecurityElement.Escape(text) ?? string.Empty;
}
