using Google.Protobuf;
using LiteVL.Model.Training;
using LiteVL.Model.Training.Autodiff;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Tests.Training;

/// <summary>
/// The AdamW update graph against a plain double-precision AdamW written from PyTorch's definition
/// (<c>torch.optim.AdamW</c> after <c>clip_grad_norm_</c>): accumulated gradients scaled, clipped to a global norm, moments,
/// bias correction, decoupled weight decay only where BLIP applies it, the temporal learning rate for the new modules,
/// and the temperature clamped to [floor, 0.5] (BLIP's floor 0.001, or <c>--min-temp</c>).
/// </summary>
public sealed class AdamWUpdateTests
{
    // Names chosen to hit every branch: decayed kernel, bias (no decay), LayerNorm (no decay), a temporal kernel (new
    // learning rate, decayed), the scaling α (new learning rate, no decay) and the temperature (clamped, no decay).
    private static readonly (string Name, long[] Shape)[] Parameters =
    [
        ("text_encoder.encoder.layer.0.attention.self.query.weight", [6, 5]),
        ("text_encoder.encoder.layer.0.attention.self.query.bias", [6]),
        ("text_encoder.embeddings.LayerNorm.weight", [5]),
        ("vision_model.encoder.layers.1.temporal_fc.weight", [4, 4]),
        ("vision_model.encoder.layers.1.temporal_scaling", [1, 3, 1]),
        (TrainingGraphs.Temperature, [1]),
    ];

