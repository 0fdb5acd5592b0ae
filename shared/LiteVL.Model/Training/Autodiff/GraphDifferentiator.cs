using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace LiteVL.Model.Training.Autodiff;

/// <summary>What to differentiate: a forward graph, its scalar loss output and the inputs to take gradients for.</summary>
/// <param name="Forward">A graph whose trainable tensors are graph inputs (frozen weights stay initializers).</param>
/// <param name="Loss">The name of a scalar float output.</param>
/// <param name="Wrt">Float graph inputs to differentiate the loss with respect to.</param>
/// <param name="InputShapes">A static shape for every graph input (training graphs have a fixed micro-batch).</param>
/// <param name="AccumulateGradients">
/// Add an input <c>grad_in.NAME</c> per parameter and output <c>grad.NAME = grad_in.NAME + ∂loss/∂NAME</c>, so that
/// gradient accumulation over micro-batches happens inside the graph, on the device the graph runs on.
/// </param>
public sealed record GradientRequest(
    ModelProto Forward,
    string Loss,
    IReadOnlyList<string> Wrt,
    IReadOnlyDictionary<string, long[]> InputShapes,
    bool AccumulateGradients = false);

/// <summary>
/// Reverse-mode differentiation of ONNX graphs into ONNX graphs: the result is one graph with the forward outputs plus
/// <c>grad.NAME</c> for every requested input, built from standard operators only, so the same ONNX Runtime session
/// types run training on the CPU and (with the CUDA provider) on the GPU.
/// </summary>
/// <remarks>
/// Written here because nothing usable exists on these machines: the ONNX Runtime training package is not served,
/// ORT's inference builds have no gradient kernels, and TorchSharp's native library does not load (it needs a newer
/// libstdc++ than Debian 12 has). The rules are in <see cref="GradientRules"/>, one small function per operator, each
/// checked by finite differences in the tests. Values that do not depend on a requested input, or that do not lead to
/// the loss through differentiable edges, get no gradient nodes: training only the temporal modules never computes a
/// gradient for a spatial weight.
/// </remarks>
public static class GraphDifferentiator
{
    public const string GradPrefix = "grad.";
    public const string GradInPrefix = "grad_in.";

    public static ModelProto Differentiate(GradientRequest request)
    {
        var model = request.Forward.Clone();
        var graph = model.Graph;
        var probed = ShapeProbe.Run(model, request.InputShapes);
        var shapes = probed.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);

        var lossInfo = probed.TryGetValue(request.Loss, out var li)
            ? li
            : throw new ArgumentException($"The graph has no value '{request.Loss}' to differentiate.", nameof(request));
        if (lossInfo.Shape.Aggregate(1L, (a, b) => a * b) != 1)
        {
            throw new ArgumentException($"The loss '{request.Loss}' must be a scalar; it has shape [{string.Join(",", lossInfo.Shape)}].", nameof(request));
        }

        int floatType = (int)lossInfo.Type;
        if (lossInfo.Type is not (TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16))
        {
            throw new ArgumentException($"The loss '{request.Loss}' must be a float tensor; it is {lossInfo.Type}.", nameof(request));
        }

