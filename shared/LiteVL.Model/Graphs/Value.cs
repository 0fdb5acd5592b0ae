namespace LiteVL.Model.Graphs;

/// <summary>
/// A tensor of a graph under construction: the graph it belongs to and its unique name there. The arithmetic operators
/// add the ONNX element-wise node (Add, Sub, Mul, Div, Neg) to that graph, so model code reads like its maths; a
/// <see langword="float"/> operand becomes a scalar constant in the graph's compute precision. The typed operators
/// (<c>MatMul</c>, <c>Transpose</c>, <c>Softmax</c>, …) are in <see cref="Ops"/>.
/// </summary>
public readonly record struct Value(OnnxGraph Graph, string Name)
{
    public static Value operator +(Value a, Value b) => a.Graph.Op("Add", [a, b]);

    public static Value operator -(Value a, Value b) => a.Graph.Op("Sub", [a, b]);

    public static Value operator *(Value a, Value b) => a.Graph.Op("Mul", [a, b]);

    public static Value operator /(Value a, Value b) => a.Graph.Op("Div", [a, b]);

    public static Value operator -(Value a) => a.Graph.Op("Neg", [a]);

    public static Value operator +(Value a, float b) => a + a.Graph.Scalar(b);

    public static Value operator +(float a, Value b) => b.Graph.Scalar(a) + b;

    public static Value operator -(float a, Value b) => b.Graph.Scalar(a) - b;

    public static Value operator *(Value a, float b) => a * a.Graph.Scalar(b);

    public static Value operator /(Value a, float b) => a / a.Graph.Scalar(b);

    public override string ToString() => Name;
}
