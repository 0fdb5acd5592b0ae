using System.Globalization;
using System.Xml.Linq;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;

namespace LiteVL.Model.Tests.Training;

/// <summary>The per-layer dynamic temporal scaling figure: its numbers, the text chart and the SVG.</summary>
public sealed class ScalingChartTests : IDisposable
{
    private static readonly XNamespace SvgNs = "http://www.w3.org/2000/svg";
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-scaling-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Tiny with T = 4 of 8 stored slots. Layer 0's four used slots give 1 + tanh(α) = 0.2, 0.6, 1.0, 1.4 (mean 0.8),
    /// layer 1's give 1.5 each; the unused slots 4..7 hold α = 5 (≈ 2.0), which would pull a mean over all slots up.
    /// </summary>
    private static ModelWeights KnownAlphas()
    {
        var weights = TestModels.Tiny(seed: 11, c => c with { NumFrames = 4, MaxFrames = 8 });
        double[][] factors = [[0.2, 0.6, 1.0, 1.4], [1.5, 1.5, 1.5, 1.5]];
        for (int l = 0; l < 2; l++)
        {
            var alpha = weights[ScalingChart.WeightName(l)].Data;
            Assert.Equal(8, alpha.Length);
            for (int t = 0; t < 8; t++)
            {
                alpha[t] = t < 4 ? (float)Math.Atanh(factors[l][t] - 1) : 5f;
            }
        }

        return weights;
    }

    [Fact]
    public void LayerMeans_AreTheMeanOverTheModelsFrameSlotsOf1PlusTanhAlpha_PerLayer()
    {
        var means = ScalingChart.LayerMeans(KnownAlphas());
        Assert.Equal(2, means.Count);
        Assert.Equal(0.8, means[0], 5);
        Assert.Equal(1.5, means[1], 5);
    }

    [Fact]
    public void LayerMeansOfAModelDirectory_ReadOnlyTheAlphasAndAgreeWithTheWeights()
    {
        var weights = KnownAlphas();
        weights.Config.Save(_dir);
        weights.Save(Path.Combine(_dir, ModelWeights.FileName));
        var (config, means) = ScalingChart.LayerMeans(_dir);
        Assert.Equal(4, config.NumFrames);
        Assert.Equal(ScalingChart.LayerMeans(weights), means);
    }

