using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace LiteVL.Model.Training.Autodiff;

/// <summary>What the probe learned about one value of a graph.</summary>
internal sealed record ProbedValue(long[] Shape, TensorElementType Type, long[]? Int64Values);

/// <summary>
/// Finds the static shape (and, for small int64 tensors such as shapes and axes, the contents) of every value of a
/// graph by running it once in ONNX Runtime with every intermediate value exposed as an output. Training graphs have
/// static shapes (a fixed micro-batch), so one run at those shapes tells the gradient rules everything they need; ORT is
/// the authority on its own operators' output shapes, which a hand-written shape inference could only imitate.
/// </summary>
internal static class ShapeProbe
{
    private const int MaxInt64Values = 64;

    public static Dictionary<string, ProbedValue> Run(ModelProto model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        var probe = model.Clone();
        probe.Graph.Output.Clear();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in probe.Graph.Node)
        {
            foreach (string o in node.Output)
            {
                if (o.Length > 0 && seen.Add(o))
                {
                    probe.Graph.Output.Add(new ValueInfoProto { Name = o });
                }
            }
        }

        var result = new Dictionary<string, ProbedValue>(StringComparer.Ordinal);
        foreach (var init in model.Graph.Initializer)
        {
            long[]? ints = init.DataType == (int)TensorProto.Types.DataType.Int64 && ElementCount(init.Dims.ToArray()) <= MaxInt64Values
                ? MemoryMarshal.Cast<byte, long>(init.RawData.Span).ToArray()
                : null;
            result[init.Name] = new ProbedValue(init.Dims.ToArray(), (TensorElementType)init.DataType, ints);
        }

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var inputs = new List<OrtValue>();
        var names = new List<string>();
        try
        {
            foreach (var input in model.Graph.Input)
            {
                if (result.ContainsKey(input.Name))
                {
                    continue; // an initializer listed as an input (older IR style)
                }

                if (!inputShapes.TryGetValue(input.Name, out var shape))
                {
                    throw new InvalidOperationException($"Autodiff: the shape probe needs a static shape for input '{input.Name}'.");
                }

                var type = (TensorElementType)input.Type.TensorType.ElemType;
                inputs.Add(ZeroTensor(type, shape));
                names.Add(input.Name);
                result[input.Name] = new ProbedValue(shape, type, null);
            }

            var outputNames = session.OutputNames.ToArray();
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, inputs, outputNames);
            for (int i = 0; i < outputNames.Length; i++)
            {
                var info = outputs[i].GetTensorTypeAndShape();
                long[]? ints = info.ElementDataType == TensorElementType.Int64 && info.ElementCount <= MaxInt64Values
                    ? outputs[i].GetTensorDataAsSpan<long>().ToArray()
                    : null;
                result[outputNames[i]] = new ProbedValue(info.Shape, info.ElementDataType, ints);
            }
        }
        finally
        {
            foreach (var v in inputs)
            {
                v.Dispose();
            }
        }

        return result;
    }

    private static long ElementCount(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static OrtValue ZeroTensor(TensorElementType type, long[] shape)
    {
        long n = ElementCount(shape);
        return type switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(new float[n], shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(new double[n], shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(new Float16[n], shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(new long[n], shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(new int[n], shape),
            TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory(new byte[n], shape),
            TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(new bool[n], shape),
            _ => throw new NotSupportedException($"Autodiff: cannot make a probe input of type {type}."),
        };
    }
}
