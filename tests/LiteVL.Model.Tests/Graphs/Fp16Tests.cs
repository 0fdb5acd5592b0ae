using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Weights;
using Onnx;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// fp16 graphs against fp32 graphs built from the same random tiny weights: the same contract (names, float32 outputs),
/// weights really stored as FLOAT16, and outputs within the error half precision can explain.
/// </summary>
public sealed class Fp16Tests(ITestOutputHelper output)
{
    /// <summary>
    /// Largest allowed |fp16 − fp32| as a fraction of the fp32 output's largest magnitude (at least 1). fp16 keeps 11
    /// significant bits (~3 decimal digits): a relative rounding of 2⁻¹¹ ≈ 4.9e-4 for every stored weight and every fp16
    /// activation. The outputs compared are O(1) by construction (post-LayerNorm tokens up to ~5, unit-norm embeddings,
    /// softmax weights in [0,1], ITM logits from a LayerNorm'd CLS), and over the tiny model's two layers the roundings add
    /// up to ≤ 1e-3 of that scale (measured 1e-4 … 9e-4, the most on video_tokens with the sharp 0.08 weights). 5e-3 is
    /// five times the worst measurement, ten fp16 ulps at the output's scale, while a real mistake (a wrong cast or
    /// constant, an overflow, a dropped mask or scale) moves outputs by 1e-2 … O(1); see the perturbation test below.
    /// </summary>
    private const double RelativeTolerance = 5e-3;

    private const int Fp16DataType = (int)TensorProto.Types.DataType.Float16; // 10

    private const int Fp32DataType = (int)TensorProto.Types.DataType.Float;   // 1

    private static readonly string[] AllGraphs =
    [
        LiteVLGraphBuilder.VideoEncoderName, LiteVLGraphBuilder.TextEncoderName, LiteVLGraphBuilder.RerankerName,
        LiteVLGraphBuilder.QuestionEncoderName, LiteVLGraphBuilder.AnswerDecoderName,
    ];

    public static TheoryData<string> Graphs() => [.. AllGraphs];

