using System.Globalization;
using System.Text.Json;
using LiteVL.Model.Config;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;

namespace LiteVL.Cli.Tests;

/// <summary><c>litevl bench train</c> on the tiny preset: a measured row with sane figures (never a timing bound).</summary>
public sealed class BenchTrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-bench-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void BenchTrain_TinyTemporal_PrintsAMeasuredRowWithTheTrainableShareOfParameterGroups()
    {
        string json = Path.Combine(_dir, "rows.json");
        var (exit, output, error) = Cli.Run("bench", "train", "--presets", "tiny", "--params", "temporal", "--batch", "2", "--steps", "2", "--warmup", "1", "--json", json);
        Assert.True(exit == 0, output + error);

        // The share computed independently: the temporal group of the preset's weights over all its weights.
        var weights = ModelWeights.Random(Presets.Get(Presets.Tiny), seed: 1);
        var temporal = ParameterGroups.Select(weights, ParameterGroup.Temporal);
        long trainable = temporal.Sum(n => weights[n].Count);
        double expectedShare = (double)trainable / weights.ParameterCount;
        Assert.InRange(expectedShare, 1e-4, 0.5);   // temporal modules are a real but small part of the model

        string row = Assert.Single(output.Split('\n'), l => l.StartsWith("| tiny |", StringComparison.Ordinal));
        string[] cells = row.Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.Equal(12, cells.Length);
        Assert.Equal("temporal", cells[2]);
        Assert.Equal("8 × 64²", cells[1]);
        double share = Number(cells[3].TrimEnd('%')) / 100;
        Assert.InRange(Math.Abs(share - expectedShare), 0, 0.6e-5);      // printed with 3 decimals in percent
        Assert.Equal("2", cells[4]);
        Assert.True(Number(cells[5]) > 0, $"graph nodes: {row}");
        double forward = Number(cells[7]);
        double step = Number(cells[8].Split(' ')[0]);
        double ratio = Number(cells[9].TrimEnd('x'));
        double examplesPerSecond = Number(cells[10]);
        double rss = Number(cells[11].Replace(" GiB", string.Empty, StringComparison.Ordinal));
        foreach (double v in new[] { forward, step, ratio, examplesPerSecond, rss })
        {
            Assert.True(double.IsFinite(v) && v > 0, $"not a finite positive figure in: {row}");
        }

        Assert.Equal(step / forward, ratio, 0.01 * ratio + 0.01);        // the ratio is of the row's own medians
        Assert.Equal(2 * 1000 / step, examplesPerSecond, 0.01 * examplesPerSecond + 0.01);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var r = Assert.Single(doc.RootElement.GetProperty("rows").EnumerateArray().ToList());
        Assert.Equal(trainable, r.GetProperty("TrainableParameters").GetInt64());
        Assert.Equal(weights.ParameterCount, r.GetProperty("TotalParameters").GetInt64());
        Assert.Equal(temporal.Count, r.GetProperty("TrainableTensors").GetInt32());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("Error").ValueKind);
    }

    private static double Number(string cell) => double.Parse(cell.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture);
}
