using System.Text.Json;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Text;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Training;

/// <summary>The training loop on synthetic frame files (the CLI tests train from real videos through ffmpeg).</summary>
public sealed class TrainerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-trainer-").FullName;
    private readonly BlipTokenizer _tokenizer = BlipTokenizer.CreateDefault();

    public void Dispose()
    {
        _tokenizer.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Overfitting8Clips_ReachesTrainingRecallAt1Of100Percent()
    {
        var weights = TestModels.Tiny(seed: 3, kernelStd: 0.02f);
        var data = SyntheticSet(weights, clips: 8, captionsPerClip: 1);
        double before = TrainingRecallAt1(weights, data);
        var options = new TrainerOptions { Params = ParameterGroup.All, Epochs = 40, Batch = 4, LearningRate = 1e-3, TemporalLearningRate = 1e-3, Seed = 1 };
        using var trainer = new RetrievalTrainer(weights, data, _tokenizer, options, Path.Combine(_dir, "out"));
        var losses = new List<double>();
        trainer.StepCompleted += r => losses.Add(r.Loss);
        var outcome = trainer.Run(CancellationToken.None);
        double after = TrainingRecallAt1(outcome.Weights, data);
        output.WriteLine($"steps {outcome.Steps}, loss {losses[0]:F3} → {losses[^1]:F3}, training R@1 {before:P0} → {after:P0}, temp {outcome.FinalTemperature:F4}");
        Assert.True(outcome.Completed);
        Assert.Equal(80, outcome.Steps);
        Assert.Equal(1.0, after);
        Assert.True(losses[^1] < losses[0] / 2, $"loss {losses[0]} → {losses[^1]}");
    }

    [Fact]
    public void Twins_ShareEveryMicroBatch_AndTheOrderStaysSeededAndComplete()
    {
        var weights = TestModels.Tiny(seed: 6);
        var plain = SyntheticSet(weights, clips: 12, captionsPerClip: 1);
        // Clips 2k and 2k+1 are twins of each other.
        var twinned = plain with { Clips = [.. plain.Clips.Select((c, i) => c with { Twin = i ^ 1 })] };
        var options = new TrainerOptions { Params = ParameterGroup.Temporal, Epochs = 1, Batch = 4, Seed = 9 };
        using var trainer = new RetrievalTrainer(weights, twinned, _tokenizer, options, Path.Combine(_dir, "twins"));
        using var plainTrainer = new RetrievalTrainer(weights, plain, _tokenizer, options, Path.Combine(_dir, "plain"));
        foreach (int epoch in new[] { 0, 1, 2 })
        {
            var order = trainer.EpochOrder(epoch);
            Assert.Equal(Enumerable.Range(0, 12), order.Order());
            for (int start = 0; start < order.Length; start += 4)
            {
                var clips = order.Skip(start).Take(4).Select(e => twinned.Examples[e].Clip).ToHashSet();
                Assert.All(clips, c => Assert.Contains(c ^ 1, clips));
            }
        }

        Assert.NotEqual(trainer.EpochOrder(0), trainer.EpochOrder(1));
        var without = plainTrainer.EpochOrder(0);
        Assert.Contains(Enumerable.Range(0, 3), b => without.Skip(4 * b).Take(4).Any(e => !without.Skip(4 * b).Take(4).Contains(e ^ 1)));
    }

    [Theory]
    [InlineData(ParameterGroup.Temporal, "vision_model.embeddings.time_embedding", "vision_proj.weight")]
    [InlineData(ParameterGroup.Vision, "vision_proj.weight", "text_proj.weight")]
    [InlineData(ParameterGroup.Blip, "text_proj.weight", "vision_model.embeddings.time_embedding")]
    public void TrainingAGroup_ChangesItsWeights_AndLeavesEveryOtherBitIdentical(ParameterGroup group, string inside, string outside)
    {
        var weights = TestModels.Tiny(seed: 4);
        var selected = ParameterGroups.Select(weights, group).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(inside, selected);
        Assert.DoesNotContain(outside, selected);
        Assert.Equal(group, ParameterGroups.Parse(group.ToString().ToLowerInvariant()));

        var data = SyntheticSet(weights, clips: 4, captionsPerClip: 1);
        var options = new TrainerOptions { Params = group, Epochs = 2, Batch = 2, LearningRate = 1e-3, Seed = 2 };
        using var trainer = new RetrievalTrainer(weights, data, _tokenizer, options, Path.Combine(_dir, "out"));
        var trained = trainer.Run(CancellationToken.None).Weights;
        int changed = 0;
        foreach (var (name, w) in weights.Tensors)
        {
            bool same = w.Data.AsSpan().SequenceEqual(trained[name].Data);
            if (selected.Contains(name))
            {
                changed += same ? 0 : 1;
            }
            else
            {
                Assert.True(same, $"{name} changed although only --params {group.ToString().ToLowerInvariant()} was trained");
            }
        }

        Assert.False(weights[inside].Data.AsSpan().SequenceEqual(trained[inside].Data), $"{inside} did not change");
        Assert.True(changed >= selected.Count * 3 / 4, $"only {changed} of the {selected.Count} tensors of the group changed");
    }

    [Fact]
    public void TextLearningRate_MovesTheTextSideByItsShare_AndTheVideoSideAtTheFullRate()
    {
        var weights = TestModels.Tiny(seed: 7);
        var data = SyntheticSet(weights, clips: 4, captionsPerClip: 1);
        // Adam's step is about lr per element whatever the gradient, so after 4 steps the largest change of a weight is
        // about 4·lr: with the text side at 1/100 of lr, its largest change must be about 100 times smaller.
        var options = new TrainerOptions { Params = ParameterGroup.All, Epochs = 2, Batch = 2, LearningRate = 1e-3, TextLearningRate = 1e-5, WarmupFraction = 0, Seed = 3 };
        Assert.Equal(0.01, options.TextLearningRateScale, 12);
        using var trainer = new RetrievalTrainer(weights, data, _tokenizer, options, Path.Combine(_dir, "text-lr"));
        var trained = trainer.Run(CancellationToken.None).Weights;

        double Largest(Func<string, bool> which) => weights.Tensors.Where(kv => which(kv.Key) && !ParameterGroups.IsTemporal(kv.Key))
            .Max(kv => kv.Value.Data.Zip(trained[kv.Key].Data, (a, b) => Math.Abs(a - b)).Max());
        double text = Largest(ParameterGroups.IsText), vision = Largest(ParameterGroups.IsVision);
        output.WriteLine($"largest change: text side {text:E2}, video side {vision:E2}");
        Assert.InRange(text, 1e-6, 5e-5);
        Assert.InRange(vision, 1e-3, 5e-3);
        Assert.Contains(weights.Tensors.Keys, n => ParameterGroups.IsText(n) && n.StartsWith("text_encoder.encoder.layer.0.crossattention.", StringComparison.Ordinal));
        Assert.False(ParameterGroups.IsText("vision_proj.weight") || ParameterGroups.IsText("itm_head.weight") || ParameterGroups.IsText(TrainingGraphs.Temperature));
    }

    [Fact]
    public void TimeCode_GivesEveryFrameSlotItsOwnSineCosineRow_AndTouchesNothingElse()
    {
        var weights = TestModels.Tiny(seed: 8).WithImportedTemporalBranch();
        var coded = weights.WithSinCosTimeEmbedding();
        var time = coded["vision_model.embeddings.time_embedding"];
        int slots = (int)time.Shape[0], dim = (int)time.Shape[1];
        Assert.Equal(0f, time.Data[0]);                                            // slot 0: sin 0
        Assert.Equal(1f, time.Data[1]);                                            // cos 0
        Assert.Equal((float)Math.Sin(3), time.Data[3 * dim], 6);                   // slot 3, channel 0: sin(3 · 100⁰)
        Assert.Equal((float)Math.Cos(3 * Math.Pow(100, -2.0 / dim)), time.Data[(3 * dim) + 3], 6);
        var rows = Enumerable.Range(0, slots).Select(t => time.Data.AsSpan(t * dim, dim).ToArray()).ToList();
        Assert.Equal(slots, rows.Select(r => string.Join(',', r)).Distinct().Count());
        foreach (var (name, w) in weights.Tensors.Where(kv => kv.Key != "vision_model.embeddings.time_embedding"))
        {
            Assert.True(w.Data.AsSpan().SequenceEqual(coded[name].Data), $"{name} changed");
        }

        Assert.Throws<ArgumentException>(() => new TrainerOptions { Params = ParameterGroup.Blip, TimeCode = true }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainerOptions { TextLearningRate = 0 }.Validate());
    }

    [Fact]
    public void Resume_EqualsAnUninterruptedRun()
    {
        var weights = TestModels.Tiny(seed: 5);
        var data = SyntheticSet(weights, clips: 6, captionsPerClip: 2);
        var options = new TrainerOptions { Params = ParameterGroup.Heads, Epochs = 4, Batch = 3, Accumulate = 2, LearningRate = 1e-3, Seed = 9 };

        string straight = Path.Combine(_dir, "straight");
        using (var t = new RetrievalTrainer(weights, data, _tokenizer, options, straight))
        {
            t.Run(CancellationToken.None);
        }

        string resumed = Path.Combine(_dir, "resumed");
        using (var t = new RetrievalTrainer(weights, data, _tokenizer, options, resumed))
        {
            using var cts = new CancellationTokenSource();
            t.StepCompleted += r =>
            {
                if (r.Step == 3)
                {
                    cts.Cancel();                       // as Ctrl-C: the run stops after this step with a checkpoint
                }
            };
            var partial = t.Run(cts.Token);
            Assert.False(partial.Completed);
            Assert.Equal(3, partial.Steps);
        }

        ModelWeights final;
        using (var t = new RetrievalTrainer(weights, data, _tokenizer, options, resumed))
        {
            Assert.True(t.TryResume());
            Assert.Equal(3, t.Step);
            final = t.Run(CancellationToken.None).Weights;
        }

        var a = Losses(Path.Combine(straight, RetrievalTrainer.LogFileName));
        var b = Losses(Path.Combine(resumed, RetrievalTrainer.LogFileName));
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(8, a.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6, $"step {i + 1}: loss {a[i]} uninterrupted, {b[i]} resumed");
        }

        using var again = new RetrievalTrainer(weights, data, _tokenizer, options, Path.Combine(_dir, "again"));
        var reference = again.Run(CancellationToken.None).Weights;
        foreach (string name in ParameterGroups.Select(weights, ParameterGroup.Heads))
        {
            Assert.True(reference[name].Data.AsSpan().SequenceEqual(final[name].Data), $"{name} differs between a resumed and an uninterrupted run");
        }
    }

    [Fact]
    public void ForeignCheckpoint_IsRefusedWithAClearMessage()
    {
        var weights = TestModels.Tiny(seed: 6);
        var data = SyntheticSet(weights, clips: 4, captionsPerClip: 1);
        string dir = Path.Combine(_dir, "out");
        using (var t = new RetrievalTrainer(weights, data, _tokenizer, new TrainerOptions { Epochs = 1, Batch = 2, Seed = 1 }, dir))
        {
            t.Run(CancellationToken.None);
        }

        using var other = new RetrievalTrainer(weights, data, _tokenizer, new TrainerOptions { Epochs = 1, Batch = 2, Seed = 2 }, dir);
        var e = Assert.Throws<InvalidOperationException>(() => other.TryResume());
        Assert.Contains("--seed 1", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Coarse text-to-video R@1 over the training captions with the serving graphs built from <paramref name="weights"/>.</summary>
    internal static double TrainingRecallAt1(ModelWeights weights, TrainingSet data)
    {
        var builder = new LiteVLGraphBuilder(weights);
        using var video = new GraphRunner(builder.VideoEncoder());
        using var text = new GraphRunner(builder.TextEncoder());
        using var tokenizer = BlipTokenizer.CreateDefault();
        var c = weights.Config;
        var frames = data.Clips.SelectMany(cl => File.ReadAllBytes(cl.SegmentFrameFiles[0])).ToArray();
        var videoEmb = video.Run(("frames", frames, [(long)data.Clips.Count, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3]))["video_embedding"].Data;
        var tokens = tokenizer.Encode(data.Examples.Select(e => e.Caption).ToList());
        var textEmb = text.Run(("input_ids", tokens.InputIds, [(long)data.Examples.Count, tokens.Length]), ("attention_mask", tokens.AttentionMask, [(long)data.Examples.Count, tokens.Length]))["text_embedding"].Data;
        int e = c.EmbedDim, hits = 0;
        for (int q = 0; q < data.Examples.Count; q++)
        {
            int best = Enumerable.Range(0, data.Clips.Count).MaxBy(v => Enumerable.Range(0, e).Sum(k => textEmb[(q * e) + k] * videoEmb[(v * e) + k]));
            hits += best == data.Examples[q].Clip ? 1 : 0;
        }

        return (double)hits / data.Examples.Count;
    }

    private TrainingSet SyntheticSet(ModelWeights weights, int clips, int captionsPerClip) => TrainingTestData.SyntheticSet(_dir, weights, clips, captionsPerClip);

    private static List<double> Losses(string log) =>
        File.ReadLines(log).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToList();
}
