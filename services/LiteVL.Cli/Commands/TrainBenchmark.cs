using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.Model.Text;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl bench train</c>: the cost of one fine-tuning step (forward + backward + AdamW update) against the forward-only
/// loss, measured on the same batches in the same process, for each preset × parameter group, on random weights and
/// synthetic batches, driving <see cref="RetrievalTrainer"/> itself. Each configuration runs in a child process so its
/// peak RSS is its own, and a child whose RSS passes <c>--memory-limit</c> is stopped. Prints figures; asserts nothing.
/// </summary>
internal static class TrainBenchmark
{
    /// <summary>The line a child prints its result on (JSON after the marker).</summary>
    private const string RowMarker = "@bench-train-row ";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly string[] Words =
    [
        "a", "man", "woman", "dog", "cat", "is", "playing", "guitar", "running", "on", "the", "beach", "red", "car", "drives",
        "down", "road", "people", "dance", "in", "kitchen", "cooking", "food", "child", "rides", "bike", "while", "talking",
    ];

    public static Command Create(TextWriter output)
    {
        var presets = new Option<string>("--presets") { Description = $"Comma-separated presets ({string.Join(", ", Presets.Names)}).", DefaultValueFactory = _ => $"{Presets.Tiny},{Presets.BlipBase}" };
        var groups = new Option<string>("--params") { Description = "Comma-separated parameter groups: temporal, heads, all.", DefaultValueFactory = _ => "temporal,all" };
        var batch = new Option<int>("--batch") { Description = "Examples per micro-batch (at least 2).", DefaultValueFactory = _ => 4 };
        var steps = new Option<int>("--steps") { Description = "Measured steps per configuration (the median is reported).", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured steps first (allocation, kernel selection).", DefaultValueFactory = _ => 1 };
        var frames = new Option<int?>("--frames") { Description = "Override the preset's frames per clip T (a reduced configuration; the table says so)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Override the preset's image size S (a multiple of the patch size; the table says so)." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per operator (0: one per core).", DefaultValueFactory = _ => 0 };
        var memoryLimit = new Option<double>("--memory-limit") { Description = "GiB of RSS a configuration may reach before it is stopped and reported as not fitting.", DefaultValueFactory = _ => 18 };
        var inProcess = new Option<bool>("--in-process") { Description = "Measure every configuration in this process (no memory limit; peak RSS is then cumulative)." };
        var json = new Option<string?>("--json") { Description = "Also write the rows to this JSON file." };
        var child = new Option<string?>("--child") { Description = "Measure one PRESET:PARAMS configuration and print its row (used by the parent run).", Hidden = true };
        var device = CliOptions.Device();
        var cmd = new Command("train", "Step (forward + backward + update) vs forward-only time, examples/s, peak RSS and the trainable share, per preset × parameter group.")
        {
            presets, groups, batch, steps, warmup, frames, imageSize, device, threads, memoryLimit, inProcess, json, child,
        };
        cmd.SetAction(p =>
        {
            var settings = new Settings(p.GetValue(batch), p.GetValue(steps), p.GetValue(warmup), p.GetValue(frames), p.GetValue(imageSize),
                p.GetValue(device)!, p.GetValue(threads));
            settings.Validate();
            if (p.GetValue(child) is { } one)
            {
                string[] parts = one.Split(':');
                var row = Measure(parts[0], ParameterGroups.Parse(parts[1]), settings, output);
                output.WriteLine(RowMarker + JsonSerializer.Serialize(row));
                return 0;
            }

            var presetNames = Split(p.GetValue(presets)!);
            foreach (string name in presetNames)
            {
                _ = Presets.Get(name);
            }

            var groupList = Split(p.GetValue(groups)!).Select(ParameterGroups.Parse).ToList();
            bool local = p.GetValue(inProcess);
            double limit = p.GetValue(memoryLimit);
            output.WriteLine($"# litevl bench train — {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {settings.Device}");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"batch {settings.Batch}, median of {settings.Steps} steps after {settings.Warmup} warm-up; {(local ? "all in this process (peak RSS cumulative)" : $"one child process per row, stopped above {limit:F0} GiB RSS")}"));
            output.WriteLine();
            var rows = new List<TrainBenchRow>();
            foreach (string preset in presetNames)
            {
                foreach (var group in groupList)
                {
                    output.WriteLine($"{preset} / {Name(group)}:");
                    output.Flush();
                    rows.Add(local ? Measure(preset, group, settings, output) : MeasureInChild(preset, group, settings, limit, output));
                }
            }

            output.WriteLine();
            WriteTable(rows, output);
            if (p.GetValue(json) is { } path)
            {
                File.WriteAllText(path, JsonSerializer.Serialize(new { date = DateTime.UtcNow, cores = Environment.ProcessorCount, ort = OrtEnv.Instance().GetVersionString(), settings.Batch, settings.Steps, settings.Warmup, rows }, Indented));
                output.WriteLine($"wrote {path}");
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>Builds the trainer for one configuration and times forward-only runs and full steps, interleaved.</summary>
    private static TrainBenchRow Measure(string preset, ParameterGroup group, Settings s, TextWriter o)
    {
        var config = Configure(preset, s);
        var row = new TrainBenchRow
        {
            Preset = preset, Params = Name(group), Frames = config.NumFrames, ImageSize = config.Vision.ImageSize,
            Reduced = config.NumFrames != Presets.Get(preset).NumFrames || config.Vision.ImageSize != Presets.Get(preset).Vision.ImageSize,
            Batch = s.Batch,
        };
        string work = Directory.CreateTempSubdirectory("litevl-bench-train-").FullName;
        try
        {
            var weights = ModelWeights.Random(config, seed: 1);
            var data = SyntheticData(config, s.Batch, work);
            var options = new TrainerOptions
            {
                Params = group, Batch = s.Batch, Epochs = s.Warmup + s.Steps, WarmupFraction = 0, Seed = 1,
                Device = RuntimeOptions.ParseDevice(s.Device), Threads = s.Threads,
            };
            using var tokenizer = BlipTokenizer.CreateDefault();
            using var trainer = new RetrievalTrainer(weights, data, tokenizer, options, Path.Combine(work, "out"));
            var plan = trainer.Plan;
            row = row with
            {
                Device = trainer.Device.ToString().ToLowerInvariant(), TrainableTensors = plan.TrainableTensors, TrainableParameters = plan.TrainableParameters,
                TotalParameters = plan.TotalParameters, GraphBuildSeconds = trainer.GraphBuildSeconds, TrainingGraphNodes = trainer.TrainingGraphNodes,
            };
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {plan.TrainableParameters:N0} of {plan.TotalParameters:N0} parameters trainable ({plan.TrainableShare * 100:F3}%); training graph of {trainer.TrainingGraphNodes:N0} nodes built in {trainer.GraphBuildSeconds:F1} s"));
            o.Flush();
            var forward = new List<double>();
            var graph = new List<double>();
            var update = new List<double>();
            for (int i = 0; i < s.Warmup + s.Steps; i++)
            {
                double f = trainer.ForwardOnly().Seconds;
                var report = trainer.TrainStep();
                var t = trainer.LastStepTiming!;
                bool measured = i >= s.Warmup;
                if (measured)
                {
                    forward.Add(f);
                    graph.Add(t.TrainingGraphSeconds);
                    update.Add(t.UpdateSeconds);
                }

                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {(measured ? $"step {i - s.Warmup + 1}/{s.Steps}" : $"warm-up {i + 1}/{s.Warmup}")}: forward {f * 1000:F1} ms, step {t.ComputeSeconds * 1000:F1} ms (training graph {t.TrainingGraphSeconds * 1000:F1} + update {t.UpdateSeconds * 1000:F1}), loss {report.Loss:F4}"));
                o.Flush();
            }

            var steps = graph.Zip(update, (a, b) => a + b).ToList();
            return row with
            {
                ForwardMs = Median(forward) * 1000, TrainingGraphMs = Median(graph) * 1000, UpdateMs = Median(update) * 1000, StepMs = Median(steps) * 1000,
                PeakRssGiB = PeakRssBytes() / (double)(1L << 30),
            };
        }
        catch (Exception e) when (e is OnnxRuntimeException or OutOfMemoryException)
        {
            o.WriteLine($"  failed: {FirstLine(e.Message)}");
            return row with { PeakRssGiB = PeakRssBytes() / (double)(1L << 30), Error = $"{(e is OutOfMemoryException ? "out of memory" : "ONNX Runtime failed")}: {FirstLine(e.Message)}" };
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Runs one configuration in a child process (this CLI with the hidden <c>--child</c>), relaying its progress and stopping it above <paramref name="limitGiB"/>.</summary>
    private static TrainBenchRow MeasureInChild(string preset, ParameterGroup group, Settings s, double limitGiB, TextWriter o)
    {
        var start = ChildStart();
        foreach (string a in new[] { "bench", "train", "--child", $"{preset}:{Name(group)}", "--batch", Invariant(s.Batch), "--steps", Invariant(s.Steps), "--warmup", Invariant(s.Warmup), "--device", s.Device, "--threads", Invariant(s.Threads) })
        {
            start.ArgumentList.Add(a);
        }

        if (s.Frames is { } t)
        {
            start.ArgumentList.Add("--frames");
            start.ArgumentList.Add(Invariant(t));
        }

        if (s.ImageSize is { } size)
        {
            start.ArgumentList.Add("--image-size");
            start.ArgumentList.Add(Invariant(size));
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        TrainBenchRow? row = null;
        var errors = new List<string>();
        var gate = new object();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (gate)
            {
                if (e.Data.StartsWith(RowMarker, StringComparison.Ordinal))
                {
                    row = JsonSerializer.Deserialize<TrainBenchRow>(e.Data[RowMarker.Length..]);
                }
                else
                {
                    o.WriteLine(e.Data);
                    o.Flush();
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                lock (gate)
                {
                    errors.Add(e.Data);
                    o.WriteLine("  ! " + e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        long limit = (long)(limitGiB * (1L << 30));
        long highest = 0;
        bool stopped = false;
        while (!process.WaitForExit(200))
        {
            try
            {
                process.Refresh();
                highest = Math.Max(highest, process.WorkingSet64);
            }
            catch (InvalidOperationException)
            {
                break;   // exited between the wait and the refresh
            }

            if (highest > limit)
            {
                process.Kill(entireProcessTree: true);
                stopped = true;
            }
        }

        process.WaitForExit();
        var config = Configure(preset, s);
        var failed = new TrainBenchRow
        {
            Preset = preset, Params = Name(group), Frames = config.NumFrames, ImageSize = config.Vision.ImageSize, Batch = s.Batch,
            Reduced = config.NumFrames != Presets.Get(preset).NumFrames || config.Vision.ImageSize != Presets.Get(preset).Vision.ImageSize,
            PeakRssGiB = highest / (double)(1L << 30),
        };
        lock (gate)
        {
            if (stopped)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  stopped: RSS passed the {limitGiB:F0} GiB limit"));
                return (row ?? failed) with { Error = string.Create(CultureInfo.InvariantCulture, $"does not fit: RSS passed --memory-limit {limitGiB:F0} GiB, stopped") };
            }

            if (row is not null)
            {
                return row;
            }

            string why = process.ExitCode is 137 or -9 ? "killed (out of memory?)" : $"exit code {process.ExitCode}";
            return failed with { Error = $"{why}{(errors.Count > 0 ? ": " + errors[^1] : string.Empty)}" };
        }
    }

    private static void WriteTable(List<TrainBenchRow> rows, TextWriter o)
    {
        o.WriteLine("| preset | T × S² | params | trainable share | batch | graph nodes | build s | forward ms | step ms (graph + update) | step / forward | examples/s | peak RSS |");
        o.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            string shape = string.Create(CultureInfo.InvariantCulture, $"{r.Frames} × {r.ImageSize}²{(r.Reduced ? " (reduced)" : string.Empty)}");
            string share = r.TotalParameters > 0 ? string.Create(CultureInfo.InvariantCulture, $"{r.TrainableShare * 100:F3}%") : "—";
            if (r.Error is not null)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Preset} | {shape} | {r.Params} | {share} | {r.Batch} | {(r.TrainingGraphNodes > 0 ? r.TrainingGraphNodes.ToString("N0", CultureInfo.InvariantCulture) : "—")} | {(r.GraphBuildSeconds > 0 ? r.GraphBuildSeconds.ToString("F1", CultureInfo.InvariantCulture) : "—")} | not measured: {r.Error} | — | — | — | {r.PeakRssGiB:F2} GiB |"));
                continue;
            }

            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Preset} | {shape} | {r.Params} | {share} | {r.Batch} | {r.TrainingGraphNodes:N0} | {r.GraphBuildSeconds:F1} | {r.ForwardMs:F1} | {r.StepMs:F1} ({r.TrainingGraphMs:F1} + {r.UpdateMs:F1}) | {r.Ratio:F2}x | {r.ExamplesPerSecond:F2} | {r.PeakRssGiB:F2} GiB |"));
        }

        o.WriteLine();
        o.WriteLine("step = training graph (forward + backward + gradient accumulation) + AdamW update graph; forward = the same loss graph without differentiation, on the same batches. Goal: step ≤ 3× forward (PyTorch: backward ≈ 2× forward).");
    }

    private static ModelConfig Configure(string preset, Settings s)
    {
        var c = Presets.Get(preset) with { Version = "bench" };
        int frames = s.Frames ?? c.NumFrames;
        c = c with
        {
            NumFrames = frames,
            MaxFrames = Math.Max(c.MaxFrames, frames),
            Vision = c.Vision with { ImageSize = s.ImageSize ?? c.Vision.ImageSize },
        };
        c.Validate("--frames/--image-size");
        return c;
    }

    /// <summary>One clip per example (so every batch has negatives), random frames, captions of random words; the frame files are what the trainer reads.</summary>
    private static TrainingSet SyntheticData(ModelConfig c, int batch, string dir)
    {
        var rng = new Random(7);
        var frames = new byte[c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3];
        var clips = new List<TrainingClip>();
        var examples = new List<TrainingExample>();
        for (int i = 0; i < batch; i++)
        {
            rng.NextBytes(frames);
            string file = Path.Combine(dir, $"clip{i}.frames");
            File.WriteAllBytes(file, frames);
            clips.Add(new TrainingClip($"clip{i}", [file]));
            int words = rng.Next(5, 15);
            examples.Add(new TrainingExample(i + 1, i, string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[rng.Next(Words.Length)]))));
        }

        return new TrainingSet(clips, examples);
    }

    /// <summary>This CLI again: the apphost next to the assembly, else <c>dotnet</c> with the assembly.</summary>
    private static ProcessStartInfo ChildStart()
    {
        string assembly = typeof(TrainBenchmark).Assembly.Location;
        string apphost = Path.Combine(Path.GetDirectoryName(assembly)!, OperatingSystem.IsWindows() ? "litevl.exe" : "litevl");
        if (File.Exists(apphost))
        {
            return new ProcessStartInfo(apphost);
        }

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        start.ArgumentList.Add(assembly);
        return start;
    }

    /// <summary>The process's peak resident set (VmHWM on Linux).</summary>
    private static long PeakRssBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            foreach (string line in File.ReadLines(status))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Name(ParameterGroup group) => group.ToString().ToLowerInvariant();

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private sealed record Settings(int Batch, int Steps, int Warmup, int? Frames, int? ImageSize, string Device, int Threads)
    {
        public void Validate()
        {
            if (Batch < 2 || Steps < 1 || Warmup < 0)
            {
                throw new ArgumentException($"--batch must be at least 2 (not {Batch}), --steps at least 1 (not {Steps}), --warmup at least 0 (not {Warmup}).");
            }
        }
    }
}

/// <summary>One row of <c>litevl bench train</c> (also what a child process hands back as JSON).</summary>
internal sealed record TrainBenchRow
{
    public string Preset { get; init; } = string.Empty;

    public string Params { get; init; } = string.Empty;

    public int Frames { get; init; }

    public int ImageSize { get; init; }

    /// <summary>True when --frames or --image-size changed the preset's shape.</summary>
    public bool Reduced { get; init; }

    public int Batch { get; init; }

    public string Device { get; init; } = string.Empty;

    public int TrainableTensors { get; init; }

    public long TrainableParameters { get; init; }

    public long TotalParameters { get; init; }

    public double TrainableShare => TotalParameters > 0 ? (double)TrainableParameters / TotalParameters : 0;

    public double GraphBuildSeconds { get; init; }

    public int TrainingGraphNodes { get; init; }

    public double ForwardMs { get; init; }

    public double TrainingGraphMs { get; init; }

    public double UpdateMs { get; init; }

    /// <summary>Training graph + update graph (the median of their sums).</summary>
    public double StepMs { get; init; }

    public double? Ratio => ForwardMs > 0 ? StepMs / ForwardMs : null;

    public double? ExamplesPerSecond => StepMs > 0 ? Batch * 1000 / StepMs : null;

    public double PeakRssGiB { get; init; }

    /// <summary>Why the row has no timings (did not fit, failed); null when measured.</summary>
    public string? Error { get; init; }
}
