using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Reference;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// The text-dependent pooling of docs/model.md ("Text-dependent pooling") through the builder's <c>Pooling()</c> graph: a case small enough to check by
/// hand, the softmax axes, TDP on/off, the frame weights following the query, and the temperature τ.
/// </summary>
public sealed class TextDependentPoolingTests(ITestOutputHelper output)
{
    private const double HandTolerance = 1e-6;

    private const double SumTolerance = 1e-5;

    // e/(e+1) and 1/(e+1): softmax(1, 0).
    private const double A = 0.7310585786300049;
    private const double B = 0.2689414213699951;

    [Fact]
    public void Pooling_HandCheckableCase_MatchesHandComputedValues()
    {
        // T = 2 frames, P = 2 tokens per frame (CLS + one 16×16 patch of a 16×16 image), D = E = 2, vision_proj = identity, τ = 1.
        var weights = HandWeights(frames: 2);
        float[] v =
        [
            1, 0,   2, 0,   // frame 0: v00 = (1,0), v01 = (2,0)
            0, 1,   0, 3,   // frame 1: v10 = (0,1), v11 = (0,3)
        ];
        float[] q = [1, 0];
        var o = RunPooling(weights, v, q, candidates: 1);

        // s = <l2norm(v[t,p]), q>/τ = [[1, 1], [0, 0]].
        // temporal weights, per position p over t: softmax(1, 0) = (A, B) for both p; stored [K,T,P].
        double[] temporal = [A, A, B, B];
        // spatial weights, per frame over its N = 1 patch: 1.
        double[] spatial = [1, 1];
        // frame weights: softmax over t of s[t,0] = softmax(1, 0).
        double[] frame = [A, B];
        // memory = [v00, v01, v10, v11 ; f0 = v01, f1 = v11 ; g0 = A·v00 + B·v10, g1 = A·v01 + B·v11].
        double[] memory =
        [
            1, 0,
            2, 0,
            0, 1,
            0, 3,
            2, 0,
            0, 3,
            0.7310585786300049, 0.2689414213699951,
            1.4621171572600098, 0.8068242641099853,
        ];

        Assert.Equal([1L, 8, 2], o["memory"].Shape);
        Assert.Equal([1L, 2], o["frame_weights"].Shape);
        Assert.Equal([1L, 2, 2], o["temporal_weights"].Shape);
        Assert.Equal([1L, 2, 1], o["spatial_weights"].Shape);
        AssertClose(memory, o["memory"].Data, "memory");
        AssertClose(frame, o["frame_weights"].Data, "frame_weights");
        AssertClose(temporal, o["temporal_weights"].Data, "temporal_weights");
        AssertClose(spatial, o["spatial_weights"].Data, "spatial_weights");
    }

    [Fact]
    public void Pooling_RandomInputs_WeightsSumToOneAlongTheirAxisOnly()
    {
        var weights = TestModels.Tiny(seed: 61);
        var c = weights.Config;
        int t = c.NumFrames;
        int p = c.Vision.TokensPerFrame;
        int n = c.Vision.NumPatches;
        const int k = 3;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 62);
        var o = RunPooling(weights, v, q, k);
        var temporal = o["temporal_weights"].Data; // [K,T,P]
        var spatial = o["spatial_weights"].Data;   // [K,T,N]
        var frame = o["frame_weights"].Data;       // [K,T]
        Assert.Equal([k, t, p], o["temporal_weights"].Shape);
        Assert.Equal([k, t, n], o["spatial_weights"].Shape);
        Assert.Equal([k, t], o["frame_weights"].Shape);
        Assert.All(temporal.Concat(spatial).Concat(frame), w => Assert.InRange(w, 0f, 1f));

