using LiteVL.FrameExtractor.Media;
using Xunit.Abstractions;

namespace LiteVL.FrameExtractor.Tests;

/// <summary>Runs the extraction benchmark only when LITEVL_BENCH=1 (it takes a minute or more); prints figures, asserts nothing about speed.</summary>
public class BenchmarkRun(ITestOutputHelper output)
{
    [Fact]
    public async Task Single_pass_vs_seek_benchmark()
    {
        if (Environment.GetEnvironmentVariable("LITEVL_BENCH") != "1") return;
        var dir = Environment.GetEnvironmentVariable("LITEVL_BENCH_DIR") ?? Path.Combine(Path.GetTempPath(), "litevl-bench");
        var result = await ExtractionBenchmark.RunAsync(dir);
        output.WriteLine(result.ToString());
        await File.WriteAllTextAsync(Path.Combine(dir, "result.txt"), result.ToString());
    }
}
