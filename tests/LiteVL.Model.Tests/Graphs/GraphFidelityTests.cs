using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Reference;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>Every graph against the plain C# implementation of docs/model.md on random tiny weights: max |Δ| ≤ 1e-4 in fp32.</summary>
public sealed class GraphFidelityTests(ITestOutputHelper output)
{
    private const double Fp32Tolerance = 1e-4;

    [Theory]
    [InlineData(ClsMode.PerFrame, AttentionKind.Fused)]
    [InlineData(ClsMode.PerFrame, AttentionKind.Plain)]
    [InlineData(ClsMode.Shared, AttentionKind.Fused)]
    [InlineData(ClsMode.Shared, AttentionKind.Plain)]
    public void VideoEncoder_RandomTinyWeights_MatchesReference(ClsMode mode, AttentionKind attention)
    {
        var weights = TestModels.Tiny(seed: 11, c => c with { ClsMode = mode });
        var c = weights.Config;
        int s = c.Vision.ImageSize;
        int perVideo = c.NumFrames * s * s * 3;
        const int batch = 2;
        var frames = TestModels.RandomFrames(5, batch * perVideo);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).VideoEncoder());
        var outputs = runner.Run(("frames", frames, [batch, c.NumFrames, s, s, 3]));
        var reference = new ReferenceLiteVL(weights);
        int tokenSize = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        for (int b = 0; b < batch; b++)
        {
            var (tokens, embedding) = reference.EncodeVideo(frames.AsSpan(b * perVideo, perVideo));
            double dTokens = Compare.MaxAbsDiff(Compare.Slice(outputs["video_tokens"].Data, b, tokenSize), Compare.Flatten(tokens));
            double dEmb = Compare.MaxAbsDiff(Compare.Slice(outputs["video_embedding"].Data, b, c.EmbedDim), embedding);
            output.WriteLine($"{mode} {attention} video {b}: max|Δ| tokens {dTokens:E2}, embedding {dEmb:E2}");
            Assert.True(dTokens <= Fp32Tolerance, $"video_tokens differ by {dTokens}");
            Assert.True(dEmb <= Fp32Tolerance, $"video_embedding differs by {dEmb}");
        }

        Assert.Equal([batch, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize], outputs["video_tokens"].Shape);
    }

    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void ImageEncoder_RandomTinyWeights_MatchesReference(AttentionKind attention)
    {
        var weights = TestModels.Tiny(seed: 12);
        var c = weights.Config;
        int s = c.Vision.ImageSize;
        var frames = TestModels.RandomFrames(6, 3 * s * s * 3);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).ImageEncoder());
        var outputs = runner.Run(("frames", frames, [3, s, s, 3]));
        var reference = new ReferenceLiteVL(weights);
        int size = c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        for (int b = 0; b < 3; b++)
        {
            var (tokens, embedding) = reference.EncodeImage(frames.AsSpan(b * s * s * 3, s * s * 3));
            Assert.InRange(Compare.MaxAbsDiff(Compare.Slice(outputs["image_tokens"].Data, b, size), Compare.Flatten(tokens)), 0, Fp32Tolerance);
            Assert.InRange(Compare.MaxAbsDiff(Compare.Slice(outputs["image_embedding"].Data, b, c.EmbedDim), embedding), 0, Fp32Tolerance);
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void TextEncoder_PaddedBatch_MatchesReference(AttentionKind attention)
    {
        var weights = TestModels.Tiny(seed: 13);
        var c = weights.Config;
        const int batch = 3;
        const int length = 35;
        var (ids, mask) = TestModels.RandomTokens(3, batch, length, lengths: [35, 7, 2]);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).TextEncoder());
        var outputs = runner.Run(("input_ids", ids, [batch, length]), ("attention_mask", mask, [batch, length]));
        var reference = new ReferenceLiteVL(weights);
        for (int b = 0; b < batch; b++)
        {
            var expected = reference.TextEmbedding(ids[(b * length)..((b + 1) * length)], mask[(b * length)..((b + 1) * length)]);
            double d = Compare.MaxAbsDiff(Compare.Slice(outputs["text_embedding"].Data, b, c.EmbedDim), expected);
            output.WriteLine($"{attention} text {b}: max|Δ| {d:E2}");
            Assert.True(d <= Fp32Tolerance, $"text_embedding {b} differs by {d}");
        }
    }

    [Theory]
    [InlineData(true, AttentionKind.Fused, AttentionKind.Fused, ClsMode.PerFrame)]
    [InlineData(true, AttentionKind.Fused, AttentionKind.Plain, ClsMode.PerFrame)]
    [InlineData(true, AttentionKind.Plain, AttentionKind.Plain, ClsMode.PerFrame)]
    [InlineData(false, AttentionKind.Fused, AttentionKind.Fused, ClsMode.PerFrame)]
    [InlineData(false, AttentionKind.Plain, AttentionKind.Plain, ClsMode.PerFrame)]
    [InlineData(true, AttentionKind.Fused, AttentionKind.Fused, ClsMode.Shared)]
    public void Reranker_RandomCandidates_MatchesReference(bool tdp, AttentionKind attention, AttentionKind crossAttention, ClsMode mode)
    {
        var weights = TestModels.Tiny(seed: 14, c => c with { ClsMode = mode, Tdp = new TdpConfig { Enabled = tdp, Tau = 0.07 } });
        var c = weights.Config;
        const int k = 3;
        const int length = 12;
        var (ids, mask) = TestModels.RandomTokens(4, k, length, lengths: [12, 5, 9]);
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = 30523; // [ENC]
        }

        var (videoTokens, textEmbedding) = RandomRerankInputs(c, k, seed: 21);
        var options = new GraphBuildOptions(Precision.Fp32, attention, crossAttention);
        Assert.Equal(crossAttention, options.EffectiveCrossAttention);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, options).Reranker());
        var outputs = runner.Run(
            ("input_ids", ids, [k, length]),
            ("attention_mask", mask, [k, length]),
            ("video_tokens", videoTokens, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", textEmbedding, [k, c.EmbedDim]));
        var reference = new ReferenceLiteVL(weights);
        for (int i = 0; i < k; i++)
        {
            var (itm, frameWeights) = reference.Rerank(
                ids[(i * length)..((i + 1) * length)],
                mask[(i * length)..((i + 1) * length)],
                Unflatten(videoTokens, i, c),
                textEmbedding.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray().Select(f => (double)f).ToArray());
            double dItm = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, i, 2), itm);
            double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, i, c.NumFrames), frameWeights);
            output.WriteLine($"tdp={tdp} {attention}/{crossAttention} {mode} candidate {i}: itm {string.Join(", ", itm.Select(v => v.ToString("F4")))} max|Δ| itm {dItm:E2}, frame weights {dW:E2}");
            Assert.True(dItm <= Fp32Tolerance, $"itm_logits differ by {dItm}");
            Assert.True(dW <= Fp32Tolerance, $"frame_weights differ by {dW}");
        }
    }

    [Fact]
    public void CrossAttentionDefault_IsPlainForFp32AndFusedForFp16()
    {
        var weights = TestModels.Tiny(seed: 16);
        static int CountFused(Onnx.ModelProto m) => m.Graph.Node.Count(n => n.OpType == "MultiHeadAttention");
        int layers = weights.Config.Text.NumLayers;
        Assert.Equal(layers, CountFused(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32)).Reranker()));
        Assert.Equal(2 * layers, CountFused(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp16)).Reranker()));
        Assert.Equal(0, CountFused(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp16, AttentionKind.Plain)).Reranker()));
    }

    [Fact]
    public void Reference_WrongTemporalScaling_IsDetected()
    {
        // The comparison must be able to fail: the same graph against a reference whose scaling α differs by 0.3.
        var weights = TestModels.Tiny(seed: 15);
        var c = weights.Config;
        int s = c.Vision.ImageSize;
        var frames = TestModels.RandomFrames(8, c.NumFrames * s * s * 3);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights).VideoEncoder());
        var actual = runner.Run(("frames", frames, [1, c.NumFrames, s, s, 3]))["video_tokens"].Data;
        var alpha = weights["vision_model.encoder.layers.1.temporal_scaling"].Data;
        alpha[3] += 0.3f;
        var (tokens, _) = new ReferenceLiteVL(weights).EncodeVideo(frames);
        double d = Compare.MaxAbsDiff(actual, Compare.Flatten(tokens));
        output.WriteLine($"max|Δ| with a perturbed α: {d:E2}");
        Assert.True(d > 100 * Fp32Tolerance, $"a changed temporal scaling moved the tokens by only {d}");
    }

    internal static (float[] VideoTokens, float[] TextEmbedding) RandomRerankInputs(ModelConfig c, int k, int seed)
    {
        var rng = new Random(seed);
        var v = new float[k * c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)((rng.NextDouble() * 4) - 2);
        }

        var q = new float[k * c.EmbedDim];
        for (int i = 0; i < k; i++)
        {
            var row = Enumerable.Range(0, c.EmbedDim).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var n = ReferenceLiteVL.Normalize(row);
            for (int e = 0; e < c.EmbedDim; e++)
            {
                q[(i * c.EmbedDim) + e] = (float)n[e];
            }
        }

        return (v, q);
    }

    internal static double[][][] Unflatten(float[] v, int candidate, ModelConfig c)
    {
        int t = c.NumFrames;
        int p = c.Vision.TokensPerFrame;
        int d = c.Vision.HiddenSize;
        int baseIndex = candidate * t * p * d;
        return Enumerable.Range(0, t).Select(ti => Enumerable.Range(0, p).Select(pi =>
            Enumerable.Range(0, d).Select(di => (double)v[baseIndex + (((ti * p) + pi) * d) + di]).ToArray()).ToArray()).ToArray();
    }
}
