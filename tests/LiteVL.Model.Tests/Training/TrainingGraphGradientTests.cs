using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Training;
using LiteVL.Model.Training.Autodiff;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using Io = LiteVL.Model.Graphs.LiteVLGraphBuilder.LossIo;

namespace LiteVL.Model.Tests.Training;

/// <summary>
/// The whole tiny training graph (video encoder with the temporal branch, text encoder, TDP and the grounded encoder,
/// ITC + ITM) against central differences of the forward loss along random directions, per group of weights. These
/// graphs hold Erf and Conv, which ONNX Runtime's CPU provider has only in float32, so the check runs in float32, with a
/// step that moves the loss by about 0.02 and Richardson extrapolation of two steps.
/// </summary>
public sealed class TrainingGraphGradientTests(ITestOutputHelper output)
{
    private const int Batch = 3;

    public static TheoryData<string, string> Cases => new()
    {
        { "per_frame", "temporal" },
        { "per_frame", "time embedding" },
        { "per_frame", "temporal scaling" },
        { "per_frame", "spatial vision" },
        { "per_frame", "text" },
        { "per_frame", "heads and temperature" },
        { "shared", "temporal" },
        { "shared", "spatial vision" },
        { "tdp_off", "text" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DirectionalDerivative_MatchesCentralDifferences(string variant, string group)
    {
        var weights = TestModels.Tiny(seed: 11, change: c => variant switch
        {
            "shared" => c with { ClsMode = ClsMode.Shared },
            "tdp_off" => c with { Tdp = c.Tdp with { Enabled = false } },
            _ => c,
        });
        foreach (var (name, w) in weights.Tensors.Where(kv => kv.Key.Contains(".temporal_fc.", StringComparison.Ordinal)))
        {
            // A temporal branch that matters (random temporal_fc is N(0, 0.02)), so its derivative stands above float32 noise.
            for (int i = 0; i < w.Data.Length; i++)
            {
                w.Data[i] *= 5;
            }
        }

        var all = WeightSpec.For(weights.Config).Select(e => e.Name).ToList();
        var trainable = all.Where(n => group switch
        {
            "temporal" => ParameterGroups.IsTemporal(n),
            "time embedding" => n == "vision_model.embeddings.time_embedding",
            "temporal scaling" => n.EndsWith(".temporal_scaling", StringComparison.Ordinal),
            "spatial vision" => n.StartsWith("vision_model.", StringComparison.Ordinal) && !ParameterGroups.IsTemporal(n),
            "text" => n.StartsWith("text_encoder.", StringComparison.Ordinal),
            _ => ParameterGroups.IsHead(n),
        }).ToList();
        var wrt = group == "heads and temperature" ? [.. trainable, TrainingGraphs.Temperature] : trainable;

        var batch = LossBatch.Random(weights.Config, Batch, seed: 5);
        var values = trainable.ToDictionary(n => n, n => (float[])weights[n].Data.Clone(), StringComparer.Ordinal);
        values[TrainingGraphs.Temperature] = [0.07f];

        using var loss = new NamedSession(TrainingGraphs.Loss(weights, trainable, Batch));
        using var train = new NamedSession(GraphDifferentiator.Differentiate(new GradientRequest(
            TrainingGraphs.Loss(weights, trainable, Batch), Io.Loss, wrt, TrainingGraphs.InputShapes(weights, trainable, Batch))));
        var shapes = TrainingGraphs.InputShapes(weights, trainable, Batch);

        var grads = train.Run(batch, values, shapes, wrt.Select(w => GraphDifferentiator.GradPrefix + w).ToArray());
        var rng = new Random(3);
        // Each tensor's direction is its own scale times (its normalised analytic gradient + Gaussian noise): the
        // gradient part keeps the directional derivative well above float32 noise, the noise part probes other
        // directions, and a wrong gradient changes both sides of the comparison differently.
        var direction = wrt.Select((n, k) => (n, k)).ToDictionary(p => p.n, p =>
        {
            var v = values[p.n];
            var gk = grads[p.k];
            double rms = Math.Sqrt(v.Sum(x => (double)x * x) / v.Length);
            double scale = rms > 1e-3 ? rms : 0.02;
            double grms = Math.Sqrt(gk.Sum(x => (double)x * x) / gk.Length);
            return gk.Select(gi => (float)(scale * ((grms > 0 ? 0.7 * gi / grms : 0) + Gaussian(rng)))).ToArray();
        }, StringComparer.Ordinal);

        double analytic = wrt.Select((w, i) => grads[i].Zip(direction[w], (g, d) => (double)g * d).Sum()).Sum();
        double Fd(double h)
        {
            double At(double t)
            {
                var moved = values.ToDictionary(kv => kv.Key, kv => direction.TryGetValue(kv.Key, out var d)
                    ? kv.Value.Zip(d, (x, dx) => (float)(x + (t * dx))).ToArray()
                    : kv.Value, StringComparer.Ordinal);
                return loss.Run(batch, moved, shapes, [Io.Loss])[0][0];
            }

            return (At(h) - At(-h)) / (2 * h);
        }

        // A step that moves the loss by about 0.02, but never so long that tanh (the scaling α) leaves its linear range.
        double h = Math.Min(0.02 / Math.Abs(analytic), 0.25);
        double fd1 = Fd(h), fd2 = Fd(h / 2);
        double fd = ((4 * fd2) - fd1) / 3;                                   // Richardson: cancels the h² term
        double error = Math.Abs(fd - analytic) / Math.Max(Math.Abs(fd), Math.Abs(analytic));
        output.WriteLine($"{variant} / {group}: {wrt.Count} tensors, analytic {analytic:E6}, finite differences {fd:E6} (h={h:E1}: {fd1:E6}), relative error {error:E2}");
        Assert.True(Math.Abs(analytic) > 1e-4, $"directional derivative {analytic} is too small for the check to mean anything");
        Assert.True(error <= 1e-3, $"{variant} / {group}: relative error {error:E2} (analytic {analytic:E6}, finite differences {fd:E6})");
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble());
}

/// <summary>A random micro-batch for the loss graph: frames, captions, the ITC targets and the negative draw.</summary>
internal sealed record LossBatch(byte[] Frames, long[] Ids, long[] Mask, long[] ItmIds, float[] Targets, float[] NegativeMask, float[] Uniforms)
{
    /// <summary>B examples; examples 0 and 1 share a video, so the targets have a row with two positives.</summary>
    public static LossBatch Random(ModelConfig c, int batch, int seed)
    {
        int s = c.Vision.ImageSize;
        var frames = TestModels.RandomFrames(seed, batch * c.NumFrames * s * s * 3);
        int frameBytes = c.NumFrames * s * s * 3;
        Array.Copy(frames, 0, frames, frameBytes, frameBytes);            // example 1 shows example 0's video
        var (ids, mask) = TestModels.RandomTokens(seed + 1, batch, 35, lengths: Enumerable.Range(0, batch).Select(i => 8 + (3 * i)).ToArray());
        var itm = (long[])ids.Clone();
        for (int b = 0; b < batch; b++)
        {
            itm[b * 35] = 30523;
        }

        var video = Enumerable.Range(0, batch).Select(i => i == 1 ? 0 : i).ToArray();
        var targets = new float[batch * batch];
        var negatives = new float[batch * batch];
        for (int i = 0; i < batch; i++)
        {
            int positives = video.Count(v => v == video[i]);
            for (int j = 0; j < batch; j++)
            {
                targets[(i * batch) + j] = video[i] == video[j] ? 1f / positives : 0f;
                negatives[(i * batch) + j] = video[i] == video[j] ? 0f : 1f;
            }
        }

        var rng = new Random(seed + 2);
        var uniforms = Enumerable.Range(0, 2 * batch).Select(_ => (float)(0.05 + (0.9 * rng.NextDouble()))).ToArray();
        return new LossBatch(frames, ids, mask, itm, targets, negatives, uniforms);
    }
}

/// <summary>An ORT session fed by name: the batch's tensors plus float tensors of given shapes.</summary>
internal sealed class NamedSession : IDisposable
{
    private readonly InferenceSession _session;

    public NamedSession(Onnx.ModelProto model)
    {
        using var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), so);
    }

