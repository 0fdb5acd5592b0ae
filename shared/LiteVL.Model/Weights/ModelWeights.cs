using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Weights;

/// <summary>A float32 tensor of the model: data in C order and its shape.</summary>
public sealed record Weight(float[] Data, long[] Shape)
{
    public long Count => Data.LongLength;
}

/// <summary>All weights of one LiteVL model in memory, checked against <see cref="WeightSpec"/>.</summary>
public sealed class ModelWeights
{
    public const string FileName = "weights.safetensors";

    private readonly Dictionary<string, Weight> _tensors;

    public ModelWeights(ModelConfig config, Dictionary<string, Weight> tensors)
    {
        Config = config;
        _tensors = tensors;
        Check();
    }

    public ModelConfig Config { get; }

    public IReadOnlyDictionary<string, Weight> Tensors => _tensors;

    public Weight this[string name] => _tensors.TryGetValue(name, out var w)
        ? w
        : throw new MissingWeightException($"The model has no tensor '{name}'.");

    public long ParameterCount => _tensors.Values.Sum(w => w.Count);

    /// <summary>Random weights for a preset or config (deterministic for a seed); kernels ~ N(0, kernelStd).</summary>
    public static ModelWeights Random(ModelConfig config, int seed, float kernelStd = 0.02f)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, Weight>(StringComparer.Ordinal);
        foreach (var e in WeightSpec.For(config))
        {
            var data = new float[HostTensor.ElementCountOf(e.Shape)];
            (double mean, double std) = e.Role switch
            {
                WeightRole.Kernel => (0.0, kernelStd),
                WeightRole.Bias => (0.0, 0.02),
                WeightRole.NormWeight => (1.0, 0.1),
                WeightRole.NormBias => (0.0, 0.05),
                WeightRole.TemporalExtra when e.Name.EndsWith("temporal_scaling", StringComparison.Ordinal) => (0.0, 0.5),
                WeightRole.TemporalExtra => (0.0, 0.02),
                _ => (0.0, 0.02),
            };
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (float)(mean + (std * Gaussian(rng)));
            }

