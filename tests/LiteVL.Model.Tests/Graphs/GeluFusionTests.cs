using LiteVL.Model.Graphs;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// Our GELU is written in the form ONNX Runtime's GeluFusion matches (Div(x, √2) → Erf → Add → Mul → Mul): after ORT's
/// graph optimisations no Erf is left and every MLP runs one Gelu/BiasGelu kernel.
/// </summary>
public sealed class GeluFusionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(LiteVLGraphBuilder.TextEncoderName)]
    [InlineData(LiteVLGraphBuilder.VideoEncoderName)]
    [InlineData(LiteVLGraphBuilder.RerankerName)]
    public void OrtOptimizedGraph_HasNoErf_AndOneFusedGeluPerMlp(string graph)
    {
        var weights = TestModels.Tiny(seed: 91);
        var c = weights.Config;
        var builder = new LiteVLGraphBuilder(weights);
        var model = graph switch
        {
            LiteVLGraphBuilder.TextEncoderName => builder.TextEncoder(),
            LiteVLGraphBuilder.VideoEncoderName => builder.VideoEncoder(),
            _ => builder.Reranker(),
        };
        int mlps = graph == LiteVLGraphBuilder.VideoEncoderName ? c.Vision.NumLayers : c.Text.NumLayers;
        Assert.Equal(mlps, model.Graph.Node.Count(n => n.OpType == "Erf"));

        string path = Path.Combine(Path.GetTempPath(), $"litevl-gelu-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = path })
            using (new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options))
            {
            }

            var optimized = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var ops = optimized.Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            output.WriteLine($"{graph}: " + string.Join(", ", ops.OrderBy(o => o.Key).Select(o => $"{o.Key}×{o.Value}")));
            Assert.False(ops.ContainsKey("Erf"), $"{graph}: ORT left {ops.GetValueOrDefault("Erf")} Erf nodes unfused");
            Assert.Equal(mlps, ops.GetValueOrDefault("Gelu") + ops.GetValueOrDefault("BiasGelu"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