        double worstRight = 0;
        double bestWrongTemporal = 0;
        double bestWrongSpatial = 0;
        for (int ki = 0; ki < k; ki++)
        {
            // temporal: over t for every position p (right); over p for a frame (wrong).
            for (int pi = 0; pi < p; pi++)
            {
                worstRight = Math.Max(worstRight, Math.Abs(Enumerable.Range(0, t).Sum(ti => (double)temporal[(((ki * t) + ti) * p) + pi]) - 1));
            }

            for (int ti = 0; ti < t; ti++)
            {
                bestWrongTemporal = Math.Max(bestWrongTemporal, Math.Abs(Enumerable.Range(0, p).Sum(pi => (double)temporal[(((ki * t) + ti) * p) + pi]) - 1));
            }

            // spatial: over n for every frame t (right); over t for a patch (wrong).
            for (int ti = 0; ti < t; ti++)
            {
                worstRight = Math.Max(worstRight, Math.Abs(Enumerable.Range(0, n).Sum(ni => (double)spatial[(((ki * t) + ti) * n) + ni]) - 1));
            }

            for (int ni = 0; ni < n; ni++)
            {
                bestWrongSpatial = Math.Max(bestWrongSpatial, Math.Abs(Enumerable.Range(0, t).Sum(ti => (double)spatial[(((ki * t) + ti) * n) + ni]) - 1));
            }

            // frame weights: over t.
            worstRight = Math.Max(worstRight, Math.Abs(Enumerable.Range(0, t).Sum(ti => (double)frame[(ki * t) + ti]) - 1));
        }

