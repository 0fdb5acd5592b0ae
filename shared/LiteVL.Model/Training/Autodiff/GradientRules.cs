using Onnx;

namespace LiteVL.Model.Training.Autodiff;

/// <summary>
/// One operator's reverse-mode rule: which inputs it is differentiable in, and how to emit ∂loss/∂input from
/// ∂loss/∂output. <c>gOut[i]</c> is null where output i gets no gradient (it counts as zero); the result holds one
/// entry per input, null where <c>need[i]</c> is false.
/// </summary>
internal sealed record GradientRule(Func<NodeProto, int[]> Differentiable, Func<GradientContext, NodeProto, string?[], bool[], string?[]> Backward);

/// <summary>
/// The gradient rules, one function per ONNX operator that <see cref="Graphs.LiteVLGraphBuilder"/> emits in its plain
/// attention form, plus the loss operators. Shapes are static (see <see cref="ShapeProbe"/>). Each rule is checked
/// against central finite differences in float64 where ONNX Runtime's CPU kernels allow it.
/// </summary>
internal static class GradientRules
{
    private static readonly int[] First = [0];
    private static readonly int[] FirstTwo = [0, 1];
    private static readonly int[] None = [];

    private static readonly Dictionary<string, GradientRule> Rules = new(StringComparer.Ordinal)
    {
        ["Add"] = new(_ => FirstTwo, (c, n, g, need) => [Opt(need[0], () => c.E.Unbroadcast(g[0]!, c.Shape(n.Input[0]))), Opt(need[1], () => c.E.Unbroadcast(g[0]!, c.Shape(n.Input[1])))]),
        ["Sub"] = new(_ => FirstTwo, (c, n, g, need) => [Opt(need[0], () => c.E.Unbroadcast(g[0]!, c.Shape(n.Input[0]))), Opt(need[1], () => c.E.Unbroadcast(c.E.Neg(g[0]!), c.Shape(n.Input[1])))]),
        ["Mul"] = new(_ => FirstTwo, (c, n, g, need) =>
        [
            Opt(need[0], () => c.E.Unbroadcast(c.E.Mul(g[0]!, n.Input[1]), c.Shape(n.Input[0]))),
            Opt(need[1], () => c.E.Unbroadcast(c.E.Mul(g[0]!, n.Input[0]), c.Shape(n.Input[1]))),
        ]),
        ["Div"] = new(_ => FirstTwo, (c, n, g, need) =>
        [
            Opt(need[0], () => c.E.Unbroadcast(c.E.Div(g[0]!, n.Input[1]), c.Shape(n.Input[0]))),
            Opt(need[1], () => c.E.Unbroadcast(c.E.Neg(c.E.Div(c.E.Mul(g[0]!, n.Output[0]), n.Input[1])), c.Shape(n.Input[1]))), // −g·a/b² = −g·y/b
        ]),
        ["Sum"] = new(n => Enumerable.Range(0, n.Input.Count).ToArray(), (c, n, g, need) =>
            n.Input.Select((x, i) => Opt(need[i], () => c.E.Unbroadcast(g[0]!, c.Shape(x)))).ToArray()),
        ["Max"] = new(_ => FirstTwo, (c, n, g, need) => Select(c, n, g, need, "GreaterOrEqual")),
        ["Min"] = new(_ => FirstTwo, (c, n, g, need) => Select(c, n, g, need, "LessOrEqual")),
        ["Where"] = new(_ => [1, 2], Where),
        ["Neg"] = new(_ => First, (c, _, g, need) => [Opt(need[0], () => c.E.Neg(g[0]!))]),
        ["Identity"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => g[0]!)]),
        ["Cast"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Op("Cast", [g[0]!], c.Shape(n.Input[0]), ("to", (long)c.Type(n.Input[0]))))]),
        ["Reshape"] = new(_ => First, SameShapeAsInput),
        ["Unsqueeze"] = new(_ => First, SameShapeAsInput),
        ["Squeeze"] = new(_ => First, SameShapeAsInput),
        ["Flatten"] = new(_ => First, SameShapeAsInput),
        ["Transpose"] = new(_ => First, Transpose),
        ["MatMul"] = new(_ => FirstTwo, MatMul),
        ["Concat"] = new(n => Enumerable.Range(0, n.Input.Count).ToArray(), Concat),
        ["Split"] = new(_ => First, Split),
        ["Slice"] = new(_ => First, Slice),
        ["Gather"] = new(_ => First, Gather),
        ["Expand"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Unbroadcast(g[0]!, c.Shape(n.Input[0])))]),
        ["Tile"] = new(_ => First, Tile),
        ["ReduceSum"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => Reduce(c, n, g[0]!, "sum"))]),
        ["ReduceMean"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => Reduce(c, n, g[0]!, "mean"))]),
        ["ReduceL2"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => Reduce(c, n, g[0]!, "l2"))]),
        ["Softmax"] = new(_ => First, Softmax),
        ["LogSoftmax"] = new(_ => First, LogSoftmax),
        ["LayerNormalization"] = new(n => n.Input.Count > 2 ? [0, 1, 2] : FirstTwo, LayerNorm),
        ["Erf"] = new(_ => First, (c, n, g, need) =>
            [Opt(need[0], () => c.E.Mul(c.E.Mul(g[0]!, c.E.Scalar(2.0 / Math.Sqrt(Math.PI))), c.E.Op("Exp", [c.E.Neg(c.E.Mul(n.Input[0], n.Input[0]))], c.Shape(n.Input[0]))))]),
        ["Tanh"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Mul(g[0]!, c.E.Sub(c.E.Scalar(1), c.E.Mul(n.Output[0], n.Output[0]))))]),
        ["Exp"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Mul(g[0]!, n.Output[0]))]),
        ["Log"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Div(g[0]!, n.Input[0]))]),
        ["Sqrt"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Div(c.E.Mul(g[0]!, c.E.Scalar(0.5)), n.Output[0]))]),
        ["Reciprocal"] = new(_ => First, (c, n, g, need) => [Opt(need[0], () => c.E.Neg(c.E.Mul(g[0]!, c.E.Mul(n.Output[0], n.Output[0]))))]),
        ["Relu"] = new(_ => First, (c, n, g, need) =>
            [Opt(need[0], () => c.E.Mul(g[0]!, c.E.Op("Cast", [c.E.Op("Greater", [n.Input[0], c.E.Scalar(0)], c.Shape(n.Input[0]))], c.Shape(n.Input[0]), ("to", (long)c.E.FloatType))))]),
        ["CumSum"] = new(_ => First, CumSum),
        ["Conv"] = new(n => n.Input.Count > 2 ? [0, 1, 2] : FirstTwo, Conv),

        // Integer, boolean and shape operators carry no gradient.
        ["Shape"] = new(_ => None, NoGradient),
        ["Equal"] = new(_ => None, NoGradient),
        ["Less"] = new(_ => None, NoGradient),
        ["Greater"] = new(_ => None, NoGradient),
        ["LessOrEqual"] = new(_ => None, NoGradient),
        ["GreaterOrEqual"] = new(_ => None, NoGradient),
        ["Not"] = new(_ => None, NoGradient),
        ["Range"] = new(_ => None, NoGradient),
        ["ConstantOfShape"] = new(_ => None, NoGradient),
        ["OneHot"] = new(_ => None, NoGradient),
        ["ArgMax"] = new(_ => None, NoGradient),
    };

    public static GradientRule? Find(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && Rules.TryGetValue(node.OpType, out var rule) ? rule : null;

    public static IReadOnlyCollection<string> Operators => Rules.Keys;

    private static string? Opt(bool needed, Func<string> make) => needed ? make() : null;

    private static string?[] NoGradient(GradientContext c, NodeProto n, string?[] g, bool[] need) => new string?[n.Input.Count];

    private static string?[] SameShapeAsInput(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var result = new string?[n.Input.Count];
        result[0] = Opt(need[0], () => c.E.Reshape(g[0]!, c.Shape(n.Input[0])));
        return result;
    }

    /// <summary>Max/Min: the gradient goes to the operand that was selected (ties to the first).</summary>
    private static string?[] Select(GradientContext c, NodeProto n, string?[] g, bool[] need, string comparison)
    {
        var outShape = c.Shape(n.Output[0]);
        string mask = c.E.Op("Cast", [c.E.Op(comparison, [n.Input[0], n.Input[1]], outShape)], outShape, ("to", (long)c.E.FloatType));
        return
        [
            Opt(need[0], () => c.E.Unbroadcast(c.E.Mul(g[0]!, mask), c.Shape(n.Input[0]))),
            Opt(need[1], () => c.E.Unbroadcast(c.E.Mul(g[0]!, c.E.Sub(c.E.Scalar(1), mask)), c.Shape(n.Input[1]))),
        ];
    }

    private static string?[] Where(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var outShape = c.Shape(n.Output[0]);
        string zero = c.E.Scalar(0);
        return
        [
            null,
            Opt(need[1], () => c.E.Unbroadcast(c.E.Op("Where", [n.Input[0], g[0]!, zero], outShape), c.Shape(n.Input[1]))),
            Opt(need[2], () => c.E.Unbroadcast(c.E.Op("Where", [n.Input[0], zero, g[0]!], outShape), c.Shape(n.Input[2]))),
        ];
    }

    private static string?[] Transpose(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        int r = c.Shape(n.Input[0]).Length;
        var perm = OnnxAttributes.Ints(n, "perm") ?? Enumerable.Range(0, r).Reverse().Select(i => (long)i).ToArray();
        var inverse = new long[r];
        for (int i = 0; i < r; i++)
        {
            inverse[perm[i]] = i;
        }

        return [Opt(need[0], () => c.E.Transpose(g[0]!, inverse))];
    }

    /// <summary>Y = A·B over the last two axes with NumPy batch broadcasting: ∂A = G·Bᵀ, ∂B = Aᵀ·G, each summed to its shape.</summary>
    private static string?[] MatMul(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        string a = n.Input[0], b = n.Input[1], gy = g[0]!;
        var sa = c.Shape(a);
        var sb = c.Shape(b);
        if (sa.Length < 2 || sb.Length < 2)
        {
            throw new NotSupportedException($"Autodiff: MatMul '{n.Name}' has a 1-D operand; only matrices and batches of them are supported.");
        }

        string? ga = Opt(need[0], () => c.E.Unbroadcast(c.E.MatMul(gy, c.E.TransposeLast2(b)), sa));
        string? gb = Opt(need[1], () =>
        {
            if (sb.Length == 2 && sa.Length > 2)
            {
                // A weight shared by every row of a batch: one [K, rows]·[rows, N] product instead of a batch of them.
                long k = sa[^1], cols = sb[^1];
                long rows = sa.Aggregate(1L, (x, y) => x * y) / k;
                string a2 = c.E.Reshape(a, [rows, k]);
                string g2 = c.E.Reshape(gy, [rows, cols]);
                return c.E.MatMul(c.E.TransposeLast2(a2), g2);
            }

            return c.E.Unbroadcast(c.E.MatMul(c.E.TransposeLast2(a), gy), sb);
        });
        return [ga, gb];
    }

    private static string?[] Concat(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var outShape = c.Shape(n.Output[0]);
        long axis = Normalize(OnnxAttributes.Int(n, "axis", 0), outShape.Length);
        var result = new string?[n.Input.Count];
        long offset = 0;
        for (int i = 0; i < n.Input.Count; i++)
        {
            long size = c.Shape(n.Input[i])[axis];
            long start = offset;
            if (need[i])
            {
                result[i] = SliceAxis(c, g[0]!, axis, start, start + size);
            }

            offset += size;
        }

        return result;
    }

    private static string?[] Split(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var inShape = c.Shape(n.Input[0]);
        long axis = Normalize(OnnxAttributes.Int(n, "axis", 0), inShape.Length);
        var parts = n.Output.Select((o, i) => g[i] ?? c.E.Zeros(c.Shape(o))).ToArray();
        var result = new string?[n.Input.Count];
        result[0] = Opt(need[0], () => c.E.Op("Concat", parts, inShape, ("axis", axis)));
        return result;
    }

    /// <summary>Slice with unit steps: the gradient is the output gradient padded with zeros back to the input's extent.</summary>
    private static string?[] Slice(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var inShape = c.Shape(n.Input[0]);
        var outShape = c.Shape(n.Output[0]);
        var starts = c.Ints(n.Input[1]);
        var axes = n.Input.Count > 3 && n.Input[3].Length > 0 ? c.Ints(n.Input[3]) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        if (n.Input.Count > 4 && n.Input[4].Length > 0 && c.Ints(n.Input[4]).Any(s => s != 1))
        {
            throw new NotSupportedException($"Autodiff: Slice '{n.Name}' has steps other than 1.");
        }

        var result = new string?[n.Input.Count];
        if (!need[0])
        {
            return result;
        }

        int r = inShape.Length;
        var pads = new long[2 * r];
        for (int i = 0; i < axes.Length; i++)
        {
            int ax = (int)Normalize(axes[i], r);
            long dim = inShape[ax];
            long s = starts[i] < 0 ? starts[i] + dim : starts[i];
            s = Math.Clamp(s, 0, dim);
            pads[ax] = s;
            pads[r + ax] = dim - s - outShape[ax];
        }

        result[0] = Pad(c, g[0]!, pads, inShape);
        return result;
    }

    /// <summary>
    /// Gather along an axis. A constant scalar index (BLIP's CLS token) pads the gradient back; tensor indices on axis 0
    /// (embedding tables, pairs of a batch) scatter-add it, so repeated indices sum their gradients.
    /// </summary>
    private static string?[] Gather(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var result = new string?[n.Input.Count];
        if (!need[0])
        {
            return result;
        }

        var dataShape = c.Shape(n.Input[0]);
        int r = dataShape.Length;
        long axis = Normalize(OnnxAttributes.Int(n, "axis", 0), r);
        var indexShape = c.Shape(n.Input[1]);
        if (indexShape.Length == 0 && c.IsInitializer(n.Input[1]))
        {
            long index = c.Ints(n.Input[1])[0];
            index = index < 0 ? index + dataShape[axis] : index;
            var unsqueezed = dataShape.Select((d, i) => i == axis ? 1 : d).ToArray();
            var pads = new long[2 * r];
            pads[axis] = index;
            pads[r + axis] = dataShape[axis] - index - 1;
            result[0] = Pad(c, c.E.Reshape(g[0]!, unsqueezed), pads, dataShape);
            return result;
        }

        if (axis != 0)
        {
            throw new NotSupportedException($"Autodiff: Gather '{n.Name}' with tensor indices on axis {axis}; only axis 0 is supported.");
        }

        long count = indexShape.Aggregate(1L, (x, y) => x * y);
        long[] rest = dataShape[1..];
        string indices = c.E.Op("Reshape", [n.Input[1], c.E.Int64s(count, 1)], [count, 1]);
        string updates = c.E.Reshape(g[0]!, [count, .. rest]);
        result[0] = c.E.Op("ScatterND", [c.E.Zeros(dataShape), indices, updates], dataShape, ("reduction", "add"));
        return result;
    }

    /// <summary>Tile: view the gradient as [r0, d0, r1, d1, …] and sum the repeat axes.</summary>
    private static string?[] Tile(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var result = new string?[n.Input.Count];
        if (!need[0])
        {
            return result;
        }

        var inShape = c.Shape(n.Input[0]);
        var repeats = c.Ints(n.Input[1]);
        var interleaved = new long[2 * inShape.Length];
        for (int i = 0; i < inShape.Length; i++)
        {
            interleaved[2 * i] = repeats[i];
            interleaved[(2 * i) + 1] = inShape[i];
        }

        var axes = Enumerable.Range(0, inShape.Length).Select(i => 2L * i).ToArray();
        result[0] = c.E.ReduceSum(c.E.Reshape(g[0]!, interleaved), axes, keepDims: false);
        return result;
    }

    /// <summary>ReduceSum / ReduceMean / ReduceL2: broadcast the output gradient back over the reduced axes.</summary>
    private static string Reduce(GradientContext c, NodeProto n, string g, string kind)
    {
        var inShape = c.Shape(n.Input[0]);
        int r = inShape.Length;
        long[]? axes = kind == "sum"
            ? (n.Input.Count > 1 && n.Input[1].Length > 0 ? c.Ints(n.Input[1]) : null)
            : OnnxAttributes.Ints(n, "axes");
        if (axes is null || axes.Length == 0)
        {
            if (kind == "sum" && OnnxAttributes.Int(n, "noop_with_empty_axes", 0) == 1)
            {
                return g;
            }

            axes = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
        }

        axes = axes.Select(a => Normalize(a, r)).ToArray();
        var kept = inShape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray();
        string gk = c.E.Reshape(g, kept);
        switch (kind)
        {
            case "sum":
                return c.E.Op("Expand", [gk, c.E.Int64s(inShape)], inShape);
            case "mean":
                long count = axes.Aggregate(1L, (acc, a) => acc * inShape[a]);
                return c.E.Op("Expand", [c.E.Mul(gk, c.E.Scalar(1.0 / count)), c.E.Int64s(inShape)], inShape);
            default:
                // ∂‖x‖/∂x = x / ‖x‖.
                return c.E.Mul(n.Input[0], c.E.Div(gk, c.E.Reshape(n.Output[0], kept)));
        }
    }

    /// <summary>∂x = y ⊙ (g − Σ g⊙y) along the softmax axis.</summary>
    private static string?[] Softmax(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var shape = c.Shape(n.Input[0]);
        long axis = Normalize(OnnxAttributes.Int(n, "axis", -1), shape.Length);
        string y = n.Output[0];
        string dot = c.E.ReduceSum(c.E.Mul(g[0]!, y), [axis], keepDims: true);
        return [Opt(need[0], () => c.E.Mul(y, c.E.Sub(g[0]!, dot)))];
    }

    /// <summary>∂x = g − exp(y) ⊙ Σ g along the axis.</summary>
    private static string?[] LogSoftmax(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        var shape = c.Shape(n.Input[0]);
        long axis = Normalize(OnnxAttributes.Int(n, "axis", -1), shape.Length);
        string sum = c.E.ReduceSum(g[0]!, [axis], keepDims: true);
        return [Opt(need[0], () => c.E.Sub(g[0]!, c.E.Mul(c.E.Op("Exp", [n.Output[0]], shape), sum)))];
    }

    /// <summary>
    /// LayerNormalization over the axes from <c>axis</c> on. The statistics are recomputed here (in the graph's float
    /// type) rather than taken from the kernel's optional outputs, whose type is fixed to float32 by <c>stash_type</c>.
    /// </summary>
    private static string?[] LayerNorm(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        string x = n.Input[0], gamma = n.Input[1], gy = g[0]!;
        var shape = c.Shape(x);
        int r = shape.Length;
        long axis = Normalize(OnnxAttributes.Int(n, "axis", -1), r);
        double eps = OnnxAttributes.Float(n, "epsilon", 1e-5f);
        var normAxes = Enumerable.Range((int)axis, r - (int)axis).Select(i => (long)i).ToArray();
        long count = normAxes.Aggregate(1L, (acc, a) => acc * shape[a]);
        var e = c.E;
        string invCount = e.Scalar(1.0 / count);

        string mean = e.Mul(e.ReduceSum(x, normAxes, keepDims: true), invCount);
        string centred = e.Sub(x, mean);
        string variance = e.Mul(e.ReduceSum(e.Mul(centred, centred), normAxes, keepDims: true), invCount);
        string std = e.Op("Sqrt", [e.Add(variance, e.Scalar(eps))], c.Shape(variance));
        string rstd = e.Op("Reciprocal", [std], c.Shape(std));
        string xhat = e.Mul(centred, rstd);

        var result = new string?[n.Input.Count];
        result[1] = Opt(need[1], () => e.Unbroadcast(e.Mul(gy, xhat), c.Shape(gamma)));
        if (n.Input.Count > 2)
        {
            result[2] = Opt(need[2], () => e.Unbroadcast(gy, c.Shape(n.Input[2])));
        }

        result[0] = Opt(need[0], () =>
        {
            string gxhat = e.Mul(gy, gamma);
            string m1 = e.Mul(e.ReduceSum(gxhat, normAxes, keepDims: true), invCount);
            string m2 = e.Mul(e.ReduceSum(e.Mul(gxhat, xhat), normAxes, keepDims: true), invCount);
            return e.Mul(rstd, e.Sub(e.Sub(gxhat, m1), e.Mul(xhat, m2)));
        });
        return result;
    }

    private static string?[] CumSum(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        long reverse = OnnxAttributes.Int(n, "reverse", 0);
        long exclusive = OnnxAttributes.Int(n, "exclusive", 0);
        var result = new string?[n.Input.Count];
        result[0] = Opt(need[0], () => c.E.Op("CumSum", [g[0]!, n.Input[1]], c.Shape(n.Input[0]), ("reverse", 1 - reverse), ("exclusive", exclusive)));
        return result;
    }

    /// <summary>
    /// 2-D convolution (group 1, no dilation). ∂W is a convolution of the input with the output gradient as the kernel
    /// (dilated by the stride), ∂b the sum of the output gradient, ∂X a transposed convolution.
    /// </summary>
    private static string?[] Conv(GradientContext c, NodeProto n, string?[] g, bool[] need)
    {
        string x = n.Input[0], w = n.Input[1], gy = g[0]!;
        var sx = c.Shape(x);
        var sw = c.Shape(w);
        var sy = c.Shape(n.Output[0]);
        if (sx.Length != 4 || OnnxAttributes.Int(n, "group", 1) != 1 || (OnnxAttributes.Ints(n, "dilations") ?? [1, 1]).Any(d => d != 1)
            || (OnnxAttributes.String(n, "auto_pad") ?? "NOTSET") != "NOTSET")
        {
            throw new NotSupportedException($"Autodiff: Conv '{n.Name}' must be 2-D, group 1, without dilation or auto_pad.");
        }

        var strides = OnnxAttributes.Ints(n, "strides") ?? [1, 1];
        var pads = OnnxAttributes.Ints(n, "pads") ?? [0, 0, 0, 0];
        long kh = sw[2], kw = sw[3];
        var e = c.E;
        var result = new string?[n.Input.Count];
        if (n.Input.Count > 2)
        {
            result[2] = Opt(need[2], () => e.ReduceSum(gy, [0, 2, 3], keepDims: false));
        }

        result[1] = Opt(need[1], () =>
        {
            string xt = e.Transpose(x, [1, 0, 2, 3]);                 // [C,N,H,W]
            string gt = e.Transpose(gy, [1, 0, 2, 3]);                // [O,N,h,w]
            long oh = sx[2] + pads[0] + pads[2] - ((sy[2] - 1) * strides[0]);
            long ow = sx[3] + pads[1] + pads[3] - ((sy[3] - 1) * strides[1]);
            string full = e.Op("Conv", [xt, gt], [sx[1], sy[1], oh, ow], ("dilations", strides), ("pads", pads), ("kernel_shape", new[] { sy[2], sy[3] }));
            string cropped = oh == kh && ow == kw
                ? full
                : e.Op("Slice", [full, e.Int64s(0, 0), e.Int64s(kh, kw), e.Int64s(2, 3)], [sx[1], sy[1], kh, kw]);
            return e.Transpose(cropped, [1, 0, 2, 3]);                // [O,C,kh,kw]
        });

        result[0] = Opt(need[0], () =>
        {
            long padH = sx[2] - (((sy[2] - 1) * strides[0]) - pads[0] - pads[2] + kh);
            long padW = sx[3] - (((sy[3] - 1) * strides[1]) - pads[1] - pads[3] + kw);
            return e.Op("ConvTranspose", [gy, w], sx, ("strides", strides), ("pads", pads), ("kernel_shape", new[] { kh, kw }), ("output_padding", new[] { padH, padW }));
        });
        return result;
    }

    private static string SliceAxis(GradientContext c, string x, long axis, long start, long end)
    {
        var shape = c.Shape(x).ToArray();
        shape[axis] = end - start;
        return c.E.Op("Slice", [x, c.E.Int64s(start), c.E.Int64s(end), c.E.Int64s(axis)], shape);
    }

    private static string Pad(GradientContext c, string x, long[] pads, long[] outShape) =>
        pads.All(p => p == 0) ? x : c.E.Op("Pad", [x, c.E.Int64s(pads)], outShape);

    private static long Normalize(long axis, int rank) => axis < 0 ? axis + rank : axis;
}
