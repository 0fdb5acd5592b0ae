using System.Text.Json;
using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using LiteVL.Testing;

namespace LiteVL.Cli.Tests;

/// <summary><c>litevl train</c> end to end: real clips through ffmpeg, bad lines, the written model directory.</summary>
public sealed class TrainCommandTests : IDisposable
{
    private static readonly string[] Colours = ["red", "blue", "green", "yellow", "white", "orange"];
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Train_TemporalOnly_ReportsBadLinesAndWritesALoadableNewModelVersion()
    {
        string model = Path.Combine(_dir, "model");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "2", "--out", model).Exit);
        (ModelConfig.Load(model) with { ItcTemperature = 0.02 }).Save(model);   // as a pre-trained model carries it
        var lines = new List<string>();
        for (int i = 0; i < Colours.Length; i++)
        {
            MakeClip(Path.Combine(_dir, $"clip{i}.mp4"), Colours[i], i);
            lines.Add(JsonSerializer.Serialize(new { video = $"clip{i}.mp4", caption = $"a {Colours[i]} square moving" }));
        }

        lines.Insert(2, JsonSerializer.Serialize(new { video = "missing.mp4", caption = "nothing here" }));   // line 3
        lines.Insert(4, "{ not json");                                                                         // line 5
        lines.Add(JsonSerializer.Serialize(new { video = "clip1.mp4", caption = "  " }));                     // line 9
        File.WriteAllText(Path.Combine(_dir, "bad.mp4"), "this is not a video");
        lines.Add(JsonSerializer.Serialize(new { video = "bad.mp4", caption = "a broken file" }));           // line 10
        string data = Path.Combine(_dir, "train.jsonl");
        File.WriteAllLines(data, lines);

        string outDir = Path.Combine(_dir, "out");
        var (exit, output, error) = Cli.Run("train", "--model", model, "--data", data, "--val", data, "--out", outDir,
            "--params", "temporal", "--epochs", "2", "--batch", "3", "--lr", "1e-3", "--seed", "5");
        Assert.True(exit == 0, output + error);
        Assert.Contains("train.jsonl:3: skipped: video", output, StringComparison.Ordinal);
        Assert.Contains("missing.mp4 does not exist", output, StringComparison.Ordinal);
        Assert.Contains("train.jsonl:5: not valid JSON", output, StringComparison.Ordinal);
        Assert.Contains("train.jsonl:9: \"caption\" must be a non-empty string", output, StringComparison.Ordinal);
        Assert.Contains("train.jsonl:10: skipped: video", output, StringComparison.Ordinal);
        Assert.Contains("6 examples of 6 videos", output, StringComparison.Ordinal);
        Assert.Contains("epoch 2: validation R@1", output, StringComparison.Ordinal);

        var before = ModelConfig.Load(model);
        var after = ModelConfig.Load(outDir);
        Assert.NotEqual(before.Version, after.Version);
        foreach (string file in new[] { "config.json", "weights.safetensors", "vocab.txt", "video_encoder.onnx", "text_encoder.onnx", "reranker.onnx", RetrievalTrainer.LogFileName })
        {
            Assert.True(File.Exists(Path.Combine(outDir, file)), $"{file} missing");
        }

        var log = File.ReadAllLines(Path.Combine(outDir, RetrievalTrainer.LogFileName)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, log.Count);                                           // 6 examples / batch 3 = 2 steps × 2 epochs
        Assert.Equal([1, 2, 3, 4], log.Select(l => l.GetProperty("step").GetInt32()));
        Assert.Equal([1, 1, 2, 2], log.Select(l => l.GetProperty("epoch").GetInt32()));
        Assert.All(log, l => Assert.True(double.IsFinite(l.GetProperty("loss").GetDouble()) && l.GetProperty("lr").GetDouble() > 0));
        // The ITC temperature starts where the model's training left it (not BLIP's 0.07), and the new model carries its own.
        Assert.InRange(log[0].GetProperty("temp").GetDouble(), 0.019, 0.021);
        Assert.NotNull(after.ItcTemperature);
        Assert.InRange(after.ItcTemperature.Value, 0.015, 0.025);
        Assert.Contains($"| temperature | {after.ItcTemperature.Value.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)} |", output, StringComparison.Ordinal);

        var w0 = ModelWeights.Load(before, Path.Combine(model, ModelWeights.FileName));
        var w1 = ModelWeights.Load(after, Path.Combine(outDir, ModelWeights.FileName));
        int changed = 0;
        foreach (var (name, w) in w0.Tensors)
        {
            bool same = w.Data.AsSpan().SequenceEqual(w1[name].Data);
            Assert.True(same || ParameterGroups.IsTemporal(name), $"{name} changed with --params temporal");
            changed += same ? 0 : 1;
        }

        Assert.True(changed > 0, "no temporal weight changed");

        // The directory is a model the rest of the platform loads as it is.
        using var runtime = Model.Runtime.LiteVLModel.Open(outDir);
        Assert.Equal(after.Version, runtime.Config.Version);
    }

    [Fact]
    public void Train_ParamsVision_ChangesTheVideoSideOnly()
    {
        string model = Path.Combine(_dir, "model");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "3", "--out", model).Exit);
        string data = ThreeClipSet();
        string outDir = Path.Combine(_dir, "out");
        var (exit, output, error) = Cli.Run("train", "--model", model, "--data", data, "--out", outDir,
            "--params", "vision", "--epochs", "1", "--batch", "3", "--lr", "1e-3", "--seed", "1");
        Assert.True(exit == 0, output + error);

        var w0 = ModelWeights.Load(ModelConfig.Load(model), Path.Combine(model, ModelWeights.FileName));
        var w1 = ModelWeights.Load(ModelConfig.Load(outDir), Path.Combine(outDir, ModelWeights.FileName));
        var changed = w0.Tensors.Where(t => !t.Value.Data.AsSpan().SequenceEqual(w1[t.Key].Data)).Select(t => t.Key).ToList();
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.True(ParameterGroups.IsVision(name), $"{name} changed with --params vision"));
        Assert.Contains(changed, name => name.StartsWith("vision_model.encoder.layers.0.self_attn", StringComparison.Ordinal));
    }

    [Fact]
    public void Train_TimeInitSinCos_StartsAnImportedModelFromTheCode_AndRefusesATrainedTimeEmbedding()
    {
        string data = ThreeClipSet();

        // A random-initialised model has a trained-looking (non-zero) time embedding: the code would overwrite it.
        string random = Path.Combine(_dir, "random");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "3", "--out", random).Exit);
        var (refused, _, why) = Cli.Run("train", "--model", random, "--data", data, "--out", Path.Combine(_dir, "no"), "--time-init", "sincos", "--epochs", "1", "--batch", "3");
        Assert.Equal(1, refused);
        Assert.Contains("--time-init sincos would overwrite this model's trained time embedding", why, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "no", ModelWeights.FileName)));

        // As an import leaves it (the temporal branch zero): training starts from the code.
        string imported = Path.Combine(_dir, "imported");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--image", "--frames", "4", "--seed", "3", "--out", imported).Exit);
        string outDir = Path.Combine(_dir, "out");
        var (exit, output, error) = Cli.Run("train", "--model", imported, "--data", data, "--out", outDir, "--time-init", "sincos",
            "--params", "all", "--lr-text", "1e-5", "--epochs", "1", "--batch", "3", "--lr", "1e-4", "--lr-temporal", "1e-4", "--seed", "1");
        Assert.True(exit == 0, output + error);
        var time = ModelWeights.Load(ModelConfig.Load(outDir), Path.Combine(outDir, ModelWeights.FileName))["vision_model.embeddings.time_embedding"];
        int dim = (int)time.Shape[1];
        Assert.InRange(time.Data[1], 0.99, 1.01);                          // slot 0, channel 1: cos 0 = 1 (one step of 1e-4 from it)
        Assert.InRange(time.Data[2 * dim], Math.Sin(2) - 0.01, Math.Sin(2) + 0.01);

        // The QA trainer does not use them: refused, not ignored.
        var (qa, _, qaError) = Cli.Run("train", "--task", "qa", "--model", imported, "--data", data, "--out", Path.Combine(_dir, "qa"), "--lr-text", "1e-5");
        Assert.NotEqual(0, qa);
        Assert.Contains("--lr-text does not apply to --task qa", qaError, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_MinTemp_FloorsTheItcTemperature_AndOutOfRangeOrQaIsRefused()
    {
        string data = ThreeClipSet();
        string model = Path.Combine(_dir, "model");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "3", "--out", model).Exit);
        string outDir = Path.Combine(_dir, "out");
        var (exit, output, error) = Cli.Run("train", "--model", model, "--data", data, "--out", outDir, "--min-temp", "0.1", "--epochs", "1", "--batch", "3", "--lr", "1e-3", "--seed", "1");
        Assert.True(exit == 0, output + error);
        Assert.Contains("temp 0.1", output, StringComparison.Ordinal);                 // started at the floor, not the tiny model's 0.07
        Assert.True(ModelConfig.Load(outDir).ItcTemperature >= 0.1, $"saved temperature {ModelConfig.Load(outDir).ItcTemperature} is below --min-temp 0.1");

        var (tooHigh, _, why) = Cli.Run("train", "--model", model, "--data", data, "--out", Path.Combine(_dir, "no"), "--min-temp", "0.6");
        Assert.Equal(1, tooHigh);
        Assert.Contains("--min-temp must be in [0.001, 0.5)", why, StringComparison.Ordinal);
        var (qa, _, qaError) = Cli.Run("train", "--task", "qa", "--model", model, "--data", data, "--out", Path.Combine(_dir, "qa"), "--min-temp", "0.02");
        Assert.NotEqual(0, qa);
        Assert.Contains("--min-temp does not apply to --task qa", qaError, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_ExistingCheckpointWithoutResume_IsRefused()
    {
        string outDir = Path.Combine(_dir, "out");
        Directory.CreateDirectory(Path.Combine(outDir, RetrievalTrainer.CheckpointDirectory));
        File.WriteAllText(Path.Combine(outDir, RetrievalTrainer.CheckpointDirectory, "state.json"), "{}");
        string model = Path.Combine(_dir, "model");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--out", model).Exit);
        File.WriteAllText(Path.Combine(_dir, "d.jsonl"), "{\"video\": \"x.mp4\", \"caption\": \"x\"}\n");
        var (exit, _, error) = Cli.Run("train", "--model", model, "--data", Path.Combine(_dir, "d.jsonl"), "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains("--resume", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainQa_LearnsTheColourQuestion_ReportsBadLines_AndEvalQaScoresTheNewModel()
    {
        // Six clips of six background colours; the question about the colour is answered by training the QA heads of a
        // retrieval model that has none (random tiny weights: the answers must come from training, not from the start).
        string model = Path.Combine(_dir, "model");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "4", "--out", model).Exit);
        var lines = new List<string>();
        for (int i = 0; i < Colours.Length; i++)
        {
            MakeClip(Path.Combine(_dir, $"clip{i}.mp4"), Colours[i], i);
            lines.Add(JsonSerializer.Serialize(new { video = $"clip{i}.mp4", question = "what colour is the background?", answer = Colours[i], type = "colour" }));
            lines.Add(JsonSerializer.Serialize(new { video = $"clip{i}.mp4", question = "is it moving?", answer = "yes", type = "motion" }));
        }

        lines.Insert(1, JsonSerializer.Serialize(new { video = "clip0.mp4", question = "what colour?" }));         // line 2: no answer
        lines.Insert(3, JsonSerializer.Serialize(new { video = "missing.mp4", question = "what?", answer = "x" })); // line 4
        string data = Path.Combine(_dir, "qa.jsonl");
        File.WriteAllLines(data, lines);

        string outDir = Path.Combine(_dir, "qa-model");
        var (exit, output, error) = Cli.Run("train", "--task", "qa", "--model", model, "--data", data, "--val", data, "--out", outDir,
            "--epochs", "80", "--batch", "4", "--lr", "3e-3", "--seed", "1");
        Assert.True(exit == 0, output + error);
        Assert.Contains("qa.jsonl:2: \"answer\" must be a non-empty string", output, StringComparison.Ordinal);
        Assert.Contains("qa.jsonl:4: skipped: video", output, StringComparison.Ordinal);
        Assert.Contains("12 questions about 6 videos", output, StringComparison.Ordinal);
        Assert.Contains("heads started from the grounded encoder", output, StringComparison.Ordinal);
        Assert.Contains("| colour | 6 |", output, StringComparison.Ordinal);

        var before = ModelConfig.Load(model);
        var after = ModelConfig.Load(outDir);
        Assert.Null(before.Qa);
        Assert.NotNull(after.Qa);
        Assert.True(File.Exists(Path.Combine(outDir, "answer_decoder.onnx")));
        var w0 = ModelWeights.Load(before, Path.Combine(model, ModelWeights.FileName));
        var w1 = ModelWeights.Load(after, Path.Combine(outDir, ModelWeights.FileName));
        Assert.All(w0.Tensors, kv => Assert.True(kv.Value.Data.AsSpan().SequenceEqual(w1[kv.Key].Data), $"{kv.Key} changed: QA training must leave retrieval alone"));

        var (evalExit, evalOutput, evalError) = Cli.Run("eval", "--task", "qa", "--model", outDir, "--dataset", data);
        Assert.True(evalExit == 0, evalOutput + evalError);
        var colourRow = evalOutput.Split('\n').Single(l => l.StartsWith("| colour |", StringComparison.Ordinal));
        double rankAccuracy = double.Parse(colourRow.Split('|')[3].Trim().TrimEnd('%').Trim(), System.Globalization.CultureInfo.InvariantCulture);
        // Chance is 1 in 6; runs are not bit-identical under load (ONNX Runtime's threaded reductions), so the bar is 4 of 6.
        Assert.True(rankAccuracy >= 4.0 / 6 * 100 - 0.1, $"the trained model ranks the colour right in {rankAccuracy} % of the training clips:\n{evalOutput}");

        var (noQaExit, _, noQaError) = Cli.Run("eval", "--task", "qa", "--model", model, "--dataset", data);
        Assert.Equal(1, noQaExit);
        Assert.Contains("no video QA heads", noQaError, StringComparison.Ordinal);
    }

    /// <summary>Three clips of different colours, one caption each, as train.jsonl in the test folder.</summary>
    private string ThreeClipSet()
    {
        var lines = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            MakeClip(Path.Combine(_dir, $"clip{i}.mp4"), Colours[i], i);
            lines.Add(JsonSerializer.Serialize(new { video = $"clip{i}.mp4", caption = $"a {Colours[i]} square moving" }));
        }

        string data = Path.Combine(_dir, "train.jsonl");
        File.WriteAllLines(data, lines);
        return data;
    }

    private static void MakeClip(string path, string colour, int speed)
    {
        var run = Programs.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i",
            $"color=c={colour}:s=96x96:d=2,drawbox=x=mod(t*{20 * (speed + 1)}\\,80):y=30:w=16:h=16:color=black:t=fill", "-r", "10", "-pix_fmt", "yuv420p", path]);
        Assert.True(run.ExitCode == 0, run.Error);
    }
}