    public static TheoryData<double, int, bool, double, double> Cases => new()
    {
        // grad scale (1 / micro-batches), step t, whether the gradients are large enough to be clipped, the text side's
        // share of lr (--lr-text), the temperature's floor (--min-temp; BLIP's 0.001)
        { 1.0, 1, false, 1.0, 0.001 },
        { 0.5, 3, false, 1.0, 0.001 },
        { 0.25, 7, true, 1.0, 0.001 },
        { 1.0, 2, false, 0.1, 0.001 },
        { 1.0, 2, false, 1.0, 0.02 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Update_EqualsPyTorchsAdamWAfterGlobalNormClipping(double gradScale, int t, bool clipped, double textScale, double minTemperature)
    {
        var settings = new AdamWSettings();
        var graph = TrainingGraphs.AdamWUpdate(Parameters, ParameterGroups.IsTemporal, settings, textScale, minTemperature);
        using var session = new InferenceSession(graph.ToByteArray());
        var rng = new Random(t);
        const double lr = 3e-4, lrNew = 2e-3;
        double bias1 = 1 - Math.Pow(settings.Beta1, t), bias2 = 1 - Math.Pow(settings.Beta2, t);
        float gradSize = clipped ? 5f : 0.02f;

        var p = new Dictionary<string, float[]>();
        var m = new Dictionary<string, float[]>();
        var v = new Dictionary<string, float[]>();
        var g = new Dictionary<string, float[]>();
        foreach (var (name, shape) in Parameters)
        {
            int n = (int)shape.Aggregate(1L, (a, d) => a * d);
            p[name] = Random(rng, n, 1f);
            m[name] = Random(rng, n, 0.01f);
            v[name] = [.. Random(rng, n, 0.01f).Select(x => x * x)];
            g[name] = Random(rng, n, gradSize);
        }

        // The temperature: fresh moments and a positive gradient make Adam's step at least 0.5·lr (for t ≤ 7), which
        // takes the floor + 0.00005 below the floor, so the clamp must act.
        p[TrainingGraphs.Temperature][0] = (float)(minTemperature + 0.00005);
        m[TrainingGraphs.Temperature][0] = 0f;
        v[TrainingGraphs.Temperature][0] = 0f;
        g[TrainingGraphs.Temperature][0] = Math.Abs(g[TrainingGraphs.Temperature][0]) + gradSize;

        // Reference: clip_grad_norm_ over every parameter, then AdamW per parameter.
        double sumSquares = g.Values.SelectMany(x => x).Sum(x => (x * gradScale) * (x * gradScale));
        double norm = Math.Sqrt(sumSquares);
        double clip = Math.Min(1.0, settings.MaxGradNorm / (norm + 1e-6));
        Assert.Equal(clipped, clip < 1.0);

        var inputs = new List<(string, OrtValue)>();
        var names = new List<string>();
        try
        {
            void Add(string name, float[] data, long[] shape)
            {
                inputs.Add((name, OrtValue.CreateTensorValueFromMemory(data, shape)));
            }

            Add(TrainingGraphs.UpdateIo.LearningRate, [(float)lr], [1]);
            Add(TrainingGraphs.UpdateIo.LearningRateNew, [(float)lrNew], [1]);
            Add(TrainingGraphs.UpdateIo.GradScale, [(float)gradScale], [1]);
            Add(TrainingGraphs.UpdateIo.Bias1, [(float)bias1], [1]);
            Add(TrainingGraphs.UpdateIo.Bias2, [(float)bias2], [1]);
            foreach (var (name, shape) in Parameters)
            {
                Add(TrainingGraphs.ParamPrefix + name, p[name], shape);
                Add(TrainingGraphs.MomentPrefix + name, m[name], shape);
                Add(TrainingGraphs.VariancePrefix + name, v[name], shape);
                Add(GraphDifferentiator.GradPrefix + name, g[name], shape);
            }

            using var results = session.Run(new RunOptions(), inputs.Select(i => i.Item1).ToArray(), inputs.Select(i => i.Item2).ToArray(), session.OutputNames);
            var outputs = session.OutputNames.Zip(results).ToDictionary(x => x.First, x => x.Second.GetTensorDataAsSpan<float>().ToArray());
            Assert.Equal(norm, outputs[TrainingGraphs.GradNorm][0], 1e-4 * Math.Max(1, norm));

            foreach (var (name, _) in Parameters)
            {
                double rate = ParameterGroups.IsTemporal(name) ? lrNew : ParameterGroups.IsText(name) ? lr * textScale : lr;
                bool decay = ParameterGroups.HasWeightDecay(name);
                var newP = outputs[TrainingGraphs.NewPrefix + TrainingGraphs.ParamPrefix + name];
                var newM = outputs[TrainingGraphs.NewPrefix + TrainingGraphs.MomentPrefix + name];
                var newV = outputs[TrainingGraphs.NewPrefix + TrainingGraphs.VariancePrefix + name];
                for (int i = 0; i < p[name].Length; i++)
                {
                    double gi = g[name][i] * gradScale * clip;
                    double mi = (settings.Beta1 * m[name][i]) + ((1 - settings.Beta1) * gi);
                    double vi = (settings.Beta2 * v[name][i]) + ((1 - settings.Beta2) * gi * gi);
                    double pi = p[name][i] * (decay ? 1 - (rate * settings.WeightDecay) : 1);
                    pi -= rate * (mi / bias1) / (Math.Sqrt(vi / bias2) + settings.Epsilon);
                    if (name == TrainingGraphs.Temperature)
                    {
                        pi = Math.Clamp(pi, minTemperature, 0.5);
                    }

                    Assert.True(Math.Abs(newM[i] - mi) <= 1e-6 * Math.Max(1, Math.Abs(mi)), $"{name}[{i}]: m {newM[i]} vs {mi}");
                    Assert.True(Math.Abs(newV[i] - vi) <= 1e-6 * Math.Max(1e-3, Math.Abs(vi)), $"{name}[{i}]: v {newV[i]} vs {vi}");
                    Assert.True(Math.Abs(newP[i] - pi) <= 2e-6 * Math.Max(1, Math.Abs(pi)), $"{name}[{i}]: p {newP[i]} vs {pi} (decay {decay}, lr {rate})");
                }
            }

            Assert.Equal((float)minTemperature, outputs[TrainingGraphs.NewPrefix + TrainingGraphs.ParamPrefix + TrainingGraphs.Temperature][0]);
        }
        finally
        {
            foreach (var (_, value) in inputs)
            {
                value.Dispose();
            }
        }
    }

    [Fact]
    public void WeightDecay_SkipsNormsBiasesScalingAndTemperature_AndTheNewRateIsTheTemporalModules()
    {
        Assert.True(ParameterGroups.HasWeightDecay("text_encoder.encoder.layer.0.attention.self.query.weight"));
        Assert.True(ParameterGroups.HasWeightDecay("vision_model.embeddings.time_embedding"));
        Assert.False(ParameterGroups.HasWeightDecay("text_encoder.encoder.layer.0.attention.self.query.bias"));
        Assert.False(ParameterGroups.HasWeightDecay("text_encoder.embeddings.LayerNorm.weight"));
        Assert.False(ParameterGroups.HasWeightDecay("vision_model.encoder.layers.0.layer_norm1.weight"));
        Assert.False(ParameterGroups.HasWeightDecay("vision_model.post_layernorm.weight"));
        Assert.False(ParameterGroups.HasWeightDecay("vision_model.encoder.layers.0.temporal_scaling"));
        Assert.False(ParameterGroups.HasWeightDecay(TrainingGraphs.Temperature));
        Assert.True(ParameterGroups.IsTemporal("vision_model.encoder.layers.3.temporal_attn.qkv.weight"));
        Assert.False(ParameterGroups.IsTemporal("vision_model.encoder.layers.3.self_attn.qkv.weight"));
    }

    private static float[] Random(Random rng, int n, float scale) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(((rng.NextDouble() * 2) - 1) * scale))];
}
