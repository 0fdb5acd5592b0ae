using LiteVL.Model.Config;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Tests.Reference;
using LiteVL.Model.Text;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Onnx;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Training;

/// <summary>A fine-tuned model directory, written as <c>litevl train --out</c> writes it, serves the weights it holds.</summary>
public sealed class TrainedDirectoryTests(ITestOutputHelper output) : IDisposable
{
    private const double Fp32Tolerance = 1e-4;

    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-trained-dir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TrainedDirectory_GraphsComputeItsWeights_MatchingTheReference()
    {
        var initial = TestModels.Tiny(seed: 8);
        var data = TrainingTestData.SyntheticSet(_dir, initial, clips: 4, captionsPerClip: 1);
        var options = new TrainerOptions { Params = ParameterGroup.All, Epochs = 2, Batch = 2, LearningRate = 1e-3, TemporalLearningRate = 1e-3, WarmupFraction = 0, Seed = 4 };
        string outDir = Path.Combine(_dir, "trained");
        TrainingOutcome outcome;
        using (var tokenizer = BlipTokenizer.CreateDefault())
        using (var trainer = new RetrievalTrainer(initial, data, tokenizer, options, outDir))
        {
            outcome = trainer.Run(CancellationToken.None);
        }

        // As TrainCommand writes --out: the trained weights under a new source, through ModelDirectory.Write.
        var trained = new ModelWeights(outcome.Weights.Config with { Source = $"litevl train: --params all, {outcome.Steps} steps" },
            outcome.Weights.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        var written = ModelDirectory.Write(trained, outDir);
        var config = ModelConfig.Load(outDir);
        Assert.Equal(written.Version, config.Version);
        Assert.NotEqual(initial.Config.Version, config.Version);

        var stored = ModelWeights.Load(config, Path.Combine(outDir, ModelWeights.FileName));
        foreach (var (name, w) in initial.Tensors)
        {
            Assert.False(w.Data.AsSpan().SequenceEqual(stored[name].Data), $"{name} in the trained directory equals the initial weights");
        }

        var reference = new ReferenceLiteVL(stored);
        var untrained = new ReferenceLiteVL(initial);
        var c = config;
        int s = c.Vision.ImageSize;

        // video_encoder
        int perVideo = c.NumFrames * s * s * 3;
        var frames = TestModels.RandomFrames(31, 2 * perVideo);
        using (var video = Graph(outDir, LiteVL.Model.Graphs.LiteVLGraphBuilder.VideoEncoderName))
        {
            var outputs = video.Run(("frames", frames, [2, c.NumFrames, s, s, 3]));
            int tokenSize = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
            for (int b = 0; b < 2; b++)
            {
                var clip = frames.AsSpan(b * perVideo, perVideo);
                var (tokens, embedding) = reference.EncodeVideo(clip);
                double dTokens = Compare.MaxAbsDiff(Compare.Slice(outputs["video_tokens"].Data, b, tokenSize), Compare.Flatten(tokens));
                double dEmb = Compare.MaxAbsDiff(Compare.Slice(outputs["video_embedding"].Data, b, c.EmbedDim), embedding);
                double dInitial = Compare.MaxAbsDiff(Compare.Slice(outputs["video_embedding"].Data, b, c.EmbedDim), untrained.EncodeVideo(clip).Embedding);
                output.WriteLine($"video {b}: max|Δ| tokens {dTokens:E2}, embedding {dEmb:E2}; embedding vs the initial weights {dInitial:E2}");
                Assert.True(dTokens <= Fp32Tolerance, $"video_tokens differ from the reference on the stored weights by {dTokens}");
                Assert.True(dEmb <= Fp32Tolerance, $"video_embedding differs from the reference on the stored weights by {dEmb}");
                Assert.True(dInitial > 100 * Fp32Tolerance, $"video_embedding is within {dInitial} of the untrained model's");
            }
        }

        // text_encoder
        const int length = 12;
        var (ids, mask) = TestModels.RandomTokens(32, 3, length, lengths: [12, 6, 3]);
        using (var text = Graph(outDir, LiteVL.Model.Graphs.LiteVLGraphBuilder.TextEncoderName))
        {
            var emb = text.Run(("input_ids", ids, [3, length]), ("attention_mask", mask, [3, length]))["text_embedding"].Data;
            for (int b = 0; b < 3; b++)
            {
                var rowIds = ids[(b * length)..((b + 1) * length)];
                var rowMask = mask[(b * length)..((b + 1) * length)];
                double d = Compare.MaxAbsDiff(Compare.Slice(emb, b, c.EmbedDim), reference.TextEmbedding(rowIds, rowMask));
                double dInitial = Compare.MaxAbsDiff(Compare.Slice(emb, b, c.EmbedDim), untrained.TextEmbedding(rowIds, rowMask));
                output.WriteLine($"text {b}: max|Δ| {d:E2}; vs the initial weights {dInitial:E2}");
                Assert.True(d <= Fp32Tolerance, $"text_embedding {b} differs from the reference on the stored weights by {d}");
                Assert.True(dInitial > 100 * Fp32Tolerance, $"text_embedding {b} is within {dInitial} of the untrained model's");
            }
        }

        // reranker
        const int k = 3;
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = BlipTokenizer.EncId;
        }

        var (videoTokens, textEmbedding) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 33);
        using (var reranker = Graph(outDir, LiteVL.Model.Graphs.LiteVLGraphBuilder.RerankerName))
        {
            var outputs = reranker.Run(
                ("input_ids", ids, [k, length]),
                ("attention_mask", mask, [k, length]),
                ("video_tokens", videoTokens, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
                ("text_embedding", textEmbedding, [k, c.EmbedDim]));
            for (int i = 0; i < k; i++)
            {
                var rowIds = ids[(i * length)..((i + 1) * length)];
                var rowMask = mask[(i * length)..((i + 1) * length)];
                var v = GraphFidelityTests.Unflatten(videoTokens, i, c);
                var q = textEmbedding.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray().Select(f => (double)f).ToArray();
                var (itm, frameWeights) = reference.Rerank(rowIds, rowMask, v, q);
                double dItm = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, i, 2), itm);
                double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, i, c.NumFrames), frameWeights);
                double dInitial = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, i, 2), untrained.Rerank(rowIds, rowMask, v, q).Itm);
                output.WriteLine($"reranker {i}: max|Δ| itm {dItm:E2}, frame weights {dW:E2}; itm vs the initial weights {dInitial:E2}");
                Assert.True(dItm <= Fp32Tolerance, $"itm_logits differ from the reference on the stored weights by {dItm}");
                Assert.True(dW <= Fp32Tolerance, $"frame_weights differ from the reference on the stored weights by {dW}");
                Assert.True(dInitial > 100 * Fp32Tolerance, $"itm_logits are within {dInitial} of the untrained model's");
            }
        }
    }

    /// <summary>The directory's fp32 graph file as ONNX Runtime loads it.</summary>
    private static GraphRunner Graph(string modelDir, string name) =>
        new(ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(modelDir, LiteVL.Model.Graphs.GraphFiles.FileName(name, LiteVL.Model.Graphs.Precision.Fp32)))));
}
