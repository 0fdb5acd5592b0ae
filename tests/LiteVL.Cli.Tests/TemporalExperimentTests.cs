using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LiteVL.Cli.Commands;
using LiteVL.Cli.Experiments;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Cli.Tests;

/// <summary>
/// The CI version of <c>litevl experiment temporal</c> (<c>--reduced</c>): the whole pipeline — synthetic set, image-text
/// pre-training, BLIP export and import, three fine-tunings, scoring, report — on a few minutes' worth of data, and the
/// properties it must keep: the order-invariant variants score exactly 50 % on twins (every pair a tie), the variants
/// with a trained temporal branch are no longer order-invariant, the report lands between its markers, and the shipped
/// default model finds held-out test clips well above chance and tells them from their time reversal above chance.
/// That this run's own (d) beats (a) on twins is NOT asserted, because 8 epochs on 96 clips do not learn time: the
/// reduced (d) scored 40.0 % when the shipped (d), from the full setting, scored 70.0 % on the same 20 test captions
/// and 63.9 % on the full run's 320 (docs/evaluation.md).
/// </summary>
public sealed class TemporalExperimentTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-experiment-").FullName;

    [Fact]
    public async Task Reduced_experiment_runs_end_to_end_keeps_order_invariance_where_it_must_and_the_shipped_model_finds_test_clips()
    {
        string doc = Path.Combine(_dir, "docs", "evaluation.md");
        Directory.CreateDirectory(Path.GetDirectoryName(doc)!);
        File.WriteAllText(doc, "# Evaluation\n\nintro\n");
        string work = Path.Combine(_dir, "work");
        var clock = Stopwatch.StartNew();
        var (exit, stdout, error) = Cli.Run("experiment", "temporal", "--reduced", "--jobs", "3", "--threads", "1", "--work", work, "--doc", doc);
        output.WriteLine(stdout);
        output.WriteLine($"experiment: {clock.Elapsed.TotalSeconds:F0} s");
        Assert.True(exit == 0, error + stdout);

        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "results.json"))).RootElement.GetProperty("rows")
            .EnumerateArray().ToDictionary(r => r.GetProperty("key").GetString()!, r => r);
        Assert.Equal(["a", "b", "c", "d", "e", "f"], rows.Keys.Order());
        double Twin(string key) => rows[key].GetProperty("twin").GetDouble();

        // (a) pools frames without their order: every caption's clip and its reversal score equal, so 50 % exactly.
        Assert.Equal(rows["a"].GetProperty("twin_pairs").GetInt32(), rows["a"].GetProperty("twin_ties").GetInt32());
        Assert.Equal(50.0, Twin("a"));

        // (b) keeps the temporal branch zero: still blind to order.
        Assert.Equal(50.0, Twin("b"));

        // A trained temporal branch makes the model see order: its clip and reversed-clip scores are no longer all equal.
        Assert.True(rows["c"].GetProperty("twin_ties").GetInt32() < rows["c"].GetProperty("twin_pairs").GetInt32(), "(c) is still order-invariant");
        Assert.True(rows["d"].GetProperty("twin_ties").GetInt32() < rows["d"].GetProperty("twin_pairs").GetInt32(), "(d) is still order-invariant");

        // Video QA heads on (a) and (d): one row each with every question type of the generator, the test split's 48
        // questions counted. The reduced set (166 training questions) is too small for the heads to learn in a CI budget
        // (colour 0–43 % after 12 epochs, measured), so what they learn is asserted elsewhere: QaTrainingTests and
        // TrainCommandTests (they learn clip-dependent answers) and ShippedModelTests (the full run's heads name every
        // sample's colour on the embedded host).
        var qa = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "results.json"))).RootElement.GetProperty("qa")
            .EnumerateArray().ToDictionary(r => r.GetProperty("key").GetString()!, r => r.GetProperty("types").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!, t => t));
        Assert.Equal(["a", "d"], qa.Keys.Order());
        Assert.All(qa.Values, types => Assert.Equal(["all", "colour", "direction", "order", "shape", "size"], types.Keys.Order()));
        Assert.All(qa.Values, types => Assert.Equal(types.Where(t => t.Key != "all").Sum(t => t.Value.GetProperty("questions").GetInt32()), types["all"].GetProperty("questions").GetInt32()));
        Assert.True(File.Exists(Path.Combine(work, "models", "d-qa", "answer_decoder.onnx")), "(d) got no QA heads");

        string written = File.ReadAllText(doc);
        Assert.Contains(AblationReport.BeginMarker, written, StringComparison.Ordinal);
        Assert.Contains("**Video QA.**", written, StringComparison.Ordinal);
        Assert.Contains("| (d) | LiteVL: dynamic scaling |", written, StringComparison.Ordinal);
        Assert.Contains("```bash\nlitevl experiment temporal --reduced --jobs 3 --threads 1\n```", written, StringComparison.Ordinal);   // the command that reproduces it
        foreach (string v in new[] { "b", "c", "d" })
        {
            // Trained side by side, each variant's log lines stay whole and carry its name.
            Assert.Matches($@"(?m)^  \({v}\) epoch 1: validation R@1 ", stdout);
        }
        Assert.True(File.Exists(Path.Combine(_dir, "docs", "images", "temporal-ablation-reduced.svg")));
        Assert.True(File.Exists(Path.Combine(_dir, "docs", "images", "temporal-scaling-reduced.svg")));

        // The shipped default model on this run's held-out test split (never trained on: same seed, so the same
        // held-out combinations as the model's own training set).
        string shipped = ShippedModel.CopyWithGraphs(Path.Combine(_dir, "shipped"));
        using var media = new MediaToolchain();
        var config = Model.Config.ModelConfig.Load(shipped);
        var test = await TrainCommand.LoadAsync(TextWriter.Null, media, Path.Combine(work, "data", "test.jsonl"), null, Path.Combine(work, "frames"), config, CancellationToken.None);
        using var probe = new RetrievalProbe(shipped, test);
        var coarse = probe.Coarse();
        double chance = 100.0 / test.Clips.Count;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"shipped model on {test.Examples.Count} test captions / {test.Clips.Count} clips: R@1 {coarse.Retrieval.RecallAt1:F1} (chance {chance:F1}) R@5 {coarse.Retrieval.RecallAt5:F1} MdR {coarse.Retrieval.MedianRank} twin {coarse.Twin:F1} %"));
        // Measured: R@1 50.0, R@5 100.0, MdR 1.5, twins 70.0 % (order 6 of 6) on these 20 clips (half of them twins); the
        // models shipped before gave 40.0, 100.0, 2, 50.0 % and 30.0, 90.0, 2. A random ranking gives R@1 5, R@5 25 and
        // MdR 10.5, an order-invariant model 50 % twins; the thresholds sit about halfway, R@1 at four times chance.
        Assert.True(coarse.Retrieval.RecallAt1 >= 20, $"the shipped model's R@1 {coarse.Retrieval.RecallAt1:F1} is near chance ({chance:F1})");
        Assert.True(coarse.Retrieval.RecallAt5 >= 55, $"the shipped model's R@5 {coarse.Retrieval.RecallAt5:F1} is near chance ({5 * chance:F1})");
        Assert.True(coarse.Retrieval.MedianRank <= 5, $"the shipped model's median rank {coarse.Retrieval.MedianRank} is near chance ({(test.Clips.Count + 1) / 2.0})");
        Assert.True(coarse.Twin >= 60, $"the shipped model tells only {coarse.Twin:F1} % of the test clips from their reversal (order-invariant: 50 %)");
    }

    [Fact]
    public void UnknownPositions_AreRefusedBeforeAnythingIsRendered()
    {
        string work = Path.Combine(_dir, "refused");
        var (exit, _, error) = Cli.Run("experiment", "temporal", "--reduced", "--positions", "learned", "--work", work);
        Assert.NotEqual(0, exit);
        Assert.Contains("learned", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work));
    }

    [Fact]
    public void Jobs_BelowOne_AreRefusedBeforeAnythingIsRendered()
    {
        string work = Path.Combine(_dir, "no-jobs");
        var (exit, _, error) = Cli.Run("experiment", "temporal", "--reduced", "--jobs", "0", "--work", work);
        Assert.NotEqual(0, exit);
        Assert.Contains("--jobs 0", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
