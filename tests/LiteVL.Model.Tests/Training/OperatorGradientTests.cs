using LiteVL.Model.Training.Autodiff;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Training;

/// <summary>
/// Every gradient rule against central finite differences, element by element, on random shapes and values. Float64
/// where ONNX Runtime's CPU kernels have it; the operators that are float32-only there (Erf, Conv, ConvTranspose) are
/// checked in float32 with a larger step.
/// </summary>
public sealed class OperatorGradientTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-3;

    /// <summary>Each case builds its graph for a precision; the loss is Σ R ⊙ outputs.</summary>
    private static readonly Dictionary<string, Action<CheckGraph>> Cases = new(StringComparer.Ordinal)
    {
        ["Add broadcast"] = g => g.Loss((g.Op("Add", [g.Input("a", [2, 3, 4]), g.Input("b", [3, 1])]), [2, 3, 4])),
        ["Sub broadcast"] = g => g.Loss((g.Op("Sub", [g.Input("a", [4]), g.Input("b", [2, 3, 4])]), [2, 3, 4])),
        ["Mul broadcast"] = g => g.Loss((g.Op("Mul", [g.Input("a", [2, 1, 4]), g.Input("b", [1, 3, 1])]), [2, 3, 4])),
        ["Div broadcast"] = g => g.Loss((g.Op("Div", [g.Input("a", [2, 3]), g.Input("b", [1, 3], 0.5, 1.5)]), [2, 3])),
        ["Sum three"] = g => g.Loss((g.Op("Sum", [g.Input("a", [2, 3]), g.Input("b", [3]), g.Input("c", [2, 1])]), [2, 3])),
        ["Max with constant"] = g => g.Loss((g.Op("Max", [g.Input("a", [3, 4]), g.Const([1], 0, 0)]), [3, 4])),
        ["Max two inputs"] = g => g.Loss((g.Op("Max", [g.Input("a", [3, 4]), g.Input("b", [3, 4])]), [3, 4])),
        ["Min two inputs"] = g => g.Loss((g.Op("Min", [g.Input("a", [3, 4]), g.Input("b", [4])]), [3, 4])),
        ["Where"] = g => g.Loss((g.Op("Where", [g.Bools([2, 3], [true, false, true, false, false, true]), g.Input("a", [2, 3]), g.Input("b", [3])]), [2, 3])),
        ["Neg"] = g => g.Loss((g.Op("Neg", [g.Input("a", [5])]), [5])),
        ["Identity"] = g => g.Loss((g.Op("Identity", [g.Input("a", [2, 2])]), [2, 2])),
        ["Reshape"] = g => g.Loss((g.Op("Reshape", [g.Input("a", [2, 3, 4]), g.Ints(0, -1, 2)]), [2, 6, 2])),
        ["Unsqueeze"] = g => g.Loss((g.Op("Unsqueeze", [g.Input("a", [2, 3]), g.Ints(1, 3)]), [2, 1, 3, 1])),
        ["Squeeze"] = g => g.Loss((g.Op("Squeeze", [g.Input("a", [2, 1, 3]), g.Ints(1)]), [2, 3])),
        ["Flatten"] = g => g.Loss((g.Op("Flatten", [g.Input("a", [2, 3, 2])], ("axis", 1L)), [2, 6])),
        ["Transpose"] = g => g.Loss((g.Op("Transpose", [g.Input("a", [2, 3, 4, 5])], ("perm", new long[] { 0, 2, 3, 1 })), [2, 4, 5, 3])),
        ["MatMul 2-D"] = g => g.Loss((g.Op("MatMul", [g.Input("a", [3, 4]), g.Input("b", [4, 5])]), [3, 5])),
        ["MatMul batch by weight"] = g => g.Loss((g.Op("MatMul", [g.Input("a", [2, 3, 4]), g.Input("w", [4, 2])]), [2, 3, 2])),
        ["MatMul batched"] = g => g.Loss((g.Op("MatMul", [g.Input("a", [2, 2, 3, 4]), g.Input("b", [2, 2, 4, 3])]), [2, 2, 3, 3])),
        ["MatMul broadcast batch"] = g => g.Loss((g.Op("MatMul", [g.Input("a", [2, 1, 3, 4]), g.Input("b", [1, 3, 4, 2])]), [2, 3, 3, 2])),
        ["Concat"] = g => g.Loss((g.Op("Concat", [g.Input("a", [2, 1, 3]), g.Input("b", [2, 2, 3]), g.Input("c", [2, 3, 3])], ("axis", -2L)), [2, 6, 3])),
        ["Split, one output unused"] = g =>
        {
            var parts = g.OpMulti("Split", [g.Input("a", [2, 7]), g.Ints(2, 3, 2)], 3, ("axis", 1L));
            g.Loss((parts[0], [2, 2]), (parts[2], [2, 2]));
        },
        ["Slice negative start, axes"] = g => g.Loss((g.Op("Slice", [g.Input("a", [3, 5, 4]), g.Ints(1, -3), g.Ints(3, 100), g.Ints(0, 1)]), [2, 3, 4])),
        ["Gather constant scalar index"] = g => g.Loss((g.Op("Gather", [g.Input("a", [2, 4, 3]), g.IntScalar(2)], ("axis", 1L)), [2, 3])),
        ["Gather repeated indices"] = g => g.Loss((g.Op("Gather", [g.Input("table", [5, 3]), g.Ints(4, 0, 4, 2, 0, 0)], ("axis", 0L)), [6, 3])),
        ["Gather 2-D indices"] = g => g.Loss((g.Op("Gather", [g.Input("table", [4, 2, 2]), g.Op("Reshape", [g.Ints(1, 3, 1, 0, 2, 1), g.Ints(2, 3)])], ("axis", 0L)), [2, 3, 2, 2])),
        ["Expand"] = g => g.Loss((g.Op("Expand", [g.Input("a", [3, 1]), g.Ints(2, 3, 4)]), [2, 3, 4])),
        ["Tile"] = g => g.Loss((g.Op("Tile", [g.Input("a", [2, 1, 3]), g.Ints(2, 4, 1)]), [4, 4, 3])),
        ["ReduceSum keepdims"] = g => g.Loss((g.Op("ReduceSum", [g.Input("a", [2, 3, 4]), g.Ints(0, 2)]), [1, 3, 1])),
        ["ReduceSum dropped axis"] = g => g.Loss((g.Op("ReduceSum", [g.Input("a", [2, 3, 4]), g.Ints(-2)], ("keepdims", 0L)), [2, 4])),
        ["ReduceSum all"] = g => g.Loss((g.Op("ReduceSum", [g.Input("a", [2, 3])], ("keepdims", 0L)), [])),
        ["ReduceMean"] = g => g.Loss((g.Op("ReduceMean", [g.Input("a", [2, 3, 4])], ("axes", new long[] { 1 }), ("keepdims", 0L)), [2, 4])),
        ["ReduceL2"] = g => g.Loss((g.Op("ReduceL2", [g.Input("a", [3, 4])], ("axes", new long[] { -1 }), ("keepdims", 1L)), [3, 1])),
        ["L2 normalize"] = g =>
        {
            string x = g.Input("a", [3, 4]);
            string norm = g.Op("ReduceL2", [x], ("axes", new long[] { -1 }), ("keepdims", 1L));
            g.Loss((g.Op("Div", [x, g.Op("Max", [norm, g.Const([], 1e-12, 1e-12)])]), [3, 4]));
        },
        ["Softmax"] = g => g.Loss((g.Op("Softmax", [g.Input("a", [2, 3, 4], -2, 2)], ("axis", 1L)), [2, 3, 4])),
        ["LogSoftmax"] = g => g.Loss((g.Op("LogSoftmax", [g.Input("a", [3, 5], -2, 2)], ("axis", -1L)), [3, 5])),
        ["LayerNormalization"] = g => g.Loss((g.Op("LayerNormalization", [g.Input("x", [2, 3, 6], -2, 2), g.Input("gamma", [6], 0.5, 1.5), g.Input("beta", [6])], ("axis", -1L), ("epsilon", 1e-6f)), [2, 3, 6])),
        ["Erf"] = g => g.Loss((g.Op("Erf", [g.Input("a", [2, 5], -2, 2)]), [2, 5])),
        ["Tanh"] = g => g.Loss((g.Op("Tanh", [g.Input("a", [2, 5], -2, 2)]), [2, 5])),
        ["Exp"] = g => g.Loss((g.Op("Exp", [g.Input("a", [4])]), [4])),
        ["Log"] = g => g.Loss((g.Op("Log", [g.Input("a", [4], 0.5, 2)]), [4])),
        ["Sqrt"] = g => g.Loss((g.Op("Sqrt", [g.Input("a", [4], 0.5, 2)]), [4])),
        ["Reciprocal"] = g => g.Loss((g.Op("Reciprocal", [g.Input("a", [4], 0.5, 2)]), [4])),
        ["Relu"] = g => g.Loss((g.Op("Relu", [g.Constant([6], [-1, -0.5, 0.3, 0.7, 1.2, -2])]), [6]), (g.Op("Relu", [g.Input("a", [4], 0.2, 1)]), [4])),
        ["CumSum"] = g => g.Loss((g.Op("CumSum", [g.Input("a", [3, 4]), g.Ints(1)]), [3, 4])),
        ["Conv strided padded"] = g => g.Loss((g.Op("Conv", [g.Input("x", [2, 2, 5, 5]), g.Input("w", [3, 2, 3, 3]), g.Input("b", [3])], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 })), [2, 3, 3, 3])),
        ["Conv patch embedding"] = g => g.Loss((g.Op("Conv", [g.Input("x", [2, 3, 8, 8]), g.Input("w", [4, 3, 4, 4]), g.Input("b", [4])], ("kernel_shape", new long[] { 4, 4 }), ("strides", new long[] { 4, 4 })), [2, 4, 2, 2])),
        ["GELU as built"] = g =>
        {
            string x = g.Input("a", [3, 4], -3, 3);
            string erf = g.Op("Erf", [g.Op("Div", [x, g.Constant([], [Math.Sqrt(2)])])]);
            g.Loss((g.Op("Mul", [g.Op("Mul", [x, g.Op("Add", [erf, g.Constant([], [1])])]), g.Constant([], [0.5])]), [3, 4]));
        },
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Gradient_MatchesCentralDifferences(string name)
    {
        var (errors, precision) = Check(Cases[name]);
        foreach (var (input, error) in errors)
        {
            output.WriteLine($"{name} [{precision}] d/d{input}: relative error {error:E2}");
            Assert.True(error <= Tolerance, $"{name} ({precision}): ∂loss/∂{input} relative error {error:E2} > {Tolerance:E0}");
        }
    }

    [Fact]
    public void Cast_Float64ToFloat32_PassesGradientBack()
    {
        var g = new CheckGraph(float64: true);
        string y = g.Op("Cast", [g.Op("Mul", [g.Op("Cast", [g.Input("a", [5])], ("to", 1L)), g.Op("Cast", [g.Const([5])], ("to", 1L))])], ("to", 11L));
        g.Loss((y, [5]));
        var errors = GradientCheck.RelativeErrors(g, step: 1e-2);
        Assert.True(errors["a"] <= Tolerance, $"relative error {errors["a"]:E2}");
    }

    [Fact]
    public void EveryRuleOfTheDifferentiator_HasACase()
    {
        // A rule added without a finite-difference case fails here. Operators without gradient are listed apart.
        string[] noGradient = ["Shape", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "Range", "ConstantOfShape", "OneHot", "ArgMax"];
        var covered = Cases.Keys.Select(k => k.Split(' ')[0].TrimEnd(',')).Append("Cast").Append("L2").ToHashSet(StringComparer.Ordinal);
        var missing = GradientRulesOperators().Except(noGradient).Where(op => !covered.Contains(op)).ToList();
        Assert.True(missing.Count == 0, "operators without a finite-difference case: " + string.Join(", ", missing));
    }

    [Fact]
    public void BrokenRule_IsCaught()
    {
        // The check itself can fail: Tanh differentiated as if it were the identity misses by far more than the tolerance.
        var g = new CheckGraph(float64: true);
        g.Loss((g.Op("Tanh", [g.Input("a", [6], -2, 2)]), [6]));
        var forward = g.ToModel();
        var broken = g.ToModel();
        broken.Graph.Node[0].OpType = "Identity";
        var training = GraphDifferentiator.Differentiate(new GradientRequest(broken, "loss", ["a"], g.InputShapes));
        using var train = GradientCheck.Session(training);
        using var fwd = GradientCheck.Session(forward);
        var analytic = GradientCheck.Run(train, g, g.InputValues, ["grad.a"])[0];
        var x = g.InputValues["a"];
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            var values = new Dictionary<string, double[]> { ["a"] = (double[])x.Clone() };
            values["a"][i] += 1e-6;
            double plus = GradientCheck.Run(fwd, g, values, ["loss"])[0][0];
            values["a"][i] -= 2e-6;
            double minus = GradientCheck.Run(fwd, g, values, ["loss"])[0][0];
            worst = Math.Max(worst, Math.Abs(((plus - minus) / 2e-6) - analytic[i]));
        }

        Assert.True(worst > 0.05, $"a wrong rule differs from finite differences by only {worst}");
    }

    [Fact]
    public void UnsupportedOperator_OnTheGradientPath_IsAClearError()
    {
        var g = new CheckGraph(float64: false);
        g.Loss((g.Op("Sin", [g.Input("a", [3])]), [3]));
        var e = Assert.Throws<NotSupportedException>(() => GraphDifferentiator.Differentiate(new GradientRequest(g.ToModel(), "loss", ["a"], g.InputShapes)));
        Assert.Contains("Sin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BranchesLeadingOnlyToFrozenInputs_GetNoGradientNodes()
    {
        // y = (a·w) + b: with only b trainable, nothing in the graph may differentiate the MatMul.
        var g = new CheckGraph(float64: true);
        string a = g.Input("a", [3, 4]);
        string w = g.Input("w", [4, 2]);
        string b = g.Input("b", [2]);
        g.Loss((g.Op("Add", [g.Op("MatMul", [a, w]), b]), [3, 2]));
        var training = GraphDifferentiator.Differentiate(new GradientRequest(g.ToModel(), "loss", ["b"], g.InputShapes));
        int matmuls = training.Graph.Node.Count(n => n.OpType == "MatMul");
        Assert.Equal(1, matmuls);
        Assert.Contains(training.Graph.Output, o => o.Name == "grad.b");
        Assert.DoesNotContain(training.Graph.Output, o => o.Name == "grad.w");
    }

    [Fact]
    public void AccumulatingGraph_AddsTheIncomingGradient()
    {
        var g = new CheckGraph(float64: true);
        g.Loss((g.Op("Mul", [g.Input("a", [3]), g.Constant([3], [1, 2, 3])]), [3]));
        var training = GraphDifferentiator.Differentiate(new GradientRequest(g.ToModel(), "loss", ["a"], g.InputShapes, AccumulateGradients: true));
        using var session = GradientCheck.Session(training);
        using var a = OrtValue.CreateTensorValueFromMemory(g.InputValues["a"], [3]);
        using var acc = OrtValue.CreateTensorValueFromMemory(new double[] { 10, 20, 30 }, [3]);
        using var ro = new RunOptions();
        using var outputs = session.Run(ro, ["a", "grad_in.a"], [a, acc], ["grad.a"]);
        var plain = GraphDifferentiator.Differentiate(new GradientRequest(g.ToModel(), "loss", ["a"], g.InputShapes));
        using var plainSession = GradientCheck.Session(plain);
        var once = GradientCheck.Run(plainSession, g, g.InputValues, ["grad.a"])[0];
        var accumulated = outputs[0].GetTensorDataAsSpan<double>().ToArray();
        Assert.Equal(new[] { 10 + once[0], 20 + once[1], 30 + once[2] }, accumulated);
    }

    private static IEnumerable<string> GradientRulesOperators() => GradientRules.Operators;

    private static (Dictionary<string, double> Errors, string Precision) Check(Action<CheckGraph> build)
    {
        var g64 = new CheckGraph(float64: true);
        build(g64);
        try
        {
            return (GradientCheck.RelativeErrors(g64), "float64");
        }
        catch (OnnxRuntimeException e) when (e.Message.Contains("NOT_IMPLEMENTED", StringComparison.Ordinal) || e.Message.Contains("Could not find an implementation", StringComparison.Ordinal))
        {
            var g32 = new CheckGraph(float64: false);
            build(g32);
            return (GradientCheck.RelativeErrors(g32, step: 1e-2), "float32");
        }
    }
}