            tensors[e.Name] = new Weight(data, e.Shape);
        }

        return new ModelWeights(config, tensors);
    }

    /// <summary>
    /// The same weights with the temporal branch as a BLIP import leaves it: temporal attention and its LayerNorm copies
    /// of the block's spatial ones, <c>temporal_fc</c>, <c>time_embedding</c> and α zero. The model then computes
    /// exactly BLIP's image model on every frame: the start of image-text pre-training (<c>litevl model init --image</c>).
    /// </summary>
    public ModelWeights WithImportedTemporalBranch()
    {
        var tensors = _tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        BlipImporter.SetImportedTemporalBranch(Config, tensors);
        return new ModelWeights(Config, tensors);
    }

    /// <summary>Amplitude of <see cref="WithSinCosPositionEmbedding"/> for image-text pre-training from scratch (measured, docs/evaluation.md).</summary>
    public const double PretrainPositionAmplitude = 3.0;

    /// <summary>
    /// The same weights with the patch tokens' position embedding set to a 2D sine-cosine code (as MAE initialises a ViT):
    /// the first half of the channels encodes the patch column, the second half its row (<see cref="SinCos"/>); the
    /// class token's row is left as it is. Random N(0, 0.02) positions are almost invisible next to the patch content,
    /// so a model pre-trained from them on small data learns little of where a shape is (<c>litevl model init --image
    /// --positions sincos</c>). Measured on the synthetic set (docs/evaluation.md): mirror test 90 % with this code at
    /// amplitude 3 against 55 % from random positions, yet the video ablation fine-tuned from it retrieved worse, so it is
    /// not the default.
    /// </summary>
    public ModelWeights WithSinCosPositionEmbedding(double amplitude = PretrainPositionAmplitude)
    {
        const string name = "vision_model.embeddings.position_embedding";
        var source = this[name];
        var v = Config.Vision;
        int dim = v.HiddenSize, half = dim / 2, grid = v.GridSize;
        var data = (float[])source.Data.Clone();
        for (int p = 0; p < v.NumPatches; p++)
        {
            int row = p / grid, column = p % grid;
            for (int k = 0; k < 2 * half; k++)
            {
                data[((p + 1) * dim) + k] = k < half ? SinCos(column, k, half, amplitude) : SinCos(row, k - half, half, amplitude);
            }
        }

        return With(name, new Weight(data, source.Shape));
    }

    /// <summary>The time embedding's weight name: one row per frame slot, zero after an import.</summary>
    public const string TimeEmbeddingName = "vision_model.embeddings.time_embedding";

    /// <summary>Amplitude of <see cref="WithSinCosTimeEmbedding"/> for video fine-tuning (measured, docs/evaluation.md).</summary>
    public const double FineTuneTimeAmplitude = 1.0;

    /// <summary>
    /// The same weights with the time embedding (one row per frame slot) set to a 1D sine-cosine code of the slot,
    /// <c>litevl train --time-init sincos</c>. The import leaves it at zero, where it is the only first-order route to
    /// frame order and grows slowly (while <c>temporal_fc</c> is zero the temporal attention passes it no gradient);
    /// started from the code, every frame slot is told apart from the first step. Measured on the synthetic set
    /// (docs/evaluation.md): with it, a long enough fine-tuning learns motion direction.
    /// </summary>
    public ModelWeights WithSinCosTimeEmbedding(double amplitude = FineTuneTimeAmplitude)
    {
        var source = this[TimeEmbeddingName];
        int slots = (int)source.Shape[0], dim = (int)source.Shape[1];
        var data = new float[source.Data.Length];
        for (int t = 0; t < slots; t++)
        {
            for (int k = 0; k < dim; k++)
            {
                data[(t * dim) + k] = SinCos(t, k, dim, amplitude);
            }
        }

        return With(TimeEmbeddingName, new Weight(data, source.Shape));
    }

    /// <summary>
    /// Channel <paramref name="channel"/> of a <paramref name="channels"/>-wide sine-cosine code of
    /// <paramref name="position"/>: pairs (sin, cos) at frequencies 100^(−2i/channels), scaled by the amplitude.
    /// </summary>
    private static float SinCos(double position, int channel, int channels, double amplitude)
    {
        double angle = position * Math.Pow(100, -(channel / 2 * 2.0) / channels);
        return (float)(amplitude * (channel % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle)));
    }

    private ModelWeights With(string name, Weight weight)
    {
        var tensors = _tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        tensors[name] = weight;
        return new ModelWeights(Config, tensors);
    }

    /// <summary>Loads <c>weights.safetensors</c>; every tensor of the spec must be present with its shape (F32, F16 or BF16).</summary>
    public static ModelWeights Load(ModelConfig config, string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelDirectoryException($"Weights file '{path}' does not exist.");
        }

        using var file = SafeTensorsFile.Open(path);
        var tensors = new Dictionary<string, Weight>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var e in WeightSpec.For(config))
        {
            if (!file.Contains(e.Name))
            {
                missing.Add(e.Name);
                continue;
            }

            tensors[e.Name] = new Weight(ReadChecked(file, e.Name, e.Shape), e.Shape);
        }

        if (missing.Count > 0)
        {
            throw new MissingWeightException(
                $"{path} lacks {missing.Count} tensor(s) the {config.Preset} architecture needs, first: {string.Join(", ", missing.Take(5))}.");
        }

        return new ModelWeights(config, tensors);
    }

    /// <summary>Reads a tensor, failing with both shapes named when it is mis-shaped.</summary>
    internal static float[] ReadChecked(SafeTensorsFile file, string name, long[] expectedShape)
    {
        var info = file.GetInfo(name);
        if (!info.Shape.AsSpan().SequenceEqual(expectedShape))
        {
            throw new WeightShapeException(
                $"Tensor '{name}' in {file.Path} has shape {HostTensor.FormatShape(info.Shape)}, but the configuration needs {HostTensor.FormatShape(expectedShape)}.");
        }

        if (info.DType is not (TensorDType.Float32 or TensorDType.Float16 or TensorDType.BFloat16 or TensorDType.Float64))
        {
            throw new WeightShapeException($"Tensor '{name}' in {file.Path} is {info.DType.ShortName()}; weights must be F32, F16 or BF16.");
        }

        return file.ReadFloat32(name);
    }

    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null, TensorDType dtype = TensorDType.Float32)
    {
        var items = WeightSpec.For(Config).Select(e =>
        {
            var t = HostTensor.FromFloats(_tensors[e.Name].Data, e.Shape);
            return new KeyValuePair<string, HostTensor>(e.Name, dtype == TensorDType.Float32 ? t : TensorConversion.ToDType(t, dtype));
        });
        SafeTensorsWriter.Write(path, items, metadata);
    }

    private void Check()
    {
        foreach (var e in WeightSpec.For(Config))
        {
            if (!_tensors.TryGetValue(e.Name, out var w))
            {
                throw new MissingWeightException($"Missing tensor '{e.Name}' (shape {HostTensor.FormatShape(e.Shape)}).");
            }

            if (!w.Shape.AsSpan().SequenceEqual(e.Shape) || w.Data.LongLength != HostTensor.ElementCountOf(e.Shape))
            {
                throw new WeightShapeException(
                    $"Tensor '{e.Name}' has shape {HostTensor.FormatShape(w.Shape)} ({w.Data.LongLength} values), but the configuration needs {HostTensor.FormatShape(e.Shape)}.");
            }
        }
    }

    private static double Gaussian(Random rng)
    {
        // Box-Muller: two uniforms to one standard normal.
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

public sealed class MissingWeightException : Exception
{
    public MissingWeightException(string message)
        : base(message)
    {
    }
}

public sealed class WeightShapeException : Exception
{
    public WeightShapeException(string message)
        : base(message)
    {
    }
}