        output.WriteLine($"largest |Σ − 1| along the softmax axes {worstRight:E2}; along the other axis: temporal {bestWrongTemporal:F3}, spatial {bestWrongSpatial:F3}");
        Assert.True(worstRight <= SumTolerance, $"weights sum to 1 ± {worstRight} along their softmax axis");
        Assert.True(bestWrongTemporal > 0.1, "temporal weights also sum to 1 over positions: the softmax may run over the wrong axis");
        Assert.True(bestWrongSpatial > 0.1, "spatial weights also sum to 1 over frames: the softmax may run over the wrong axis");
    }

    [Fact]
    public void Pooling_RandomInputs_MatchesReference()
    {
        var weights = TestModels.Tiny(seed: 63);
        var c = weights.Config;
        int t = c.NumFrames;
        int p = c.Vision.TokensPerFrame;
        const int k = 2;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 64);
        var o = RunPooling(weights, v, q, k);
        var reference = new ReferenceLiteVL(weights);
        int memorySize = ((t * p) + t + p) * c.Vision.HiddenSize;
        for (int ki = 0; ki < k; ki++)
        {
            var qi = Compare.Slice(q, ki, c.EmbedDim).ToArray().Select(x => (double)x).ToArray();
            var (memory, frame, temporal, spatial) = reference.Pool(GraphFidelityTests.Unflatten(v, ki, c), qi);
            // The reference keeps temporal weights [P][T]; the graph [T,P].
            var temporalTp = Enumerable.Range(0, t).SelectMany(ti => Enumerable.Range(0, p).Select(pi => temporal[pi][ti])).ToList();
            double dMemory = Compare.MaxAbsDiff(Compare.Slice(o["memory"].Data, ki, memorySize), Compare.Flatten(memory));
            double dFrame = Compare.MaxAbsDiff(Compare.Slice(o["frame_weights"].Data, ki, t), frame);
            double dTemporal = Compare.MaxAbsDiff(Compare.Slice(o["temporal_weights"].Data, ki, t * p), temporalTp);
            double dSpatial = Compare.MaxAbsDiff(Compare.Slice(o["spatial_weights"].Data, ki, t * c.Vision.NumPatches), Compare.Flatten(spatial));
            output.WriteLine($"candidate {ki}: max|Δ| memory {dMemory:E2}, frame {dFrame:E2}, temporal {dTemporal:E2}, spatial {dSpatial:E2}");
            Assert.True(dMemory <= 1e-4, $"memory differs by {dMemory}");
            Assert.True(dFrame <= 1e-5, $"frame_weights differ by {dFrame}");
            Assert.True(dTemporal <= 1e-5, $"temporal_weights differ by {dTemporal}");
            Assert.True(dSpatial <= 1e-5, $"spatial_weights differ by {dSpatial}");
        }
    }

    [Fact]
    public void Pooling_TdpDisabled_MemoryIsTheTokensOnlyAndRerankerChanges()
    {
        var on = TestModels.Tiny(seed: 65);
        var c = on.Config;
        var off = new ModelWeights(c with { Tdp = c.Tdp with { Enabled = false } }, on.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        int t = c.NumFrames;
        int p = c.Vision.TokensPerFrame;
        int d = c.Vision.HiddenSize;
        const int k = 2;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 66);

        var withTdp = RunPooling(on, v, q, k)["memory"];
        var withoutTdp = RunPooling(off, v, q, k)["memory"];
        output.WriteLine($"memory shape with TDP [{string.Join(", ", withTdp.Shape)}], without [{string.Join(", ", withoutTdp.Shape)}]");
        Assert.Equal([k, (t * p) + t + p, d], withTdp.Shape);
        Assert.Equal([k, t * p, d], withoutTdp.Shape);
        Assert.Equal(v, withoutTdp.Data); // exactly the tokens, in [t, p] order
        for (int ki = 0; ki < k; ki++)
        {
            Assert.Equal(0.0, Compare.MaxAbsDiff(Compare.Slice(withTdp.Data, ki, ((t * p) + t + p) * d)[..(t * p * d)], Compare.Slice(v, ki, t * p * d)));
        }

        var (ids, mask) = TestModels.RandomTokens(67, k, 10, lengths: [10, 6]);
        ids[0] = ids[10] = 30523; // [ENC]
        (string, object, long[])[] inputs =
        [
            ("input_ids", ids, [k, 10]),
            ("attention_mask", mask, [k, 10]),
            ("video_tokens", v, [k, t, p, d]),
            ("text_embedding", q, [k, c.EmbedDim]),
        ];
        using var rerankOn = new GraphRunner(new LiteVLGraphBuilder(on).Reranker());
        using var rerankOff = new GraphRunner(new LiteVLGraphBuilder(off).Reranker());
        var itmOn = rerankOn.Run(inputs);
        var itmOff = rerankOff.Run(inputs);
        double dItm = Compare.MaxAbsDiff(itmOn["itm_logits"].Data, itmOff["itm_logits"].Data);
        output.WriteLine($"itm_logits with vs without TDP: max|Δ| {dItm:E2}");
        Assert.True(dItm > 1e-3, $"switching TDP off moved the ITM logits by only {dItm}");
        // The frame weights do not depend on the memory.
        Assert.Equal(0.0, Compare.MaxAbsDiff(itmOn["frame_weights"].Data, itmOff["frame_weights"].Data));
    }

    [Fact]
    public void Pooling_OneFrameLikeTheQuery_FrameWeightsPickIt()
    {
        // Identity projection, T = 4, q = (1,0). Candidate k puts the query-like CLS in frame t* = k; every other frame has an
        // anti-aligned CLS. The frame after t* gets a query-like patch, so frame weights taken from patches or from the mean of
        // a frame's tokens would pick that frame instead.
        const int t = 4;
        var weights = HandWeights(frames: t);
        var rng = new Random(68);
        var v = new float[t * t * 2 * 2];
        for (int k = 0; k < t; k++)
        {
            for (int ti = 0; ti < t; ti++)
            {
                int cls = ((((k * t) + ti) * 2) + 0) * 2;
                int patch = ((((k * t) + ti) * 2) + 1) * 2;
                float scale = 0.5f + (float)rng.NextDouble();
                bool star = ti == k;
                bool decoy = ti == (k + 1) % t;
                v[cls] = scale * (star ? 1f : -1f);
                v[cls + 1] = scale * (star ? 0.1f : 0.2f + (0.1f * ti));
                v[patch] = star ? -1f : decoy ? 3f : (float)(rng.NextDouble() - 0.5);
                v[patch + 1] = star ? 0f : decoy ? 0f : (float)(rng.NextDouble() - 0.5);
            }
        }

        var q = Enumerable.Range(0, t).SelectMany(_ => new float[] { 1, 0 }).ToArray();
        var frame = RunPooling(weights, v, q, t)["frame_weights"].Data;
        for (int k = 0; k < t; k++)
        {
            var row = Compare.Slice(frame, k, t).ToArray();
            int argmax = Array.IndexOf(row, row.Max());
            output.WriteLine($"t* = {k}: frame weights {string.Join(", ", row.Select(w => w.ToString("F3")))}");
            Assert.Equal(k, argmax);
        }
    }

    [Fact]
    public void Pooling_SmallerTau_SharperWeights()
    {
        var baseWeights = TestModels.Tiny(seed: 69);
        var c = baseWeights.Config;
        int t = c.NumFrames;
        int p = c.Vision.TokensPerFrame;
        const int k = 3;
        const double sharpTau = 0.1;
        const double softTau = 0.5;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 70);
        var sharp = RunPooling(WithTau(baseWeights, sharpTau), v, q, k);
        var soft = RunPooling(WithTau(baseWeights, softTau), v, q, k);

        foreach (var (name, size) in new[] { ("frame_weights", t), ("temporal_weights", t * p), ("spatial_weights", t * c.Vision.NumPatches) })
        {
            for (int ki = 0; ki < k; ki++)
            {
                float maxSharp = Compare.Slice(sharp[name].Data, ki, size).ToArray().Max();
                float maxSoft = Compare.Slice(soft[name].Data, ki, size).ToArray().Max();
                output.WriteLine($"{name} candidate {ki}: max weight τ={sharpTau} {maxSharp:F4}, τ={softTau} {maxSoft:F4}");
                Assert.True(maxSharp > maxSoft, $"{name}, candidate {ki}: τ={sharpTau} gives max weight {maxSharp}, not above τ={softTau}'s {maxSoft}");
            }
        }

        // Exactly: the log-odds of two frames scale with 1/τ, so they are softTau/sharpTau = 5 times larger at the small τ.
        for (int ki = 0; ki < k; ki++)
        {
            var ws = Compare.Slice(sharp["frame_weights"].Data, ki, t).ToArray();
            var wo = Compare.Slice(soft["frame_weights"].Data, ki, t).ToArray();
            for (int ti = 1; ti < t; ti++)
            {
                double logOddsSharp = Math.Log(ws[ti] / (double)ws[0]);
                double logOddsSoft = Math.Log(wo[ti] / (double)wo[0]);
                Assert.InRange(logOddsSharp, (softTau / sharpTau * logOddsSoft) - 1e-3, (softTau / sharpTau * logOddsSoft) + 1e-3);
            }
        }
    }

    /// <summary>The hand-checkable architecture: D = E = 2, one patch per frame, vision_proj = identity, τ = 1.</summary>
    private static ModelWeights HandWeights(int frames)
    {
        var config = Presets.Get(Presets.Tiny) with
        {
            Version = "test",
            NumFrames = frames,
            MaxFrames = frames,
            EmbedDim = 2,
            Vision = new VisionConfig { HiddenSize = 2, NumLayers = 1, NumHeads = 1, IntermediateSize = 4, PatchSize = 16, ImageSize = 16 },
            Tdp = new TdpConfig { Tau = 1.0 },
        };
        var weights = ModelWeights.Random(config, seed: 3);
        float[] identity = [1, 0, 0, 1];
        identity.CopyTo(weights["vision_proj.weight"].Data, 0);
        Array.Clear(weights["vision_proj.bias"].Data);
        return weights;
    }

    private static ModelWeights WithTau(ModelWeights weights, double tau) =>
        new(weights.Config with { Tdp = weights.Config.Tdp with { Tau = tau } }, weights.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));

    private static Dictionary<string, (float[] Data, long[] Shape)> RunPooling(ModelWeights weights, float[] v, float[] q, int candidates)
    {
        var c = weights.Config;
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights).Pooling());
        return runner.Run(
            ("video_tokens", v, [candidates, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", q, [candidates, c.EmbedDim]));
    }

    private void AssertClose(double[] expected, float[] actual, string name)
    {
        double d = Compare.MaxAbsDiff(actual, expected);
        output.WriteLine($"{name}: [{string.Join(", ", actual.Select(x => x.ToString("F7")))}], max|Δ| {d:E2}");
        Assert.True(d <= HandTolerance, $"{name} differs from the hand-computed values by {d}");
    }
}
