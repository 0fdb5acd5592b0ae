using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Reference;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// What the grounded encoder really attends to: with text-dependent pooling the memory is the T·P video tokens, then
/// T spatially pooled tokens (one per frame), then P temporally pooled ones (one per position) — T·P + T + P; with
/// <c>pooling</c> 0 (BLIP's zero-shot protocol) the T·P video tokens alone, the same result as a graph built without TDP.
/// </summary>
public sealed class ReRankerMemoryTests(ITestOutputHelper output)
{
    private static readonly long[] NoPooling = [0];

    [Fact]
    public void MemoryTokens_BlipBase_Are4616VideoPlus8Plus577Pooled()
    {
        var c = Presets.Get(Presets.BlipBase);
        int t = c.NumFrames, p = c.Vision.TokensPerFrame;
        Assert.Equal((8, 577), (t, p));
        Assert.Equal(4_616, t * p);
        Assert.Equal(5_201, (t * p) + t + p);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(0L)]
    public void PoolingGraph_Memory_IsVideoTokensThenFrameTokensThenPositionTokens(long pooling)
    {
        var weights = TestModels.Tiny(seed: 71);
        var c = weights.Config;
        int t = c.NumFrames, p = c.Vision.TokensPerFrame, d = c.Vision.HiddenSize;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, 2, seed: 72);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights).Pooling());
        var outputs = runner.Run(
            ("video_tokens", v, [2, t, p, d]),
            ("text_embedding", q, [2, c.EmbedDim]),
            (LiteVLGraphBuilder.PoolingInputName, new[] { pooling }, [1]));
        var (memory, shape) = outputs["memory"];
        long expected = pooling == 1 ? (t * p) + t + p : t * p;
        output.WriteLine($"pooling={pooling}: memory {string.Join("×", shape)} (T={t}, P={p})");
        Assert.Equal([2, expected, d], shape);

        var reference = new ReferenceLiteVL(weights).Pool(GraphFidelityTests.Unflatten(v, 1, c), q.AsSpan(c.EmbedDim, c.EmbedDim).ToArray().Select(x => (double)x).ToArray());
        var candidate = Compare.Slice(memory, 1, (int)expected * d);
        // Rows 0..T·P-1 are v itself, in frame-major order.
        Assert.Equal(0, Compare.MaxAbsDiff(candidate[..(t * p * d)], v.AsSpan(t * p * d, t * p * d)));
        if (pooling == 1)
        {
            Assert.Equal((t * p) + t + p, reference.Memory.Length);
            Assert.InRange(Compare.MaxAbsDiff(candidate, Compare.Flatten(reference.Memory)), 0, 1e-5);
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void Reranker_PoolingZero_EqualsAGraphBuiltWithoutTdp_AndTheReference(AttentionKind attention)
    {
        var on = TestModels.Tiny(seed: 73);
        var off = new Model.Weights.ModelWeights(on.Config with { Tdp = on.Config.Tdp with { Enabled = false } }, on.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        var c = on.Config;
        const int k = 3, length = 10;
        var (ids, mask) = TestModels.RandomTokens(74, k, length, lengths: [10, 4, 7]);
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = 30523;
        }

        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 75);
        var options = new GraphBuildOptions(Precision.Fp32, attention, attention);
        (string, object, long[])[] inputs =
        [
            ("input_ids", ids, [k, length]),
            ("attention_mask", mask, [k, length]),
            ("video_tokens", v, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", q, [k, c.EmbedDim]),
        ];
        using var tdpGraph = new GraphRunner(new LiteVLGraphBuilder(on, options).Reranker());
        using var plainGraph = new GraphRunner(new LiteVLGraphBuilder(off, options).Reranker());
        var asked = tdpGraph.Run([.. inputs, (LiteVLGraphBuilder.PoolingInputName, NoPooling, [1])])["itm_logits"].Data;
        var built = plainGraph.Run(inputs)["itm_logits"].Data;
        var withTdp = tdpGraph.Run(inputs)["itm_logits"].Data;
        var reference = new ReferenceLiteVL(off);
        double dRef = 0;
        for (int i = 0; i < k; i++)
        {
            var (itm, _) = reference.Rerank(ids[(i * length)..((i + 1) * length)], mask[(i * length)..((i + 1) * length)], GraphFidelityTests.Unflatten(v, i, c), q.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray().Select(x => (double)x).ToArray());
            dRef = Math.Max(dRef, Compare.MaxAbsDiff(Compare.Slice(asked, i, 2), itm));
        }

        double dBuilt = Compare.MaxAbsDiff(asked, built);
        double dTdp = Compare.MaxAbsDiff(asked, withTdp);
        output.WriteLine($"{attention}: pooling 0 vs TDP-off graph {dBuilt:E2}, vs reference without TDP {dRef:E2}; TDP on differs by {dTdp:E2}");
        Assert.True(dBuilt <= 1e-6, $"pooling 0 differs from a graph without TDP by {dBuilt}");
        Assert.True(dRef <= 1e-4, $"pooling 0 differs from the reference without TDP by {dRef}");
        Assert.True(dTdp > 1e-3, $"TDP on and off gave the same logits (Δ {dTdp}): the input is ignored");
    }
}
