using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl bench qa</c>: latency of one question through <see cref="VideoQa"/> as the API runs it (question encoder,
/// then the decoder runs of rank or generate) on a model directory with random QA heads, per preset.
/// </summary>
internal static class QaBenchmark
{
    private static readonly string[] Words =
    [
        "red", "green", "blue", "yellow", "white", "square", "circle", "triangle", "left", "right", "up", "down", "grows",
        "shrinks", "yes", "no", "a man", "a dog", "cooking", "running", "playing guitar", "two", "three", "outside", "inside",
    ];

    public static Command Create(TextWriter output)
    {
        var presets = new Option<string[]>("--preset") { Description = "Presets to measure (repeatable).", DefaultValueFactory = _ => [Presets.Tiny, Presets.BlipBase], AllowMultipleArgumentsPerToken = true };
        var candidates = new Option<int[]>("--candidates") { Description = "Sizes of the candidate list rank mode chooses from, k = the whole list (repeatable).", DefaultValueFactory = _ => [5, 128], AllowMultipleArgumentsPerToken = true };
        var beams = new Option<int[]>("--beams") { Description = "Beam counts of generate mode (repeatable; 1 = greedy).", DefaultValueFactory = _ => [1, 3], AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per row (at least 2 questions each).", DefaultValueFactory = _ => 3.0 };
        var device = CliOptions.Device();
        var cmd = new Command("qa", "Video QA latency per question, rank over k candidates and generate with beams, on random QA heads (a model directory is built per preset in a temporary folder).")
        {
            presets, candidates, beams, seconds, device,
        };
        cmd.SetAction(p =>
        {
            var runtime = CliOptions.Runtime(p.GetValue(device)!, fp16: false);
            output.WriteLine($"# litevl bench qa — {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {runtime.Device}");
            output.WriteLine();
            output.WriteLine("| preset | mode | candidates / beams | answer pieces | ms/question |");
            output.WriteLine("|---|---|---:|---:|---:|");
            foreach (string preset in p.GetValue(presets)!)
            {
                string dir = Directory.CreateTempSubdirectory("litevl-bench-qa-").FullName;
                try
                {
                    ModelDirectory.Init(Presets.Get(preset), seed: 1, dir, qa: true);
                    using var model = LiteVLModel.Open(dir, runtime);
                    var qa = new VideoQa(model);
                    var c = model.Config;
                    var rng = new Random(2);
                    var tokens = new float[c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize];
                    for (int i = 0; i < tokens.Length; i++)
                    {
                        tokens[i] = (float)((rng.NextDouble() * 4) - 2);
                    }

                    QaQuery[] query = [new("which way does the red circle move?", tokens)];
                    foreach (int n in p.GetValue(candidates)!)
                    {
                        var list = Enumerable.Range(0, n).Select(i => i < Words.Length ? Words[i] : $"{Words[i % Words.Length]} {Words[(i / Words.Length) % Words.Length]}").ToList();
                        double ms = Time(() => qa.Rank(query, list, n), p.GetValue(seconds));
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {preset} | rank | {n} | {list.Max(a => qa.TokenizeAnswer(a).Length) - 2} (longest) | {ms:F1} |"));
                        output.Flush();
                    }

                    foreach (int b in p.GetValue(beams)!)
                    {
                        double ms = Time(() => qa.Generate(query, b), p.GetValue(seconds));
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {preset} | generate | {b} | up to {c.Qa!.MaxAnswerLength} | {ms:F1} |"));
                        output.Flush();
                    }
                }
                finally
                {
                    Directory.Delete(dir, recursive: true);
                }
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>Milliseconds per call after a warm-up call (at least two timed calls, and at least <paramref name="seconds"/>).</summary>
    private static double Time(Action run, double seconds)
    {
        run();
        var watch = Stopwatch.StartNew();
        int runs = 0;
        while (runs < 2 || watch.Elapsed.TotalSeconds < seconds)
        {
            run();
            runs++;
        }

        return watch.Elapsed.TotalMilliseconds / runs;
    }
}
