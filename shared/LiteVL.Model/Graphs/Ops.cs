namespace LiteVL.Model.Graphs;

/// <summary>
/// Typed ONNX operators (opset 17) over <see cref="Value"/>s: each adds one node to the graph of its first operand and
/// returns its output, with the attributes and constant inputs ONNX wants (axes as attributes or as int64 inputs, as
/// the opset defines them). Model code imports them with <c>using static</c>.
/// </summary>
public static class Ops
{
    public static Value MatMul(Value a, Value b) => a.Graph.Op("MatMul", [a, b]);

    public static Value Gemm(Value a, Value b, Value c, bool transB) => a.Graph.Op("Gemm", [a, b, c], ("transB", transB ? 1L : 0L));

    public static Value Transpose(Value x, params long[] perm) => x.Graph.Op("Transpose", [x], ("perm", perm));

    public static Value Reshape(Value x, params long[] shape) => x.Graph.Op("Reshape", [x, x.Graph.Int64s(shape)]);

    public static Value Reshape(Value x, Value shape) => x.Graph.Op("Reshape", [x, shape]);

    public static Value Unsqueeze(Value x, params long[] axes) => x.Graph.Op("Unsqueeze", [x, x.Graph.Int64s(axes)]);

    public static Value Squeeze(Value x, params long[] axes) => x.Graph.Op("Squeeze", [x, x.Graph.Int64s(axes)]);

    /// <summary>Concatenation of <paramref name="parts"/> along <paramref name="axis"/>.</summary>
    public static Value Concat(long axis, params Value[] parts) => parts[0].Graph.Op("Concat", parts, ("axis", axis));

    /// <summary>The consecutive parts of <paramref name="x"/> along <paramref name="axis"/>, of the given sizes.</summary>
    public static Value[] Split(Value x, long axis, params long[] sizes) =>
        x.Graph.OpMulti("Split", [x, x.Graph.Int64s(sizes)], sizes.Length, ("axis", axis));

    public static Value Slice(Value x, Value starts, Value ends, Value axes) => x.Graph.Op("Slice", [x, starts, ends, axes]);

    /// <summary>x[start:end] along one axis.</summary>
    public static Value SliceAxis(Value x, long axis, long start, long end) =>
        x.Graph.Op("Slice", [x, x.Graph.Int64s(start), x.Graph.Int64s(end), x.Graph.Int64s(axis)]);

    public static Value Gather(Value x, Value indices, long axis) => x.Graph.Op("Gather", [x, indices], ("axis", axis));

    /// <summary>x[index] along <paramref name="axis"/>, which is dropped.</summary>
    public static Value Gather(Value x, long index, long axis) => Gather(x, x.Graph.Int64Scalar(index), axis);

    public static Value GatherElements(Value x, Value indices, long axis) => x.Graph.Op("GatherElements", [x, indices], ("axis", axis));

    public static Value Shape(Value x) => x.Graph.Op("Shape", [x]);

    public static Value Expand(Value x, Value shape) => x.Graph.Op("Expand", [x, shape]);

    public static Value Tile(Value x, params long[] repeats) => x.Graph.Op("Tile", [x, x.Graph.Int64s(repeats)]);

    /// <summary>[x.shape[0], …rest]: a batch-sized shape for Expand.</summary>
    public static Value BatchShape(Value x, params long[] rest) => Concat(0, SliceAxis(Shape(x), 0, 0, 1), x.Graph.Int64s(rest));

    public static Value Range(Value start, Value limit, Value delta) => start.Graph.Op("Range", [start, limit, delta]);

    public static Value Cast(Value x, int elemType) => x.Graph.Op("Cast", [x], ("to", (long)elemType));

    /// <summary><paramref name="x"/> in the graph's compute precision (a Cast in fp16 graphs).</summary>
    public static Value ToCompute(Value x) => x.Graph.ComputeType == OnnxGraph.Float ? x : Cast(x, x.Graph.ComputeType);

    public static Value Softmax(Value x, long axis) => x.Graph.Op("Softmax", [x], ("axis", axis));

    public static Value LogSoftmax(Value x, long axis) => x.Graph.Op("LogSoftmax", [x], ("axis", axis));

    public static Value Tanh(Value x) => x.Graph.Op("Tanh", [x]);

    public static Value Erf(Value x) => x.Graph.Op("Erf", [x]);

    public static Value Max(Value a, Value b) => a.Graph.Op("Max", [a, b]);

    public static Value Min(Value a, Value b) => a.Graph.Op("Min", [a, b]);

    public static Value Less(Value a, Value b) => a.Graph.Op("Less", [a, b]);

    public static Value LessOrEqual(Value a, Value b) => a.Graph.Op("LessOrEqual", [a, b]);

    /// <summary>Opset 17's ReduceSum takes its axes as an input.</summary>
    public static Value ReduceSum(Value x, bool keepDims, params long[] axes) =>
        x.Graph.Op("ReduceSum", [x, x.Graph.Int64s(axes)], ("keepdims", keepDims ? 1L : 0L));

    /// <summary>Opset 17's ReduceMean takes its axes as an attribute.</summary>
    public static Value ReduceMean(Value x, bool keepDims, params long[] axes) =>
        x.Graph.Op("ReduceMean", [x], ("axes", axes), ("keepdims", keepDims ? 1L : 0L));

    public static Value ReduceL2(Value x, bool keepDims, params long[] axes) =>
        x.Graph.Op("ReduceL2", [x], ("axes", axes), ("keepdims", keepDims ? 1L : 0L));

    public static Value CumSum(Value x, Value axis) => x.Graph.Op("CumSum", [x, axis]);

    public static Value OneHot(Value indices, Value depth, Value values, long axis) => indices.Graph.Op("OneHot", [indices, depth, values], ("axis", axis));

    /// <summary>LayerNormalization over the last axis.</summary>
    public static Value LayerNormalization(Value x, Value scale, Value bias, float epsilon) =>
        x.Graph.Op("LayerNormalization", [x, scale, bias], ("axis", -1L), ("epsilon", epsilon));

    /// <summary>A square-kernel convolution whose stride is its kernel (non-overlapping patches).</summary>
    public static Value PatchConv(Value x, Value weight, Value bias, long kernel) =>
        x.Graph.Op("Conv", [x, weight, bias], ("kernel_shape", new[] { kernel, kernel }), ("strides", new[] { kernel, kernel }));

    /// <summary>
    /// <c>com.microsoft</c> MultiHeadAttention over projected q [B,Sq,W], k/v [B,Sk,W], masked by an int32
    /// <paramref name="keyPaddingMask"/> [B,Sk] or an additive <paramref name="attentionBias"/> [B,1,Sq,Sk] (one or none).
    /// </summary>
    public static Value FusedMultiHeadAttention(Value q, Value k, Value v, int heads, Value? keyPaddingMask = null, Value? attentionBias = null)
    {
        var g = q.Graph;
        Value[] inputs = (keyPaddingMask, attentionBias) switch
        {
            ({ } mask, null) => [q, k, v, g.Absent, mask],
            (null, { } bias) => [q, k, v, g.Absent, g.Absent, bias],
            (null, null) => [q, k, v],
            _ => throw new ArgumentException("Give a key padding mask or an attention bias, not both."),
        };
        return g.OpIn(OnnxGraph.MicrosoftDomain, "MultiHeadAttention", inputs, ("num_heads", (long)heads));
    }
}
