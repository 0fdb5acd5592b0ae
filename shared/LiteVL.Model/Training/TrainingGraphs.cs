using System.Runtime.InteropServices;
using Google.Protobuf;
using LiteVL.Model.Graphs;
using LiteVL.Model.Text;
using LiteVL.Model.Training.Autodiff;
using LiteVL.Model.Weights;
using Onnx;

namespace LiteVL.Model.Training;

/// <summary>AdamW hyper-parameters (PyTorch's defaults for β and ε; BLIP's weight decay 0.05).</summary>
public sealed record AdamWSettings(double Beta1 = 0.9, double Beta2 = 0.999, double Epsilon = 1e-8, double WeightDecay = 0.05, double MaxGradNorm = 1.0);

/// <summary>
/// The graphs one training step runs: the retrieval loss (forward only, for timing and checks), the same loss
/// differentiated with in-graph gradient accumulation, and the AdamW update. All are ONNX graphs of standard operators,
/// so a step runs wherever ONNX Runtime runs the model.
/// </summary>
public static class TrainingGraphs
{
    /// <summary>BLIP's learnable ITC temperature: a training parameter, not a model weight (serving never uses it).</summary>
    public const string Temperature = LiteVLGraphBuilder.LossIo.Temperature;

    public const string ParamPrefix = "param.";
    public const string MomentPrefix = "m.";
    public const string VariancePrefix = "v.";
    public const string NewPrefix = "new.";
    public const string GradNorm = "grad_norm";

    /// <summary>Scalar inputs of the update graph.</summary>
    public static class UpdateIo
    {
        public const string LearningRate = "lr";
        public const string LearningRateNew = "lr_temporal";
        public const string GradScale = "grad_scale";
        public const string Bias1 = "bias_correction1";
        public const string Bias2 = "bias_correction2";
    }

