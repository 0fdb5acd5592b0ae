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
}

/// <summary>The parameter groups, weight decay eligibility and the "new module" learning rate split.</summary>
public static class ParameterGroups
{
    public static ParameterGroup Parse(string value) => value.ToLowerInvariant() switch
    {
        "temporal" => ParameterGroup.Temporal,
        "heads" => ParameterGroup.Heads,
        "all" => ParameterGroup.All,
        _ => throw new ArgumentException($"--params must be temporal, heads or all, not '{value}'.", nameof(value)),
    };

    /// <summary>The weights a group trains, in the order of the weight spec.</summary>
    public static IReadOnlyList<string> Select(ModelWeights weights, ParameterGroup group) =>
        WeightSpec.For(weights.Config).Select(e => e.Name).Where(n => group switch
        {
            ParameterGroup.Temporal => IsTemporal(n),
            ParameterGroup.Heads => IsTemporal(n) || IsHead(n),
            _ => true,
        }).ToList();

    /// <summary>The modules LiteVL adds to BLIP (trained with their own, usually higher, learning rate).</summary>
    public static bool IsTemporal(string name) =>
        name == "vision_model.embeddings.time_embedding"
        || name.Contains(".temporal_layer_norm.", StringComparison.Ordinal)
        || name.Contains(".temporal_attn.", StringComparison.Ordinal)
        || name.Contains(".temporal_fc.", StringComparison.Ordinal)
        || name.EndsWith(".temporal_scaling", StringComparison.Ordinal);

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
