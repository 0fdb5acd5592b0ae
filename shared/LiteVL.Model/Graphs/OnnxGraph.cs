using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace LiteVL.Model.Graphs;

/// <summary>Numeric precision of a built graph's weights and activations (inputs and outputs keep their contract types).</summary>
public enum Precision
{
    Fp32,
    Fp16,
}

/// <summary>
/// A small, typed wrapper over the ONNX protobuf classes (from the OnnxSharp package) that names values and nodes
/// uniquely and stores initializers in the graph's compute precision. Every method returns a typed <see cref="Value"/>
/// of this graph; <see cref="Ops"/> builds the operators on it.
/// </summary>
public sealed class OnnxGraph
{
    public const int OpsetVersion = 17;
    public const string MicrosoftDomain = "com.microsoft";

    private readonly GraphProto _graph;
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _weightInputNames = new(StringComparer.Ordinal);

    public OnnxGraph(string name, Precision precision)
    {
        _graph = new GraphProto { Name = name };
        Precision = precision;
    }

    public Precision Precision { get; }

    public string Name => _graph.Name;

    /// <summary>An omitted optional input of a node (ONNX's empty name).</summary>
    public Value Absent => new(this, string.Empty);

    /// <summary>ONNX element type of activations and weights: FLOAT or FLOAT16.</summary>
    public int ComputeType => Precision == Precision.Fp16 ? (int)TensorProto.Types.DataType.Float16 : (int)TensorProto.Types.DataType.Float;

    public static int Float => (int)TensorProto.Types.DataType.Float;

    public static int Int64 => (int)TensorProto.Types.DataType.Int64;

    public static int Int32 => (int)TensorProto.Types.DataType.Int32;

    public static int UInt8 => (int)TensorProto.Types.DataType.Uint8;

    /// <summary>Declares a graph input. Dimensions are numbers or symbolic names (strings).</summary>
    public Value Input(string name, int elemType, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, elemType, dims));
        return new(this, name);
    }

    /// <summary>
    /// A weight fed as a graph input in the compute precision (a trained weight), declared once however often it is used,
    /// so that a shared weight collects gradients from every use.
    /// </summary>
    public Value WeightInput(string name, params long[] shape)
    {
        if (_weightInputNames.Add(name))
        {
            _graph.Input.Add(ValueInfo(name, ComputeType, shape.Cast<object>().ToArray()));
        }

        return new(this, name);
    }

    /// <summary>
    /// An optional int64 graph input: an input with an initializer of the same name, which a caller may feed and
    /// otherwise takes <paramref name="defaults"/> (ONNX IR ≥ 4; ONNX Runtime lists it as an overridable initializer).
    /// </summary>
    public Value OptionalInt64Input(string name, params long[] defaults)
    {
        _graph.Input.Add(ValueInfo(name, Int64, [defaults.Length]));
        var tensor = new TensorProto { Name = name, DataType = Int64 };
        tensor.Dims.Add(defaults.Length);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(defaults.AsSpan()));
        _graph.Initializer.Add(tensor);
        _initializerNames.Add(name);
        return new(this, name);
    }

    /// <summary>Declares <paramref name="value"/> as the graph output <paramref name="name"/> (float32 contract).</summary>
    public void Output(Value value, string name, int elemType, params object[] dims)
    {
        var result = elemType != ComputeType && elemType == Float ? Ops.Cast(value, Float) : value;
        _graph.Node.Add(NewNode("Identity", [result], [name], name + "_out", string.Empty, []));
        _graph.Output.Add(ValueInfo(name, elemType, dims));
    }

    /// <summary>A weight tensor stored in the compute precision; the same name is stored once.</summary>
    public Value Weight(string name, ReadOnlySpan<float> data, params long[] shape)
    {
        if (_initializerNames.Contains(name))
        {
            return new(this, name);
        }

        var tensor = new TensorProto { Name = name, DataType = ComputeType };
        tensor.Dims.AddRange(shape);
        if (Precision == Precision.Fp16)
        {
            var half = new Half[data.Length];
            for (int i = 0; i < data.Length; i++)
            {
                half[i] = (Half)data[i];
            }

            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(half.AsSpan()));
        }
        else
        {
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        }

        _graph.Initializer.Add(tensor);
        _initializerNames.Add(name);
        return new(this, name);
    }

    /// <summary>A scalar constant in the compute precision.</summary>
    public Value Scalar(float value) => Weight(Unique("scalar"), [value]);

    /// <summary>A 1-D int64 constant (shapes, axes, indices).</summary>
    public Value Int64s(params long[] values)
    {
        string name = Unique("i64");
        var tensor = new TensorProto { Name = name, DataType = Int64 };
        tensor.Dims.Add(values.Length);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        _graph.Initializer.Add(tensor);
        _initializerNames.Add(name);
        return new(this, name);
    }

    /// <summary>A 0-d int64 constant (Gather index that drops the axis).</summary>
    public Value Int64Scalar(long value)
    {
        string name = Unique("i64s");
        var tensor = new TensorProto { Name = name, DataType = Int64 };
        tensor.RawData = ByteString.CopyFrom(BitConverter.GetBytes(value));
        _graph.Initializer.Add(tensor);
        _initializerNames.Add(name);
        return new(this, name);
    }

    /// <summary>Adds one node with a single output and returns that output (model code uses the typed <see cref="Ops"/>).</summary>
    public Value Op(string opType, Value[] inputs, params (string Name, object Value)[] attributes) =>
        OpIn(string.Empty, opType, inputs, attributes);

    /// <summary>Adds one node of a domain (e.g. com.microsoft) with a single output.</summary>
    public Value OpIn(string domain, string opType, Value[] inputs, params (string Name, object Value)[] attributes)
    {
        string output = Unique(opType);
        _graph.Node.Add(NewNode(opType, inputs, [output], output, domain, attributes));
        return new(this, output);
    }

    /// <summary>Adds one node with several outputs.</summary>
    public Value[] OpMulti(string opType, Value[] inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        string baseName = Unique(opType);
        var names = Enumerable.Range(0, outputs).Select(i => $"{baseName}:{i}").ToArray();
        _graph.Node.Add(NewNode(opType, inputs, names, baseName, string.Empty, attributes));
        return [.. names.Select(n => new Value(this, n))];
    }

    public ModelProto ToModel(string docString, IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "litevl",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "0",
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OpsetVersion });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        foreach (var (k, v) in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        }

        return model;
    }

    private string Unique(string hint)
    {
        _counters.TryGetValue(hint, out int n);
        _counters[hint] = n + 1;
        return $"{hint}_{n}";
    }

    private NodeProto NewNode(string opType, Value[] inputs, string[] outputs, string name, string domain, (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        foreach (var input in inputs)
        {
            node.Input.Add(input.Graph == this ? input.Name : throw new ArgumentException($"{input.Name} belongs to another graph ({input.Graph.Name}).", nameof(inputs)));
        }

        node.Output.AddRange(outputs);
        foreach (var (attrName, value) in attributes)
        {
            node.Attribute.Add(Attribute(attrName, value));
        }

        return node;
    }

    private static AttributeProto Attribute(string name, object value)
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
            case double d:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = (float)d;
                break;
            case long[] ls:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ls);
                break;
            case string s:
                a.Type = AttributeProto.Types.AttributeType.String;
                a.S = ByteString.CopyFromUtf8(s);
                break;
            default:
                throw new ArgumentException($"Unsupported attribute type {value.GetType()} for '{name}'.", nameof(value));
        }

        return a;
    }

    private static ValueInfoProto ValueInfo(string name, int elemType, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"Dimension {d} of {name} must be a number or a name."),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }
}
