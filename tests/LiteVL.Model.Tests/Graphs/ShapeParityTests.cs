using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Reference;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// Graphs against the reference on shapes where a swapped dimension cannot hide: vision width ≠ text width and
/// different head counts (the tiny preset has 64/64 and 4/4), and blip-large's cross-attention (1024-wide memory into
/// 768-wide text) with its layers reduced.
/// </summary>
public sealed class ShapeParityTests(ITestOutputHelper output)
{
    private const double Fp32Tolerance = 1e-4;

    private static readonly int[] Lengths = [12, 5, 9];

    /// <summary>Vision 96 wide with 3 heads (32 per head), text 64 wide with 4 heads (16 per head), different MLP widths.</summary>
    internal static ModelWeights Asymmetric(int seed, Func<ModelConfig, ModelConfig>? change = null)
    {
        var tiny = Presets.Get(Presets.Tiny);
        var config = tiny with
        {
            Preset = "test-asymmetric",
            Version = "test",
            Vision = tiny.Vision with { HiddenSize = 96, NumHeads = 3, IntermediateSize = 384 },
            Text = tiny.Text with { HiddenSize = 64, NumHeads = 4, IntermediateSize = 192 },
        };
        Assert.NotEqual(config.Vision.HiddenSize, config.Text.HiddenSize);
        Assert.NotEqual(config.Vision.NumHeads, config.Text.NumHeads);
        Assert.NotEqual(config.Vision.HiddenSize / config.Vision.NumHeads, config.Text.HiddenSize / config.Text.NumHeads);
        return ModelWeights.Random(change is null ? config : change(config), seed, kernelStd: 0.08f);
    }

    [Theory]
    [InlineData(ClsMode.PerFrame, AttentionKind.Fused)]
    [InlineData(ClsMode.PerFrame, AttentionKind.Plain)]
    [InlineData(ClsMode.Shared, AttentionKind.Fused)]
    [InlineData(ClsMode.Shared, AttentionKind.Plain)]
    public void Asymmetric_VideoEncoder_MatchesReference(ClsMode mode, AttentionKind attention)
    {
        var weights = Asymmetric(61, c => c with { ClsMode = mode });
        var c = weights.Config;
        int s = c.Vision.ImageSize;
        int perVideo = c.NumFrames * s * s * 3;
        var frames = TestModels.RandomFrames(62, 2 * perVideo);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).VideoEncoder());
        var outputs = runner.Run(("frames", frames, [2, c.NumFrames, s, s, 3]));
        var reference = new ReferenceLiteVL(weights);
        int tokenSize = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        for (int b = 0; b < 2; b++)
        {
            var (tokens, embedding) = reference.EncodeVideo(frames.AsSpan(b * perVideo, perVideo));
            double dTokens = Compare.MaxAbsDiff(Compare.Slice(outputs["video_tokens"].Data, b, tokenSize), Compare.Flatten(tokens));
            double dEmb = Compare.MaxAbsDiff(Compare.Slice(outputs["video_embedding"].Data, b, c.EmbedDim), embedding);
            output.WriteLine($"96/3 vs 64/4 {mode} {attention} video {b}: max|Δ| tokens {dTokens:E2}, embedding {dEmb:E2}");
            Assert.True(dTokens <= Fp32Tolerance, $"video_tokens differ by {dTokens}");
            Assert.True(dEmb <= Fp32Tolerance, $"video_embedding differs by {dEmb}");
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void Asymmetric_TextEncoder_MatchesReference(AttentionKind attention)
    {
        var weights = Asymmetric(63);
        var c = weights.Config;
        const int length = 35;
        var (ids, mask) = TestModels.RandomTokens(64, 3, length, lengths: [35, 9, 2]);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).TextEncoder());
        var outputs = runner.Run(("input_ids", ids, [3, length]), ("attention_mask", mask, [3, length]));
        var reference = new ReferenceLiteVL(weights);
        for (int b = 0; b < 3; b++)
        {
            var expected = reference.TextEmbedding(ids[(b * length)..((b + 1) * length)], mask[(b * length)..((b + 1) * length)]);
            double d = Compare.MaxAbsDiff(Compare.Slice(outputs["text_embedding"].Data, b, c.EmbedDim), expected);
            output.WriteLine($"96/3 vs 64/4 {attention} text {b}: max|Δ| {d:E2}");
            Assert.True(d <= Fp32Tolerance, $"text_embedding {b} differs by {d}");
        }
    }

    [Theory]
    [InlineData(true, AttentionKind.Fused, AttentionKind.Fused)]
    [InlineData(true, AttentionKind.Fused, AttentionKind.Plain)]
    [InlineData(true, AttentionKind.Plain, AttentionKind.Plain)]
    [InlineData(false, AttentionKind.Fused, AttentionKind.Fused)]
    [InlineData(false, AttentionKind.Plain, AttentionKind.Plain)]
    public void Asymmetric_Reranker_MatchesReference(bool tdp, AttentionKind attention, AttentionKind crossAttention)
    {
        var weights = Asymmetric(65, c => c with { Tdp = c.Tdp with { Enabled = tdp } });
        CompareReranker(weights, new GraphBuildOptions(Precision.Fp32, attention, crossAttention), k: 3, $"96/3 vs 64/4 tdp={tdp} {attention}/{crossAttention}");
    }

    /// <summary>
    /// blip-large's grounded encoder: vision_proj 1024 → 256 and cross-attention key/value projections 1024 → 768 over
    /// 1024-wide video tokens, into BERT-base (768 wide, 12 heads); 2 text layers and 64×64 frames (P = 17) keep it short.
    /// </summary>
    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void BlipLargeShaped_GroundedEncoder_MatchesReference(AttentionKind crossAttention)
    {
        var large = Presets.Get(Presets.BlipLarge);
        Assert.Equal((1024, 16, 768, 12), (large.Vision.HiddenSize, large.Vision.NumHeads, large.Text.HiddenSize, large.Text.NumHeads));
        var config = large with
        {
            Version = "test",
            Vision = large.Vision with { NumLayers = 1, ImageSize = 64 },
            Text = large.Text with { NumLayers = 2 },
        };
        var weights = ModelWeights.Random(config, seed: 66);
        CompareReranker(weights, new GraphBuildOptions(Precision.Fp32, AttentionKind.Fused, crossAttention), k: 2, $"blip-large-shaped {crossAttention} cross-attention");
    }

    private void CompareReranker(ModelWeights weights, GraphBuildOptions options, int k, string label)
    {
        var c = weights.Config;
        const int length = 12;
        var (ids, mask) = TestModels.RandomTokens(67, k, length, lengths: Lengths[..k]);
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = 30523; // [ENC]
        }

        var (videoTokens, textEmbedding) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 68);
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
                GraphFidelityTests.Unflatten(videoTokens, i, c),
                textEmbedding.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray().Select(f => (double)f).ToArray());
            double dItm = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, i, 2), itm);
            double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, i, c.NumFrames), frameWeights);
            output.WriteLine($"{label} candidate {i}: itm {string.Join(", ", itm.Select(v => v.ToString("F4")))} max|Δ| itm {dItm:E2}, frame weights {dW:E2}");
            Assert.True(dItm <= Fp32Tolerance, $"itm_logits differ by {dItm}");
            Assert.True(dW <= Fp32Tolerance, $"frame_weights differ by {dW}");
        }
    }
}