        var inputNames = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string w in request.Wrt)
        {
            if (!inputNames.Contains(w))
            {
                throw new ArgumentException($"'{w}' is not an input of the graph; trainable tensors must be graph inputs.", nameof(request));
            }

            if ((int)probed[w].Type != floatType)
            {
                throw new ArgumentException($"Input '{w}' is {probed[w].Type}, but the loss is {lossInfo.Type}; gradients need one float type.", nameof(request));
            }
        }

        var nodes = graph.Node.ToList();
        var emitter = new GraphEmitter(graph, floatType, shapes);
        var context = new GradientContext(emitter, probed, graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal));

        // Forward: which values depend on a requested input. An operator without a rule is assumed to pass the
        // dependence on, so that reaching it on the way back is an error rather than a silently missing gradient.
        var depends = new HashSet<string>(request.Wrt, StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var rule = GradientRules.Find(node);
            var inputs = rule is null ? Enumerable.Range(0, node.Input.Count) : rule.Differentiable(node);
            if (inputs.Any(i => i < node.Input.Count && depends.Contains(node.Input[i])))
            {
                foreach (string o in node.Output)
                {
                    if (o.Length > 0 && probed.TryGetValue(o, out var pv) && IsFloat(pv.Type))
                    {
                        depends.Add(o);
                    }
                }
            }
        }

        // Backward: which of those lead to the loss.
        var needed = new HashSet<string>(StringComparer.Ordinal) { request.Loss };
        for (int n = nodes.Count - 1; n >= 0; n--)
        {
            var node = nodes[n];
            if (!node.Output.Any(o => needed.Contains(o) && depends.Contains(o)))
            {
                continue;
            }

            var rule = GradientRules.Find(node)
                ?? throw new NotSupportedException($"Autodiff: no gradient rule for operator {node.OpType} (node '{node.Name}'), which lies between a trainable input and the loss.");
            foreach (int i in rule.Differentiable(node))
            {
                if (i < node.Input.Count && depends.Contains(node.Input[i]))
                {
                    needed.Add(node.Input[i]);
                }
            }
        }

        var contributions = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (depends.Contains(request.Loss))
        {
            contributions[request.Loss] = [emitter.Op("Expand", [emitter.Scalar(1), emitter.Int64s(lossInfo.Shape)], lossInfo.Shape)];
        }

        for (int n = nodes.Count - 1; n >= 0; n--)
        {
            var node = nodes[n];
            var gOut = node.Output.Select(o => contributions.TryGetValue(o, out var parts) ? emitter.Sum(parts) : null).ToArray();
            if (gOut.All(g => g is null))
            {
                continue;
            }

            var need = node.Input.Select(i => i.Length > 0 && needed.Contains(i) && depends.Contains(i)).ToArray();
            if (!need.Any(x => x))
            {
                continue;
            }

            var rule = GradientRules.Find(node)!;
            emitter.FloatType = (int)node.Input.Where(depends.Contains).Select(i => probed[i].Type).First();
            var gIn = rule.Backward(context, node, gOut, need);
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (need[i] && gIn[i] is { } g)
                {
                    if (!contributions.TryGetValue(node.Input[i], out var list))
                    {
                        contributions[node.Input[i]] = list = [];
                    }

                    list.Add(g);
                }
            }
        }

        emitter.FloatType = floatType;
        foreach (string w in request.Wrt)
        {
            var shape = shapes[w];
            string total = contributions.TryGetValue(w, out var parts) ? emitter.Sum(parts) : emitter.Zeros(shape);
            if (request.AccumulateGradients)
            {
                graph.Input.Add(ValueInfo(GradInPrefix + w, floatType, shape));
                shapes[GradInPrefix + w] = shape;
                total = emitter.Add(GradInPrefix + w, total);
            }

            var identity = new NodeProto { OpType = "Identity", Name = GradPrefix + w + "_out" };
            identity.Input.Add(total);
            identity.Output.Add(GradPrefix + w);
            graph.Node.Add(identity);
            graph.Output.Add(ValueInfo(GradPrefix + w, floatType, shape));
        }

        return model;
    }

    private static bool IsFloat(TensorElementType t) => t is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16;

    private static ValueInfoProto ValueInfo(string name, int elemType, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }
}

/// <summary>What a gradient rule may look at: the emitter for new nodes and the probed forward values.</summary>
internal sealed class GradientContext(GraphEmitter emitter, IReadOnlyDictionary<string, ProbedValue> probed, IReadOnlySet<string> initializers)
{
    public bool IsInitializer(string value) => initializers.Contains(value);

    public GraphEmitter E { get; } = emitter;

    public long[] Shape(string value) => E.ShapeOf(value);

    /// <summary>The contents of a small constant int64 tensor (shapes, axes, starts, split sizes).</summary>
    public long[] Ints(string value) => probed.TryGetValue(value, out var v) && v.Int64Values is { } ints
        ? ints
        : throw new NotSupportedException($"Autodiff: '{value}' must be a small constant int64 tensor.");

    public bool HasInts(string value) => probed.TryGetValue(value, out var v) && v.Int64Values is not null;

    public TensorElementType Type(string value) => probed[value].Type;
}
