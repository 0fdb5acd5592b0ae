using LiteVL.Model.Graphs;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Tests.Graphs;

public sealed class GraphFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-graphs-").FullName;

    [Fact]
    public void Write_OverThreshold_MovesWeightsToExternalDataThatOnnxRuntimeLoads()
    {
        // Large models (blip-large's video encoder is ~1.6 GB) keep weights in NAME.onnx.data; force that path on tiny.
        var weights = TestModels.Tiny(seed: 41);
        var proto = new LiteVLGraphBuilder(weights).TextEncoder();
        using var inMemory = new GraphRunner(proto.Clone());
        string path = Path.Combine(_dir, "text_encoder.onnx");
        GraphFiles.Write(proto, path, externalThreshold: 0);

        Assert.True(File.Exists(path + ".data"));
        Assert.True(new FileInfo(path).Length < 100_000, "the graph file should hold structure only");
        Assert.True(new FileInfo(path + ".data").Length > 8_000_000);

        var (ids, mask) = TestModels.RandomTokens(1, 2, 10);
        var expected = inMemory.Run(("input_ids", ids, [2, 10]), ("attention_mask", mask, [2, 10]))["text_embedding"].Data;
        using var session = new InferenceSession(path);
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [2, 10]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [2, 10]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask"], [idsValue, maskValue], ["text_embedding"]);
        Assert.Equal(expected, outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Write_UnderThreshold_IsOneFileAndRemovesAStaleDataFile()
    {
        var weights = TestModels.Tiny(seed: 42);
        string path = Path.Combine(_dir, "video_encoder.onnx");
        GraphFiles.Write(new LiteVLGraphBuilder(weights).VideoEncoder(), path, externalThreshold: 0);
        Assert.True(File.Exists(path + ".data"));
        GraphFiles.Write(new LiteVLGraphBuilder(weights).VideoEncoder(), path);
        Assert.False(File.Exists(path + ".data"));
        using var session = new InferenceSession(path);
        Assert.Equal(["video_tokens", "video_embedding"], session.OutputNames);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