    public float[][] Run(LossBatch batch, IReadOnlyDictionary<string, float[]> floats, IReadOnlyDictionary<string, long[]> shapes, string[] outputs)
    {
        var values = new List<OrtValue>();
        var names = new List<string>();
        void Add(string name, OrtValue v)
        {
            names.Add(name);
            values.Add(v);
        }

        try
        {
            foreach (string name in _session.InputNames)
            {
                var shape = shapes[name];
                switch (name)
                {
                    case Io.Frames: Add(name, OrtValue.CreateTensorValueFromMemory(batch.Frames, shape)); break;
                    case Io.InputIds: Add(name, OrtValue.CreateTensorValueFromMemory(batch.Ids, shape)); break;
                    case Io.AttentionMask: Add(name, OrtValue.CreateTensorValueFromMemory(batch.Mask, shape)); break;
                    case Io.ItmInputIds: Add(name, OrtValue.CreateTensorValueFromMemory(batch.ItmIds, shape)); break;
                    case Io.ItcTargets: Add(name, OrtValue.CreateTensorValueFromMemory(batch.Targets, shape)); break;
                    case Io.NegativeMask: Add(name, OrtValue.CreateTensorValueFromMemory(batch.NegativeMask, shape)); break;
                    case Io.NegativeUniforms: Add(name, OrtValue.CreateTensorValueFromMemory(batch.Uniforms, shape)); break;
                    default: Add(name, OrtValue.CreateTensorValueFromMemory(floats[name], shape)); break;
                }
            }

            using var ro = new RunOptions();
            using var results = _session.Run(ro, names, values, outputs);
            return results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray();
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();
}
