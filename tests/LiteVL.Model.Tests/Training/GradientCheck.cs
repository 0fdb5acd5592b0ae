using System.Runtime.InteropServices;
using Google.Protobuf;
using LiteVL.Model.Training.Autodiff;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace LiteVL.Model.Tests.Training;

/// <summary>
/// A small graph for gradient checks: float inputs (the ones to differentiate), constants, nodes, and a loss
/// Σ R ⊙ y with a fixed random R, so that every element of y's gradient is different and non-trivial.
/// </summary>
internal sealed class CheckGraph
{
    private readonly GraphProto _graph = new() { Name = "check" };
    private readonly Random _rng;
    private int _n;

    public CheckGraph(bool float64, int seed = 1)
    {
        Float64 = float64;
        _rng = new Random(seed);
    }

    public bool Float64 { get; }

    public int FloatType => Float64 ? (int)TensorProto.Types.DataType.Double : (int)TensorProto.Types.DataType.Float;

    public Dictionary<string, long[]> InputShapes { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, double[]> InputValues { get; } = new(StringComparer.Ordinal);

    /// <summary>A float input with values uniform in [lo, hi).</summary>
    public string Input(string name, long[] shape, double lo = -1, double hi = 1)
    {
        _graph.Input.Add(new ValueInfoProto { Name = name, Type = TensorType(FloatType, shape) });
        InputShapes[name] = shape;
        InputValues[name] = Enumerable.Range(0, (int)Count(shape)).Select(_ => lo + ((hi - lo) * _rng.NextDouble())).ToArray();
        return name;
    }

    public string Ints(params long[] values)
    {
        string name = "i64_" + _n++;
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        _graph.Initializer.Add(t);
        return name;
    }

    public string IntScalar(long value)
    {
        string name = "i64s_" + _n++;
        _graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) });
        return name;
    }

    public string Bools(long[] shape, bool[] values)
    {
        string name = "b_" + _n++;
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Bool };
        t.Dims.AddRange(shape);
        t.RawData = ByteString.CopyFrom(values.Select(b => b ? (byte)1 : (byte)0).ToArray());
        _graph.Initializer.Add(t);
        return name;
    }

    public string Const(long[] shape, double lo = -1, double hi = 1) =>
        Constant(shape, Enumerable.Range(0, (int)Count(shape)).Select(_ => lo + ((hi - lo) * _rng.NextDouble())).ToArray());

    public string Constant(long[] shape, double[] values)
    {
        string name = "c_" + _n++;
        var t = new TensorProto { Name = name, DataType = FloatType };
        t.Dims.AddRange(shape);
        t.RawData = Float64
            ? ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()))
            : ByteString.CopyFrom(MemoryMarshal.AsBytes(values.Select(v => (float)v).ToArray().AsSpan()));
        _graph.Initializer.Add(t);
        return name;
    }

    public string Op(string opType, string[] inputs, params (string Name, object Value)[] attributes) =>
        OpMulti(opType, inputs, 1, attributes)[0];

    public string[] OpMulti(string opType, string[] inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        string baseName = opType + "_" + _n++;
        var node = new NodeProto { OpType = opType, Name = baseName };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(i => $"{baseName}:{i}").ToArray();
        node.Output.AddRange(names);
        foreach (var (n, v) in attributes)
        {
            node.Attribute.Add(OnnxAttributes.Make(n, v));
        }

        _graph.Node.Add(node);
        return names;
    }

    /// <summary>loss = Σ R ⊙ y (R fixed, random) as the scalar output <c>loss</c>; several terms are added.</summary>
    public void Loss(params (string Value, long[] Shape)[] terms)
    {
        string? total = null;
        foreach (var (value, shape) in terms)
        {
            string term = Op("ReduceSum", [Op("Mul", [value, Const(shape)])], ("keepdims", 0L));
            total = total is null ? term : Op("Add", [total, term]);
        }

        var id = new NodeProto { OpType = "Identity", Name = "loss_out" };
        id.Input.Add(total);
        id.Output.Add("loss");
        _graph.Node.Add(id);
        _graph.Output.Add(new ValueInfoProto { Name = "loss", Type = TensorType(FloatType, []) });
    }

    public ModelProto ToModel()
    {
        var m = new ModelProto { IrVersion = 8, ProducerName = "litevl-tests", Graph = _graph.Clone() };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return m;
    }

    public static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static TypeProto TensorType(int elemType, long[] shape)
    {
        var s = new TensorShapeProto();
        foreach (long d in shape)
        {
            s.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = s } };
    }
}

/// <summary>Runs a <see cref="CheckGraph"/> forward and differentiated, and compares gradients with central differences.</summary>
internal static class GradientCheck
{
    /// <summary>Relative error ‖fd − analytic‖ / max(‖fd‖, ‖analytic‖) per input, over every element.</summary>
    public static Dictionary<string, double> RelativeErrors(CheckGraph g, double? step = null)
    {
        var forward = g.ToModel();
        var wrt = g.InputShapes.Keys.ToList();
        var training = GraphDifferentiator.Differentiate(new GradientRequest(forward, "loss", wrt, g.InputShapes));
        using var fwd = Session(forward);
        using var train = Session(training);
        var analytic = Run(train, g, g.InputValues, wrt.Select(w => GraphDifferentiator.GradPrefix + w).ToArray());
        double h = step ?? (g.Float64 ? 1e-6 : 1e-2);
        var errors = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string w in wrt)
        {
            var values = g.InputValues.ToDictionary(kv => kv.Key, kv => (double[])kv.Value.Clone(), StringComparer.Ordinal);
            var x = values[w];
            var fd = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                double keep = x[i];
                x[i] = keep + h;
                double plus = Run(fwd, g, values, ["loss"])[0][0];
                x[i] = keep - h;
                double minus = Run(fwd, g, values, ["loss"])[0][0];
                x[i] = keep;
                fd[i] = (plus - minus) / (2 * h);
            }

            var an = analytic[wrt.IndexOf(w)];
            double diff = Math.Sqrt(fd.Zip(an, (a, b) => (a - b) * (a - b)).Sum());
            double scale = Math.Max(Math.Sqrt(fd.Sum(v => v * v)), Math.Sqrt(an.Sum(v => v * v)));
            errors[w] = scale == 0 ? diff : diff / scale;
            Assert.True(scale > 0 || diff == 0, $"gradient of {w} is zero everywhere, the check would prove nothing");
        }

        return errors;
    }

    public static InferenceSession Session(ModelProto model)
    {
        using var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        so.IntraOpNumThreads = 1;
        return new InferenceSession(model.ToByteArray(), so);
    }

    public static double[][] Run(InferenceSession session, CheckGraph g, Dictionary<string, double[]> values, string[] outputs)
    {
        var names = g.InputShapes.Keys.ToArray();
        var inputs = names.Select(n => g.Float64
            ? OrtValue.CreateTensorValueFromMemory(values[n], g.InputShapes[n])
            : OrtValue.CreateTensorValueFromMemory(values[n].Select(v => (float)v).ToArray(), g.InputShapes[n])).ToList();
        try
        {
            using var ro = new RunOptions();
            using var results = session.Run(ro, names, inputs, outputs);
            return results.Select(r => g.Float64
                ? r.GetTensorDataAsSpan<double>().ToArray()
                : r.GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray()).ToArray();
        }
        finally
        {
            foreach (var v in inputs)
            {
                v.Dispose();
            }
        }
    }
}
