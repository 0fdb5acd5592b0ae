using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace LiteVL.Model.Training.Autodiff;

/// <summary>
/// Appends nodes and constants to an existing ONNX graph (the backward half of a training graph) with unique names.
/// Every value it creates has a static shape, recorded in <see cref="Shapes"/>, because the gradient rules need
/// the shapes of what they combine.
/// </summary>
internal sealed class GraphEmitter
{
    private readonly GraphProto _graph;
    private readonly string _prefix;
    private int _counter;

    public GraphEmitter(GraphProto graph, int floatType, Dictionary<string, long[]> shapes, string prefix = "grad")
    {
        _graph = graph;
        FloatType = floatType;
        Shapes = shapes;
        _prefix = prefix;
    }

    /// <summary>
    /// The float type (FLOAT, DOUBLE or FLOAT16) of the values the current rule combines: constants are made in it.
    /// The differentiator sets it per node, so graphs that cast between float types get type-correct constants.
    /// </summary>
    public int FloatType { get; set; }

    /// <summary>Static shapes of every value, forward and backward.</summary>
    public Dictionary<string, long[]> Shapes { get; }

    public long[] ShapeOf(string value) => Shapes.TryGetValue(value, out var s)
        ? s
        : throw new InvalidOperationException($"Autodiff: no static shape known for value '{value}'.");

    /// <summary>Adds a node with one output of the given shape.</summary>
    public string Op(string opType, string[] inputs, long[] outputShape, params (string Name, object Value)[] attributes)
    {
        string output = NewName(opType);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var (name, value) in attributes)
        {
            node.Attribute.Add(OnnxAttributes.Make(name, value));
        }

        _graph.Node.Add(node);
        Shapes[output] = outputShape;
        return output;
    }

    /// <summary>A scalar constant of the float type (broadcasts against anything).</summary>
    public string Scalar(double value) => Constant([], FloatType, value);

    /// <summary>A 1-D int64 constant.</summary>
    public string Int64s(params long[] values)
    {
        string name = NewName("i64");
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        _graph.Initializer.Add(tensor);
        Shapes[name] = [values.Length];
        return name;
    }

    /// <summary>Zeros of a static shape, in the float type.</summary>
    public string Zeros(long[] shape) => Op("Expand", [Scalar(0), Int64s(shape)], shape);

    public string Add(string a, string b) => Op("Add", [a, b], Broadcast(ShapeOf(a), ShapeOf(b)));

    public string Sub(string a, string b) => Op("Sub", [a, b], Broadcast(ShapeOf(a), ShapeOf(b)));

    public string Mul(string a, string b) => Op("Mul", [a, b], Broadcast(ShapeOf(a), ShapeOf(b)));

    public string Div(string a, string b) => Op("Div", [a, b], Broadcast(ShapeOf(a), ShapeOf(b)));

    public string Neg(string a) => Op("Neg", [a], ShapeOf(a));

    public string Reshape(string x, long[] shape) =>
        ShapeOf(x).AsSpan().SequenceEqual(shape) ? x : Op("Reshape", [x, Int64s(shape)], shape);

    public string Transpose(string x, long[] perm)
    {
        var s = ShapeOf(x);
        return Op("Transpose", [x], perm.Select(p => s[p]).ToArray(), ("perm", perm));
    }

    /// <summary>Swaps the last two axes.</summary>
    public string TransposeLast2(string x)
    {
        int r = ShapeOf(x).Length;
        var perm = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
        (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
        return Transpose(x, perm);
    }

    public string MatMul(string a, string b)
    {
        var sa = ShapeOf(a);
        var sb = ShapeOf(b);
        var batch = Broadcast(sa[..^2], sb[..^2]);
        return Op("MatMul", [a, b], [.. batch, sa[^2], sb[^1]]);
    }

    /// <summary>ReduceSum over <paramref name="axes"/> (non-negative), keeping or dropping them.</summary>
    public string ReduceSum(string x, long[] axes, bool keepDims)
    {
        if (axes.Length == 0)
        {
            return x;
        }

        var s = ShapeOf(x);
        var shape = keepDims
            ? s.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray()
            : s.Where((_, i) => !axes.Contains(i)).ToArray();
        return Op("ReduceSum", [x, Int64s(axes)], shape, ("keepdims", keepDims ? 1L : 0L));
    }

    /// <summary>Sums a broadcast gradient back to the shape of the operand it came from (NumPy broadcasting in reverse).</summary>
    public string Unbroadcast(string g, long[] target)
    {
        var s = ShapeOf(g);
        if (s.AsSpan().SequenceEqual(target))
        {
            return g;
        }

        int lead = s.Length - target.Length;
        var axes = new List<long>();
        for (int i = 0; i < s.Length; i++)
        {
            if (i < lead || (target[i - lead] == 1 && s[i] != 1))
            {
                axes.Add(i);
            }
        }

        return Reshape(ReduceSum(g, [.. axes], keepDims: true), target);
    }

    /// <summary>Sums the contributions to one gradient.</summary>
    public string Sum(IReadOnlyList<string> parts) => parts.Count == 1 ? parts[0] : Op("Sum", [.. parts], ShapeOf(parts[0]));

    public static long[] Broadcast(long[] a, long[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var result = new long[r];
        for (int i = 0; i < r; i++)
        {
            long da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            long db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
            {
                throw new InvalidOperationException($"Autodiff: shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast.");
            }

            result[i] = da == 1 ? db : da;
        }

        return result;
    }

    private string Constant(long[] shape, int type, double value)
    {
        string name = NewName("c");
        var tensor = new TensorProto { Name = name, DataType = type };
        tensor.Dims.AddRange(shape);
        tensor.RawData = type switch
        {
            (int)TensorProto.Types.DataType.Double => ByteString.CopyFrom(BitConverter.GetBytes(value)),
            (int)TensorProto.Types.DataType.Float => ByteString.CopyFrom(BitConverter.GetBytes((float)value)),
            (int)TensorProto.Types.DataType.Float16 => ByteString.CopyFrom(BitConverter.GetBytes((Half)value)),
            _ => throw new NotSupportedException($"Autodiff: element type {type} is not a float type."),
        };
        _graph.Initializer.Add(tensor);
        Shapes[name] = shape;
        return name;
    }

    private string NewName(string hint) => $"{_prefix}/{hint}_{_counter++}";
}

/// <summary>ONNX attribute construction and lookup shared by the graph builders.</summary>
internal static class OnnxAttributes
{
    public static AttributeProto Make(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long l:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = l;
                break;
            case int i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case float f:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = f;
                break;
            case long[] ls:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ls);
                break;
            case string s:
                a.Type = AttributeProto.Types.AttributeType.String;
                a.S = ByteString.CopyFromUtf8(s);
                break;
            case TensorProto t:
                a.Type = AttributeProto.Types.AttributeType.Tensor;
                a.T = t;
                break;
            default:
                throw new ArgumentException($"Unsupported attribute type {value.GetType()} for '{name}'.", nameof(value));
        }

        return a;
    }

    public static long Int(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    public static float Float(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    public static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.Ints.ToArray() : null;

    public static string? String(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : null;
}
