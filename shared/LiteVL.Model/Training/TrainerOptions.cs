using LiteVL.Model.Runtime;

namespace LiteVL.Model.Training;

/// <summary>
/// Everything that decides a training run. Two runs with equal options, weights and data produce the same weights
/// (every random draw comes from <see cref="Seed"/>), which is also what lets <c>--resume</c> continue a run exactly.
/// </summary>
public sealed record TrainerOptions
{
    public ParameterGroup Params { get; init; } = ParameterGroup.Temporal;

    /// <summary>Leave the dynamic temporal scaling α out of training (hold it at the value the weights bring).</summary>
    public bool FixedScaling { get; init; }

    public int Epochs { get; init; } = 5;

    /// <summary>Examples per micro-batch (one run of the training graph).</summary>
    public int Batch { get; init; } = 8;

    /// <summary>Micro-batches whose gradients are summed before one optimiser step.</summary>
    public int Accumulate { get; init; } = 1;

    /// <summary>Peak learning rate of the pre-trained BLIP weights (BLIP fine-tunes retrieval at 1e-5).</summary>
    public double LearningRate { get; init; } = 1e-5;

    /// <summary>Peak learning rate of the new temporal modules; unset, 10 × <see cref="LearningRate"/>.</summary>
    public double? TemporalLearningRate { get; init; }

    public double EffectiveTemporalLearningRate => TemporalLearningRate ?? (10 * LearningRate);

    /// <summary>
    /// Peak learning rate of the text side (<see cref="ParameterGroups.IsText"/>); unset, <see cref="LearningRate"/>. Below
    /// the video side's it keeps the text encoder from collapsing captions that differ only in direction ("moves left",
    /// "moves right") before the video side has learnt to tell the clips apart (docs/evaluation.md).
    /// </summary>
    public double? TextLearningRate { get; init; }

    /// <summary>The text side's learning rate as a share of <see cref="LearningRate"/> (both follow the same schedule).</summary>
    public double TextLearningRateScale => (TextLearningRate ?? LearningRate) / LearningRate;

    /// <summary>Start the time embedding from a 1D sine-cosine code (<see cref="Weights.ModelWeights.WithSinCosTimeEmbedding"/>) instead of the imported zeros.</summary>
    public bool TimeCode { get; init; }

    /// <summary>Linear warm-up over this share of all optimiser steps, then a cosine decay to <see cref="MinLearningRate"/>.</summary>
    public double WarmupFraction { get; init; } = 0.05;

    public double MinLearningRate { get; init; }

    public int Seed { get; init; }

    /// <summary>The initial ITC temperature; null: the model's <see cref="Config.ModelConfig.ItcTemperature"/>, else BLIP's 0.07.</summary>
    public float? InitialTemperature { get; init; }

    /// <summary>
    /// Floor of the learnable ITC temperature (<c>--min-temp</c>): BLIP clamps it to [0.001, 0.5]; CLIP's floor is 0.01
    /// (logit scale ≤ 100). A higher floor keeps the contrastive loss from being satisfied by tiny cosine gaps.
    /// </summary>
    public double MinTemperature { get; init; } = Config.ModelConfig.MinItcTemperature;

    public AdamWSettings AdamW { get; init; } = new();

    public ExecutionDevice Device { get; init; } = ExecutionDevice.Cpu;

    /// <summary>ONNX Runtime threads per operator (0: one per core).</summary>
    public int Threads { get; init; }

    public void Validate()
    {
        var errors = new List<string>();
        if (Epochs < 1)
        {
            errors.Add($"--epochs must be at least 1, not {Epochs}");
        }

        if (Batch < 2)
        {
            errors.Add($"--batch must be at least 2 (ITC and hard negatives need other examples in the batch), not {Batch}");
        }

        if (Accumulate < 1)
        {
            errors.Add($"--accumulate must be at least 1, not {Accumulate}");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            errors.Add($"--lr must be a positive number, not {LearningRate}");
        }

        if (TemporalLearningRate is { } t && (!(t > 0) || double.IsInfinity(t)))
        {
            errors.Add($"--lr-temporal must be a positive number, not {t}");
        }

        if (TextLearningRate is { } x && (!(x > 0) || double.IsInfinity(x)))
        {
            errors.Add($"--lr-text must be a positive number, not {x}");
        }

        if (TimeCode && Params == ParameterGroup.Blip)
        {
            errors.Add("--time-init sincos needs the temporal modules in training: --params blip leaves the time embedding untrained (and frame-mean BLIP has none)");
        }

        if (WarmupFraction is < 0 or >= 1)
        {
            errors.Add($"--warmup must be in [0, 1), not {WarmupFraction}");
        }

        if (MinLearningRate < 0 || MinLearningRate > LearningRate)
        {
            errors.Add($"--min-lr must be in [0, --lr], not {MinLearningRate}");
        }

        if (!(MinTemperature >= Config.ModelConfig.MinItcTemperature && MinTemperature < Config.ModelConfig.MaxItcTemperature))
        {
            errors.Add($"--min-temp must be in [{Config.ModelConfig.MinItcTemperature}, {Config.ModelConfig.MaxItcTemperature}) (BLIP's clamp), not {MinTemperature}");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors) + ".");
        }
    }

    /// <summary>The learning rate of step <paramref name="step"/> (0-based) of <paramref name="total"/>: warm-up, then cosine.</summary>
    public double LearningRateAt(int step, int total, double peak)
    {
        int warmup = (int)Math.Round(WarmupFraction * total);
        if (step < warmup)
        {
            return peak * (step + 1) / warmup;
        }

        double progress = (double)(step - warmup) / (total - warmup);
        double floor = Math.Min(MinLearningRate, peak);
        return floor + ((peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
