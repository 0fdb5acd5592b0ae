using System.Runtime.InteropServices;
using LiteVL.Model.Config;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>Small models and an in-memory ONNX Runtime runner for graph tests.</summary>
internal static class TestModels
{
    /// <summary>The tiny preset with sharper random weights (std 0.08) so attention is far from uniform.</summary>
    public static ModelWeights Tiny(int seed = 7, Func<ModelConfig, ModelConfig>? change = null, float kernelStd = 0.08f)
    {
        var config = Presets.Get(Presets.Tiny) with { Version = "test" };
        if (change is not null)
        {
            config = change(config);
        }

        return ModelWeights.Random(config, seed, kernelStd);
    }

    public static byte[] RandomFrames(int seed, int count)
    {
        var rng = new Random(seed);
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }

    public static (long[] Ids, long[] Mask) RandomTokens(int seed, int batch, int length, int vocab = 30522, int[]? lengths = null)
    {
        var rng = new Random(seed);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            int len = lengths?[b] ?? length;
            for (int i = 0; i < length; i++)
            {
                bool real = i < len;
                ids[(b * length) + i] = !real ? 0 : i == 0 ? 101 : i == len - 1 ? 102 : rng.Next(1000, vocab);
                mask[(b * length) + i] = real ? 1 : 0;
            }
        }

        return (ids, mask);
    }
}

/// <summary>Runs a built <see cref="ModelProto"/> in ONNX Runtime on the CPU.</summary>
internal sealed class GraphRunner : IDisposable
{
    private readonly InferenceSession _session;

    public GraphRunner(ModelProto model)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
    }

    public Dictionary<string, (float[] Data, long[] Shape)> Run(params (string Name, object Data, long[] Shape)[] inputs)
    {
        var values = inputs.Select(i => i.Data switch
        {
            float[] f => OrtValue.CreateTensorValueFromMemory(f, i.Shape),
            long[] l => OrtValue.CreateTensorValueFromMemory(l, i.Shape),
            byte[] b => OrtValue.CreateTensorValueFromMemory(b, i.Shape),
            _ => throw new ArgumentException("unsupported input"),
        }).ToList();
        try
        {
            using var runOptions = new RunOptions();
            var names = _session.OutputNames.ToArray();
            using var outputs = _session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, names);
            var result = new Dictionary<string, (float[], long[])>();
            for (int i = 0; i < names.Length; i++)
            {
                result[names[i]] = (outputs[i].GetTensorDataAsSpan<float>().ToArray(), outputs[i].GetTensorTypeAndShape().Shape);
            }

            return result;
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    public void Dispose() => _session.Dispose();
}

internal static class Compare
{
    /// <summary>Largest |a − b| over two equally long sequences.</summary>
    public static double MaxAbsDiff(ReadOnlySpan<float> actual, IReadOnlyList<double> expected)
    {
        Assert.Equal(expected.Count, actual.Length);
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(d))
            {
                return double.PositiveInfinity;
            }

            max = Math.Max(max, d);
        }

        return max;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - b[i]);
            max = double.IsNaN(d) ? double.PositiveInfinity : Math.Max(max, d);
        }

        return max;
    }

    public static List<double> Flatten(IEnumerable<double[]> rows) => rows.SelectMany(r => r).ToList();

    public static List<double> Flatten(IEnumerable<double[][]> blocks) => blocks.SelectMany(b => b.SelectMany(r => r)).ToList();

    public static ReadOnlySpan<float> Slice(float[] data, int index, int size) => data.AsSpan(index * size, size);

    public static float[] ToFloats(ReadOnlySpan<byte> bytes) => MemoryMarshal.Cast<byte, float>(bytes).ToArray();
}