    /// <summary>The forward retrieval loss for a micro-batch, trainable weights as graph inputs.</summary>
    public static ModelProto Loss(ModelWeights weights, IReadOnlyCollection<string> trainable, int batch)
    {
        var builder = new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, AttentionKind.Plain, Trainable: trainable.ToHashSet(StringComparer.Ordinal)));
        return builder.RetrievalLoss(batch);
    }

    /// <summary>Static shapes of every input of the loss graph.</summary>
    public static Dictionary<string, long[]> InputShapes(ModelWeights weights, IReadOnlyCollection<string> trainable, int batch)
    {
        var c = weights.Config;
        long l = BlipTokenizer.DefaultMaxLength;
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            [LiteVLGraphBuilder.LossIo.Frames] = [batch, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3],
            [LiteVLGraphBuilder.LossIo.InputIds] = [batch, l],
            [LiteVLGraphBuilder.LossIo.AttentionMask] = [batch, l],
            [LiteVLGraphBuilder.LossIo.ItmInputIds] = [batch, l],
            [LiteVLGraphBuilder.LossIo.ItcTargets] = [batch, batch],
            [LiteVLGraphBuilder.LossIo.NegativeMask] = [batch, batch],
            [LiteVLGraphBuilder.LossIo.NegativeUniforms] = [2, batch],
            [Temperature] = [1],
        };
        foreach (string name in trainable)
        {
            shapes[name] = weights[name].Shape;
        }

        return shapes;
    }

    /// <summary>
    /// The loss differentiated with respect to <paramref name="trainable"/> and the temperature, with gradient
    /// accumulation in the graph: inputs <c>grad_in.NAME</c>, outputs <c>grad.NAME</c> = grad_in + ∂loss/∂NAME.
    /// </summary>
    public static ModelProto Training(ModelWeights weights, IReadOnlyList<string> trainable, int batch)
    {
        var loss = Loss(weights, trainable, batch);
        return GraphDifferentiator.Differentiate(new GradientRequest(
            loss, LiteVLGraphBuilder.LossIo.Loss, [.. trainable, Temperature], InputShapes(weights, trainable, batch), AccumulateGradients: true));
    }

    /// <summary>
    /// One AdamW step over every parameter (names with their shapes; <paramref name="isNew"/> picks the temporal
    /// learning rate): the accumulated gradients are scaled by <c>grad_scale</c> (1 / micro-batches), clipped to a global
    /// norm of <see cref="AdamWSettings.MaxGradNorm"/> (as torch.nn.utils.clip_grad_norm_), then
    /// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p·(1 − lr·wd) − lr·(m/c1) / (√(v/c2) + ε) with decoupled weight
    /// decay only where <see cref="ParameterGroups.HasWeightDecay"/>; the temperature is clamped to [0.001, 0.5].
    /// Inputs <c>param.N</c>, <c>m.N</c>, <c>v.N</c>, <c>grad.N</c> and the scalars of <see cref="UpdateIo"/>; outputs
    /// <c>new.param.N</c>, <c>new.m.N</c>, <c>new.v.N</c> and <c>grad_norm</c> (before clipping).
    /// </summary>
    public static ModelProto AdamWUpdate(
        IReadOnlyList<(string Name, long[] Shape)> parameters, Func<string, bool> isNew, AdamWSettings settings, double textScale = 1, double minTemperature = Config.ModelConfig.MinItcTemperature)
    {
        var g = new GraphProto { Name = "adamw" };
        int counter = 0;
        string Node(string op, params string[] inputs)
        {
            string o = $"{op}_{counter++}";
            var n = new NodeProto { OpType = op, Name = o };
            n.Input.AddRange(inputs);
            n.Output.Add(o);
            g.Node.Add(n);
            return o;
        }

        string Const(float value)
        {
            string name = $"c_{counter++}";
            g.Initializer.Add(new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) });
            return name;
        }

        // The last node of a result writes the graph output itself (an Identity would be one more pass over it).
        string Output(string name, long[] shape)
        {
            g.Node[^1].Output[0] = name;
            g.Output.Add(FloatInfo(name, shape));
            return name;
        }

        foreach (string scalar in new[] { UpdateIo.LearningRate, UpdateIo.LearningRateNew, UpdateIo.GradScale, UpdateIo.Bias1, UpdateIo.Bias2 })
        {
            g.Input.Add(FloatInfo(scalar, [1]));
        }

        string sumSquares = Const(0f);
        foreach (var (name, shape) in parameters)
        {
            foreach (string prefix in new[] { ParamPrefix, MomentPrefix, VariancePrefix, GraphDifferentiator.GradPrefix })
            {
                g.Input.Add(FloatInfo(prefix + name, shape));
            }

            string squares = Node("ReduceSumSquare", GraphDifferentiator.GradPrefix + name);
            g.Node[^1].Attribute.Add(OnnxAttributes.Make("keepdims", 0L));
            sumSquares = Node("Add", sumSquares, squares);
        }

        // Scalars first, so each element sees as few passes as possible: ‖scale·g‖ = scale·‖g‖, and the scale, the
        // clip factor and the bias corrections fold into two scalars.
        string norm = Node("Mul", Node("Sqrt", sumSquares), UpdateIo.GradScale);
        string clip = Node("Min", Const(1f), Node("Div", Const((float)settings.MaxGradNorm), Node("Add", norm, Const(1e-6f))));
        string gradFactor = Node("Mul", UpdateIo.GradScale, clip);
        string invBias2 = Node("Reciprocal", UpdateIo.Bias2);
        Node("Reshape", norm, Int64s(g, "norm_shape", [1]));
        Output(GradNorm, [1]);

        string b1 = Const((float)settings.Beta1), oneMinusB1 = Const((float)(1 - settings.Beta1));
        string b2 = Const((float)settings.Beta2), oneMinusB2 = Const((float)(1 - settings.Beta2));
        string eps = Const((float)settings.Epsilon);
        var stepSize = new Dictionary<string, string>(StringComparer.Ordinal);
        var decayFactor = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string lr in new[] { UpdateIo.LearningRate, UpdateIo.LearningRateNew })
        {
            stepSize[lr] = Node("Div", lr, UpdateIo.Bias1);                                               // lr / c1
            decayFactor[lr] = Node("Sub", Const(1f), Node("Mul", lr, Const((float)settings.WeightDecay))); // 1 − lr·wd
        }

        // The text side (ParameterGroups.IsText) at a fixed share of lr: the share is a constant of the run, so it is
        // folded into the graph rather than fed each step.
        const string TextRate = "lr_text";
        if (textScale != 1)
        {
            string lrText = Node("Mul", UpdateIo.LearningRate, Const((float)textScale));
            stepSize[TextRate] = Node("Div", lrText, UpdateIo.Bias1);
            decayFactor[TextRate] = Node("Sub", Const(1f), Node("Mul", lrText, Const((float)settings.WeightDecay)));
        }

        foreach (var (name, shape) in parameters)
        {
            string lr = isNew(name) ? UpdateIo.LearningRateNew : textScale != 1 && ParameterGroups.IsText(name) ? TextRate : UpdateIo.LearningRate;
            string grad = Node("Mul", GraphDifferentiator.GradPrefix + name, gradFactor);
            Node("Add", Node("Mul", MomentPrefix + name, b1), Node("Mul", grad, oneMinusB1));
            string m = Output(NewPrefix + MomentPrefix + name, shape);
            Node("Add", Node("Mul", VariancePrefix + name, b2), Node("Mul", Node("Mul", grad, grad), oneMinusB2));
            string v = Output(NewPrefix + VariancePrefix + name, shape);

            // lr·(m/c1) / (√(v/c2) + ε)
            string update = Node("Div", Node("Mul", m, stepSize[lr]), Node("Add", Node("Sqrt", Node("Mul", v, invBias2)), eps));
            string p = ParamPrefix + name;
            if (ParameterGroups.HasWeightDecay(name))
            {
                p = Node("Mul", p, decayFactor[lr]);
            }

            Node("Sub", p, update);
            if (name == Temperature)
            {
                Node("Clip", g.Node[^1].Output[0], Const((float)minTemperature), Const((float)Config.ModelConfig.MaxItcTemperature));
            }

            Output(NewPrefix + ParamPrefix + name, shape);
        }

        var model = new ModelProto { IrVersion = 8, ProducerName = "litevl", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxGraph.OpsetVersion });
        return model;
    }

    private static string Int64s(GraphProto g, string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        g.Initializer.Add(t);
        return name;
    }

    private static ValueInfoProto FloatInfo(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
