using System.Globalization;

namespace LiteVL.Cli.Tests;

public sealed class BenchCommandTests
{
    [Fact]
    public void BenchModel_TextEncoder_ComparesWithTheMiniLmExport()
    {
        var (exit, output, error) = Cli.Run("bench", "model", "--preset", "tiny", "--graph", "text_encoder", "--seconds", "0", "--text-batch", "4");

        Assert.True(exit == 0, error);
        Assert.Contains("| model.onnx (MiniLM export) | as shipped | 4 |", output, StringComparison.Ordinal);
        var ours = output.Split('\n').Where(l => l.StartsWith("| text_encoder (ours) |", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ours.Count); // fused and plain
        foreach (string line in ours)
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            Assert.EndsWith("x", cells[^3], StringComparison.Ordinal);
            double maxDiff = double.Parse(cells[^2], NumberStyles.Float, CultureInfo.InvariantCulture);
            Assert.True(maxDiff <= 1e-4, $"our text encoder on MiniLM's weights differs from its model.onnx by {maxDiff}: {line}");
        }
    }
}