    public static TheoryData<string, AttentionKind, float> Cases()
    {
        var data = new TheoryData<string, AttentionKind, float>();
        foreach (string graph in AllGraphs)
        {
            foreach (var attention in new[] { AttentionKind.Fused, AttentionKind.Plain })
            {
                foreach (float std in new[] { 0.02f, 0.08f })
                {
                    data.Add(graph, attention, std);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fp16Graph_SameWeightsAsFp32_OutputsWithinHalfPrecisionTolerance(string graph, AttentionKind attention, float kernelStd)
    {
        var weights = TestModels.Tiny(seed: 31, c => c with { Qa = new QaConfig() }, kernelStd: kernelStd);
        var inputs = Inputs(graph, weights.Config);
        var fp32 = Run(Build(weights, graph, Precision.Fp32, attention), inputs);
        var fp16 = Run(Build(weights, graph, Precision.Fp16, attention), inputs);

        Assert.Equal(fp32.Keys.Order(), fp16.Keys.Order());
        foreach (var (name, (expected, shape)) in fp32)
        {
            var (actual, actualShape) = fp16[name];
            Assert.Equal(shape, actualShape);
            double scale = Math.Max(1.0, expected.Max(x => Math.Abs(x)));
            double d = Compare.MaxAbsDiff(actual, expected);
            output.WriteLine($"{graph} {attention} std={kernelStd}: {name} max|fp32| {scale:F3}, max|Δ| {d:E2} ({d / scale:E2} relative), tolerance {RelativeTolerance * scale:E2}");
            Assert.True(d <= RelativeTolerance * scale, $"{name}: fp16 differs from fp32 by {d} (scale {scale})");
        }
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Fp16Graph_Contract_SameInputsAndFloat32Outputs(string graph)
    {
        var weights = TestModels.Tiny(seed: 32, c => c with { Qa = new QaConfig() });
        var fp32 = Build(weights, graph, Precision.Fp32, AttentionKind.Fused).Graph;
        var fp16 = Build(weights, graph, Precision.Fp16, AttentionKind.Fused).Graph;

        Assert.Equal(fp32.Input.Select(Describe), fp16.Input.Select(Describe));
        Assert.Equal(fp32.Output.Select(Describe), fp16.Output.Select(Describe));
        Assert.All(fp16.Output, o => Assert.Equal(Fp32DataType, o.Type.TensorType.ElemType));

        // And ONNX Runtime agrees: the fp16 session hands back float32 tensors of the declared shapes.
        var inputs = Inputs(graph, weights.Config);
        var outputs = Run(Build(weights, graph, Precision.Fp16, AttentionKind.Fused), inputs);
        foreach (var o in fp16.Output)
        {
            var (data, shape) = outputs[o.Name];
            Assert.Equal(o.Type.TensorType.Shape.Dim.Count, shape.Length);
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), data.LongLength);
            Assert.All(data, v => Assert.True(float.IsFinite(v), $"{o.Name} holds {v}"));
        }
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Fp16Graph_Initializers_AreFloat16(string graph)
    {
        var weights = TestModels.Tiny(seed: 33, c => c with { Qa = new QaConfig() });
        var fp16 = Build(weights, graph, Precision.Fp16, AttentionKind.Fused).Graph;
        var fp32 = Build(weights, graph, Precision.Fp32, AttentionKind.Fused).Graph;

        var floating16 = fp16.Initializer.Where(t => t.DataType is Fp16DataType or Fp32DataType).ToList();
        var floating32 = fp32.Initializer.Where(t => t.DataType is Fp16DataType or Fp32DataType).ToList();
        Assert.NotEmpty(floating16);
        Assert.Equal(floating32.Count, floating16.Count);
        Assert.All(floating16, t => Assert.True(t.DataType == Fp16DataType, $"initializer '{t.Name}' is data type {t.DataType}, not FLOAT16"));
        Assert.All(floating32, t => Assert.True(t.DataType == Fp32DataType, $"initializer '{t.Name}' is data type {t.DataType}, not FLOAT"));
        foreach (var t in floating16)
        {
            long elements = t.Dims.Aggregate(1L, (a, b) => a * b);
            Assert.Equal(2 * elements, t.RawData.Length);
        }

        long bytes16 = floating16.Sum(t => (long)t.RawData.Length);
        long bytes32 = floating32.Sum(t => (long)t.RawData.Length);
        output.WriteLine($"{graph}: {floating16.Count} float initializers, {bytes32} bytes fp32, {bytes16} bytes fp16");
        Assert.Equal(bytes32, 2 * bytes16);
    }

    [Fact]
    public void Fp16Tolerance_PerturbedTemporalScaling_IsDetected()
    {
        // The tolerance must be able to fail: an fp16 graph whose temporal scaling α of one frame moved by 0.3.
        var weights = TestModels.Tiny(seed: 34);
        var inputs = Inputs(LiteVLGraphBuilder.VideoEncoderName, weights.Config);
        var expected = Run(Build(weights, LiteVLGraphBuilder.VideoEncoderName, Precision.Fp32, AttentionKind.Fused), inputs)["video_tokens"].Data;
        weights["vision_model.encoder.layers.1.temporal_scaling"].Data[3] += 0.3f;
        var actual = Run(Build(weights, LiteVLGraphBuilder.VideoEncoderName, Precision.Fp16, AttentionKind.Fused), inputs)["video_tokens"].Data;
        double scale = Math.Max(1.0, expected.Max(x => Math.Abs(x)));
        double d = Compare.MaxAbsDiff(actual, expected);
        output.WriteLine($"fp16 with a perturbed α vs fp32: max|Δ| {d:E2}, tolerance {RelativeTolerance * scale:E2}");
        Assert.True(d > RelativeTolerance * scale, $"a changed temporal scaling moved the fp16 tokens by only {d}");
    }

    private static ModelProto Build(ModelWeights weights, string graph, Precision precision, AttentionKind attention)
    {
        var builder = new LiteVLGraphBuilder(weights, new GraphBuildOptions(precision, attention, attention));
        return graph switch
        {
            LiteVLGraphBuilder.VideoEncoderName => builder.VideoEncoder(),
            LiteVLGraphBuilder.TextEncoderName => builder.TextEncoder(),
            LiteVLGraphBuilder.RerankerName => builder.Reranker(),
            LiteVLGraphBuilder.QuestionEncoderName => builder.QuestionEncoder(),
            LiteVLGraphBuilder.AnswerDecoderName => builder.AnswerDecoder(),
            _ => throw new ArgumentException(graph, nameof(graph)),
        };
    }

    private static Dictionary<string, (float[] Data, long[] Shape)> Run(ModelProto model, (string Name, object Data, long[] Shape)[] inputs)
    {
        using var runner = new GraphRunner(model);
        return runner.Run(inputs);
    }

    private static (string Name, object Data, long[] Shape)[] Inputs(string graph, ModelConfig c)
    {
        int s = c.Vision.ImageSize;
        switch (graph)
        {
            case LiteVLGraphBuilder.VideoEncoderName:
                return [("frames", TestModels.RandomFrames(41, 2 * c.NumFrames * s * s * 3), [2, c.NumFrames, s, s, 3])];
            case LiteVLGraphBuilder.TextEncoderName:
            {
                var (ids, mask) = TestModels.RandomTokens(42, 3, 20, lengths: [20, 9, 3]);
                return [("input_ids", ids, [3, 20]), ("attention_mask", mask, [3, 20])];
            }

            case LiteVLGraphBuilder.AnswerDecoderName:
                return VideoQaGraphTests.DecoderInputs(c, 3, 5, 8, answerLengths: [5, 2, 4], questionLengths: [8, 3, 6], seed: 45).Feed(3, 5, 8, c.Text.HiddenSize);

            default: // the re-ranker and the question encoder take the same inputs
            {
                const int k = 3;
                var (ids, mask) = TestModels.RandomTokens(43, k, 12, lengths: [12, 6, 9]);
                for (int i = 0; i < k; i++)
                {
                    ids[i * 12] = 30523; // [ENC]
                }

                var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 44);
                return
                [
                    ("input_ids", ids, [k, 12]),
                    ("attention_mask", mask, [k, 12]),
                    ("video_tokens", v, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
                    ("text_embedding", q, [k, c.EmbedDim]),
                ];
            }
        }
    }

    private static string Describe(ValueInfoProto v) =>
        $"{v.Name}:{v.Type.TensorType.ElemType}[{string.Join(",", v.Type.TensorType.Shape.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString() : d.DimParam))}]";
}
