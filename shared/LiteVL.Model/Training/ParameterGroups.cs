using LiteVL.Model.Weights;

namespace LiteVL.Model.Training;

/// <summary>Which weights <c>litevl train --params</c> trains.</summary>
public enum ParameterGroup
{
    /// <summary>The temporal modules LiteVL adds: temporal attention, its LayerNorm, temporal_fc, the scaling α, the time embedding.</summary>
    Temporal,

    /// <summary>Temporal plus the projections (vision_proj, text_proj) and the ITM head.</summary>
    Heads,

    /// <summary>Every weight of the model.</summary>
    All,

    /// <summary>
    /// The video side: the vision encoder with its temporal modules and vision_proj. The text encoder, text_proj, the
    /// grounded encoder and the ITM head stay as they are, so the words the text side already tells apart (a small
    /// model's "left" and "right") cannot collapse while the video side learns to match them.
    /// </summary>
    Vision,

    /// <summary>
    /// Every BLIP weight and none of the temporal modules: image-text pre-training of a BLIP model, or fine-tuning a
    /// video model without its temporal branch (which then stays as imported: zero, i.e. frame-mean BLIP).
    /// </summary>
    Blip,
}

/// <summary>The parameter groups, weight decay eligibility and the "new module" learning rate split.</summary>
public static class ParameterGroups
{
    public static ParameterGroup Parse(string value) => value.ToLowerInvariant() switch
    {
        "temporal" => ParameterGroup.Temporal,
        "heads" => ParameterGroup.Heads,
        "all" => ParameterGroup.All,
        "blip" => ParameterGroup.Blip,
        "vision" => ParameterGroup.Vision,
        _ => throw new ArgumentException($"--params must be temporal, heads, vision, all or blip, not '{value}'.", nameof(value)),
    };

    /// <summary>
    /// The retrieval weights a group trains, in the order of the weight spec (never the video QA heads). <paramref name="fixedScaling"/> leaves the dynamic
    /// temporal scaling α out (it stays what the weights hold; <see cref="FixScaling"/> sets it to 0, factor 1).
    /// </summary>
    public static IReadOnlyList<string> Select(ModelWeights weights, ParameterGroup group, bool fixedScaling = false) =>
        WeightSpec.For(weights.Config).Select(e => e.Name).Where(n => !WeightSpec.IsQa(n)).Where(n => group switch
        {
            ParameterGroup.Temporal => IsTemporal(n),
            ParameterGroup.Heads => IsTemporal(n) || IsHead(n),
            ParameterGroup.Blip => !IsTemporal(n),
            ParameterGroup.Vision => IsVision(n),
            _ => true,
        }).Where(n => !(fixedScaling && IsScaling(n))).ToList();

    /// <summary>
    /// The weights with every layer's α set to 0, so the scaling factor 1 + tanh α is exactly 1 (the ablation's
    /// "temporal attention without dynamic scaling" when α is then left out of training).
    /// </summary>
    public static ModelWeights FixScaling(ModelWeights weights)
    {
        var tensors = weights.Tensors.ToDictionary(
            kv => kv.Key,
            kv => IsScaling(kv.Key) ? new Weight(new float[kv.Value.Data.Length], kv.Value.Shape) : kv.Value,
            StringComparer.Ordinal);
        return new ModelWeights(weights.Config, tensors);
    }

    public static bool IsScaling(string name) => name.EndsWith(".temporal_scaling", StringComparison.Ordinal);

    /// <summary>The modules LiteVL adds to BLIP (trained with their own, usually higher, learning rate).</summary>
    public static bool IsTemporal(string name) =>
        name == ModelWeights.TimeEmbeddingName
        || name.Contains(".temporal_layer_norm.", StringComparison.Ordinal)
        || name.Contains(".temporal_attn.", StringComparison.Ordinal)
        || name.Contains(".temporal_fc.", StringComparison.Ordinal)
        || name.EndsWith(".temporal_scaling", StringComparison.Ordinal);

    /// <summary>The video side: every vision-encoder weight (temporal modules included) and vision_proj.</summary>
    public static bool IsVision(string name) =>
        name.StartsWith("vision_model.", StringComparison.Ordinal) || name.StartsWith("vision_proj.", StringComparison.Ordinal);

    /// <summary>The text side of retrieval: the text encoder (whose layers the grounded encoder shares) and text_proj (<c>--lr-text</c>).</summary>
    public static bool IsText(string name) =>
        name.StartsWith("text_encoder.", StringComparison.Ordinal) || name.StartsWith("text_proj.", StringComparison.Ordinal);

    public static bool IsHead(string name) =>
        name.StartsWith("vision_proj.", StringComparison.Ordinal)
        || name.StartsWith("text_proj.", StringComparison.Ordinal)
        || name.StartsWith("itm_head.", StringComparison.Ordinal);

    /// <summary>AdamW's decoupled weight decay applies to kernels and embeddings, never to norms, biases, the scaling α or the temperature.</summary>
    public static bool HasWeightDecay(string name) =>
        !(name.EndsWith(".bias", StringComparison.Ordinal)
          || name.Contains("LayerNorm", StringComparison.Ordinal)
          || name.Contains("layer_norm", StringComparison.Ordinal)
          || name.Contains("layernorm", StringComparison.Ordinal)
          || name.EndsWith(".temporal_scaling", StringComparison.Ordinal)
          || name == TrainingGraphs.Temperature);
}
