using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// fp16 against fp32 where attention logits are large: heads 64 wide (BLIP's), queries and keys of magnitude ~40 per
/// component, so an unscaled q·kᵀ reaches ~10⁵ — past 65504, fp16's largest finite value — while q·(1/√d)·kᵀ stays near
/// 10⁴. Storing the unscaled product in fp16 (the old plain attention) turns those scores into inf and softmax into
/// NaN; scaling q first keeps every output finite and the embeddings at cosine ≥ 0.9999 to fp32.
/// </summary>
public sealed class Fp16ActivationScaleTests(ITestOutputHelper output)
{
    private const double MinCosine = 0.9999;

    /// <summary>Vision and text 128 wide with 2 heads of 64; key weights = query weights, both scaled by <paramref name="scale"/>.</summary>
    internal static ModelWeights LargeLogits(int seed, float scale = 180f)
    {
        var tiny = Presets.Get(Presets.Tiny);
        var config = tiny with
        {
            Version = "test",
            Vision = tiny.Vision with { HiddenSize = 128, NumHeads = 2, IntermediateSize = 512 },
            Text = tiny.Text with { HiddenSize = 128, NumHeads = 2, IntermediateSize = 512 },
        };
        var w = ModelWeights.Random(config, seed);
        int d = config.Vision.HiddenSize;
        for (int i = 0; i < config.Vision.NumLayers; i++)
        {
            foreach (string qkv in new[] { $"vision_model.encoder.layers.{i}.self_attn.qkv", $"vision_model.encoder.layers.{i}.temporal_attn.qkv" })
            {
                var weight = w[qkv + ".weight"].Data; // [3D, D]: q rows, then k rows, then v rows
                var bias = w[qkv + ".bias"].Data;
                for (int r = 0; r < d; r++)
                {
                    bias[d + r] = bias[r] *= scale;
                    for (int c = 0; c < d; c++)
                    {
                        weight[((d + r) * d) + c] = weight[(r * d) + c] *= scale;
                    }
                }
            }
        }

        for (int j = 0; j < config.Text.NumLayers; j++)
        {
            string self = $"text_encoder.encoder.layer.{j}.attention.self.";
            var q = w[self + "query.weight"].Data;
            var k = w[self + "key.weight"].Data;
            var qb = w[self + "query.bias"].Data;
            var kb = w[self + "key.bias"].Data;
            for (int i = 0; i < q.Length; i++)
            {
                k[i] = q[i] *= scale;
            }

            for (int i = 0; i < qb.Length; i++)
            {
                kb[i] = qb[i] *= scale;
            }
        }

        return w;
    }

    [Fact]
    public void LargeLogitWeights_UnscaledScoresReallyPassTheFp16Range()
    {
        // Layer 0 of the text encoder, computed by hand: h = LN(word + position), q = k = Wq·h + b, score(i,i) = |q_head|².
        var w = LargeLogits(81);
        var c = w.Config;
        int hdim = c.Text.HiddenSize, dh = hdim / c.Text.NumHeads;
        var words = w["text_encoder.embeddings.word_embeddings.weight"].Data;
        var positions = w["text_encoder.embeddings.position_embeddings.weight"].Data;
        var gamma = w["text_encoder.embeddings.LayerNorm.weight"].Data;
        var beta = w["text_encoder.embeddings.LayerNorm.bias"].Data;
        var wq = w["text_encoder.encoder.layer.0.attention.self.query.weight"].Data;
        var bq = w["text_encoder.encoder.layer.0.attention.self.query.bias"].Data;
        double max = 0;
        foreach (var (id, pos) in new[] { (101, 0), (2000, 1), (7592, 2), (102, 3) })
        {
            var x = Enumerable.Range(0, hdim).Select(i => (double)words[(id * hdim) + i] + positions[(pos * hdim) + i]).ToArray();
            double mean = x.Average(), var = x.Select(v => (v - mean) * (v - mean)).Average();
            var h = x.Select((v, i) => ((v - mean) / Math.Sqrt(var + c.Text.LayerNormEps) * gamma[i]) + beta[i]).ToArray();
            var q = Enumerable.Range(0, hdim).Select(o => bq[o] + Enumerable.Range(0, hdim).Sum(i => wq[(o * hdim) + i] * h[i])).ToArray();
            for (int head = 0; head < c.Text.NumHeads; head++)
            {
                max = Math.Max(max, q.Skip(head * dh).Take(dh).Sum(v => v * v));
            }
        }

        output.WriteLine($"largest unscaled q·k at layer 0: {max:F0} (fp16 max 65504); scaled by 1/√{dh}: {max / Math.Sqrt(dh):F0}");
        Assert.True(max > 65504, $"the test weights give q·k of only {max}: they do not exercise fp16 overflow");
        Assert.True(max / Math.Sqrt(dh) < 65504 / 4.0, "even the scaled scores are near the fp16 range");
    }

    [Theory]
    [InlineData(AttentionKind.Plain)]
    [InlineData(AttentionKind.Fused)]
    public void Fp16_LargeAttentionLogits_FiniteAndEmbeddingsWithinCosine(AttentionKind attention)
    {
        var w = LargeLogits(81);
        var c = w.Config;
        int s = c.Vision.ImageSize;
        var frames = TestModels.RandomFrames(82, 2 * c.NumFrames * s * s * 3);
        var (ids, mask) = TestModels.RandomTokens(83, 3, 35, lengths: [35, 8, 3]);
        foreach (var (graph, embedding, inputs) in new (string, string, (string, object, long[])[])[]
        {
            (LiteVLGraphBuilder.VideoEncoderName, "video_embedding", [("frames", frames, [2, c.NumFrames, s, s, 3])]),
            (LiteVLGraphBuilder.TextEncoderName, "text_embedding", [("input_ids", ids, [3, 35]), ("attention_mask", mask, [3, 35])]),
        })
        {
            var fp32 = Run(w, graph, Precision.Fp32, attention, inputs);
            var fp16 = Run(w, graph, Precision.Fp16, attention, inputs);
            foreach (var (name, (data, _)) in fp16)
            {
                Assert.True(data.All(float.IsFinite), $"{graph} {attention} fp16: {name} has inf or NaN");
                Assert.True(fp32[name].Data.All(float.IsFinite), $"{graph} fp32: {name} has inf or NaN");
            }

            var (e16, shape) = fp16[embedding];
            var e32 = fp32[embedding].Data;
            int rows = (int)shape[0], dim = (int)shape[1];
            for (int r = 0; r < rows; r++)
            {
                double cos = Cosine(e16.AsSpan(r * dim, dim), e32.AsSpan(r * dim, dim));
                output.WriteLine($"{graph} {attention} row {r}: cosine(fp16, fp32) = {cos:F7}");
                Assert.True(cos >= MinCosine, $"{graph} {attention} row {r}: cosine {cos} < {MinCosine}");
            }
        }
    }

    private static Dictionary<string, (float[] Data, long[] Shape)> Run(ModelWeights w, string graph, Precision precision, AttentionKind attention, (string, object, long[])[] inputs)
    {
        var builder = new LiteVLGraphBuilder(w, new GraphBuildOptions(precision, attention));
        using var runner = new GraphRunner(graph == LiteVLGraphBuilder.VideoEncoderName ? builder.VideoEncoder() : builder.TextEncoder());
        return runner.Run(inputs);
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }
}