    [Fact]
    public void LayerMeansOfAModelDirectory_WithoutAnAlpha_NamesTheTensor()
    {
        var weights = KnownAlphas();
        weights.Config.Save(_dir);
        SafeTensorsWriter.Write(
            Path.Combine(_dir, ModelWeights.FileName),
            WeightSpec.For(weights.Config).Where(e => e.Name != ScalingChart.WeightName(1))
                .Select(e => new KeyValuePair<string, HostTensor>(e.Name, HostTensor.FromFloats(weights[e.Name].Data, e.Shape))));
        var e = Assert.Throws<MissingWeightException>(() => ScalingChart.LayerMeans(_dir));
        Assert.Contains("vision_model.encoder.layers.1.temporal_scaling", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_HasOneRowPerLayer_WithBarsProportionalToTheValueOnA0To2Axis()
    {
        double[] means = [0.8, 1.5, 2.0, 0.25, 1.0];
        string[] lines = ScalingChart.Text(means).Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(means.Length + 2, lines.Length);
        for (int l = 0; l < means.Length; l++)
        {
            string prefix = $"  layer {l,2}  {means[l].ToString("F3", CultureInfo.InvariantCulture)}  ";
            Assert.StartsWith(prefix, lines[l], StringComparison.Ordinal);
            string bar = lines[l][prefix.Length..];
            Assert.Equal(new string('#', bar.Length), bar);
            Assert.Equal(means[l] / 2 * 40, bar.Length, 0.5); // 2.0 = 40 characters, whatever the largest value
        }

        // The ruler's ticks sit under the end of a bar of that value: 1.0 under the 20th '#'.
        string ruler = lines[^2], labels = lines[^1];
        int barStart = "  layer  0  0.800  ".Length;
        Assert.Equal([barStart - 1, barStart + 9, barStart + 19, barStart + 29, barStart + 39], ruler.Select((c, i) => (c, i)).Where(x => x.c == '|').Select(x => x.i));
        Assert.Equal(barStart + 19, lines[4].Length - 1); // layer 4 = 1.0: its last '#' is above the tick of 1
        Assert.Equal(["0", "0.5", "1", "1.5", "2"], labels.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal('1', labels[barStart + 19]);
    }

    [Fact]
    public void Text_OfTwoModels_DrawsTheSameValueWithTheSameBar()
    {
        string small = ScalingChart.Text([1.2]);
        string large = ScalingChart.Text([1.2, 0.3, 1.9]);
        Assert.Equal(small.Split(Environment.NewLine)[0], large.Split(Environment.NewLine)[0]);
        Assert.Equal(24, ScalingChart.TextBarLength(1.2));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(24)]
    public void Svg_ParsesAsXml_WithOneLabelledBarPerLayer_ProportionalToTheValues(int layers)
    {
        var means = Enumerable.Range(0, layers).Select(l => 0.1 + (1.8 * l / Math.Max(1, layers - 1))).ToArray();
        var svg = XDocument.Parse(ScalingChart.Svg(means, "model <tiny> & \"friends\""));
        var root = svg.Root!;
        Assert.Equal(SvgNs + "svg", root.Name);
        Assert.Equal("model <tiny> & \"friends\"", root.Elements(SvgNs + "text").Single(t => (string?)t.Attribute("class") == "subtitle").Value);
        Assert.Contains("Dynamic temporal scaling per layer", root.Element(SvgNs + "title")!.Value, StringComparison.Ordinal);

        var groups = root.Descendants(SvgNs + "g").Where(g => (string?)g.Attribute("class") == "layer").ToList();
        Assert.Equal(layers, groups.Count);
        double height = double.Parse((string)root.Attribute("height")!, CultureInfo.InvariantCulture);
        double previousY = double.NegativeInfinity;
        for (int l = 0; l < layers; l++)
        {
            var g = groups[l];
            Assert.Equal($"layer {l}", g.Elements(SvgNs + "text").Single(t => (string?)t.Attribute("class") == "layer-label").Value);
            Assert.Equal(means[l].ToString("F3", CultureInfo.InvariantCulture), g.Elements(SvgNs + "text").Single(t => (string?)t.Attribute("class") == "value").Value);
            var bar = g.Element(SvgNs + "rect")!;
            Assert.Equal("bar", (string?)bar.Attribute("class"));
            double width = Number(bar, "width"), y = Number(bar, "y");
            Assert.Equal(means[l] * ScalingChart.SvgPixelsPerUnit, width, 0.01);
            Assert.True(y > previousY && y + Number(bar, "height") < height, $"layer {l} at y={y}");
            previousY = y;
        }

        // Ticks 0..2 labelled, at the same scale as the bars; the reference line at 1.0.
        var ticks = root.Descendants(SvgNs + "text").Where(t => (string?)t.Attribute("class") == "tick").ToList();
        Assert.Equal(["0", "0.5", "1", "1.5", "2"], ticks.Select(t => t.Value));
        double x0 = Number(ticks[0], "x");
        Assert.Equal(Number(groups[0].Element(SvgNs + "rect")!, "x"), x0);
        Assert.Equal(x0 + (2 * ScalingChart.SvgPixelsPerUnit), Number(ticks[4], "x"), 0.01);
        var reference = root.Descendants(SvgNs + "line").Single(t => (string?)t.Attribute("class") == "reference");
        Assert.Equal(Number(ticks[2], "x"), Number(reference, "x1"));
        Assert.Contains(root.Descendants(SvgNs + "text"), t => t.Value == "1.0 = as imported");
    }

    [Fact]
    public void Svg_OfANaNValue_DrawsNoBarAndSaysNaN()
    {
        var svg = XDocument.Parse(ScalingChart.Svg([double.NaN, 1.0]));
        var bars = svg.Descendants(SvgNs + "rect").Where(r => (string?)r.Attribute("class") == "bar").ToList();
        Assert.Equal(0, Number(bars[0], "width"));
        Assert.Equal(200, Number(bars[1], "width"));
        Assert.Contains(svg.Descendants(SvgNs + "text"), t => (string?)t.Attribute("class") == "value" && t.Value == "NaN");
    }

    private static double Number(XElement e, string attribute) => double.Parse((string)e.Attribute(attribute)!, CultureInfo.InvariantCulture);
}
