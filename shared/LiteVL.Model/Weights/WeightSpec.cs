using LiteVL.Model.Config;

namespace LiteVL.Model.Weights;

/// <summary>How a tensor is filled by random initialisation and by the BLIP import.</summary>
public enum WeightRole
{
    /// <summary>Linear/conv kernels and embeddings: N(0, 0.02).</summary>
    Kernel,

    /// <summary>Biases: N(0, 0.02) in random models (so tests exercise them), zero-free.</summary>
    Bias,

    /// <summary>LayerNorm gain: 1 + N(0, 0.1).</summary>
    NormWeight,

    /// <summary>LayerNorm shift: N(0, 0.05).</summary>
    NormBias,

    /// <summary>LiteVL temporal extras (time embedding, temporal_fc, scaling): zero at import, random in random models.</summary>
    TemporalExtra,
}

/// <summary>One named tensor of a LiteVL model: its Hugging Face BLIP name (or our extra name), shape and role.</summary>
public sealed record WeightEntry(string Name, long[] Shape, WeightRole Role, bool FromBlip, string? CopyOf = null);

/// <summary>
/// The full list of tensors a LiteVL model has, in the Hugging Face <c>BlipForImageTextRetrieval</c> layout plus our
/// temporal extras (docs/model.md, "Weight names"). Linear weights are [out, in].
/// </summary>
public static class WeightSpec
{
    public static IReadOnlyList<WeightEntry> For(ModelConfig config)
    {
        var list = new List<WeightEntry>();
        var v = config.Vision;
        long d = v.HiddenSize;
        const string ve = "vision_model.embeddings.";
        list.Add(new(ve + "class_embedding", [1, 1, d], WeightRole.Kernel, true));
        list.Add(new(ve + "patch_embedding.weight", [d, 3, v.PatchSize, v.PatchSize], WeightRole.Kernel, true));
        list.Add(new(ve + "patch_embedding.bias", [d], WeightRole.Bias, true));
        list.Add(new(ve + "position_embedding", [1, v.TokensPerFrame, d], WeightRole.Kernel, true));
        list.Add(new(ve + "time_embedding", [config.MaxFrames, d], WeightRole.TemporalExtra, false));
        for (int i = 0; i < v.NumLayers; i++)
        {
            string p = $"vision_model.encoder.layers.{i}.";
            list.Add(new(p + "temporal_layer_norm.weight", [d], WeightRole.NormWeight, false, p + "layer_norm1.weight"));
            list.Add(new(p + "temporal_layer_norm.bias", [d], WeightRole.NormBias, false, p + "layer_norm1.bias"));
            list.Add(new(p + "temporal_attn.qkv.weight", [3 * d, d], WeightRole.Kernel, false, p + "self_attn.qkv.weight"));
            list.Add(new(p + "temporal_attn.qkv.bias", [3 * d], WeightRole.Bias, false, p + "self_attn.qkv.bias"));
            list.Add(new(p + "temporal_attn.projection.weight", [d, d], WeightRole.Kernel, false, p + "self_attn.projection.weight"));
            list.Add(new(p + "temporal_attn.projection.bias", [d], WeightRole.Bias, false, p + "self_attn.projection.bias"));
            list.Add(new(p + "temporal_fc.weight", [d, d], WeightRole.TemporalExtra, false));
            list.Add(new(p + "temporal_fc.bias", [d], WeightRole.TemporalExtra, false));
            list.Add(new(p + "temporal_scaling", [1, config.MaxFrames, 1], WeightRole.TemporalExtra, false));
            list.Add(new(p + "layer_norm1.weight", [d], WeightRole.NormWeight, true));
            list.Add(new(p + "layer_norm1.bias", [d], WeightRole.NormBias, true));
            list.Add(new(p + "self_attn.qkv.weight", [3 * d, d], WeightRole.Kernel, true));
            list.Add(new(p + "self_attn.qkv.bias", [3 * d], WeightRole.Bias, true));
            list.Add(new(p + "self_attn.projection.weight", [d, d], WeightRole.Kernel, true));
            list.Add(new(p + "self_attn.projection.bias", [d], WeightRole.Bias, true));
            list.Add(new(p + "layer_norm2.weight", [d], WeightRole.NormWeight, true));
            list.Add(new(p + "layer_norm2.bias", [d], WeightRole.NormBias, true));
            list.Add(new(p + "mlp.fc1.weight", [v.IntermediateSize, d], WeightRole.Kernel, true));
            list.Add(new(p + "mlp.fc1.bias", [v.IntermediateSize], WeightRole.Bias, true));
            list.Add(new(p + "mlp.fc2.weight", [d, v.IntermediateSize], WeightRole.Kernel, true));
            list.Add(new(p + "mlp.fc2.bias", [d], WeightRole.Bias, true));
        }

        list.Add(new("vision_model.post_layernorm.weight", [d], WeightRole.NormWeight, true));
        list.Add(new("vision_model.post_layernorm.bias", [d], WeightRole.NormBias, true));

        var t = config.Text;
        long h = t.HiddenSize;
        AddBert(list, "text_encoder.", t, crossWidth: d);
        list.Add(new("vision_proj.weight", [config.EmbedDim, d], WeightRole.Kernel, true));
        list.Add(new("vision_proj.bias", [config.EmbedDim], WeightRole.Bias, true));
        list.Add(new("text_proj.weight", [config.EmbedDim, h], WeightRole.Kernel, true));
        list.Add(new("text_proj.bias", [config.EmbedDim], WeightRole.Bias, true));
        list.Add(new("itm_head.weight", [2, h], WeightRole.Kernel, true));
        list.Add(new("itm_head.bias", [2], WeightRole.Bias, true));
        if (config.Qa is not null)
        {
            // BLIP VQA (blip_vqa.py; Hugging Face BlipForQuestionAnswering) under "qa.": the question encoder cross-attends
            // to the video tokens (width D); the answer decoder cross-attends to the question encoder's states (width H)
            // and predicts words with BERT's LM head, its output matrix tied to the decoder's word embeddings.
            AddBert(list, QaEncoderPrefix, t, crossWidth: d, ownWordEmbeddings: !config.Qa.ShareWordEmbeddings);
            AddBert(list, QaDecoderPrefix, t, crossWidth: h);
            list.Add(new(QaLmHeadPrefix + "transform.dense.weight", [h, h], WeightRole.Kernel, true));
            list.Add(new(QaLmHeadPrefix + "transform.dense.bias", [h], WeightRole.Bias, true));
            list.Add(new(QaLmHeadPrefix + "transform.LayerNorm.weight", [h], WeightRole.NormWeight, true));
            list.Add(new(QaLmHeadPrefix + "transform.LayerNorm.bias", [h], WeightRole.NormBias, true));
            list.Add(new(QaLmHeadPrefix + "bias", [t.VocabSize], WeightRole.Bias, true));
        }

        return list;
    }

    /// <summary>The question encoder: a BERT with cross-attention, Hugging Face BlipForQuestionAnswering's <c>text_encoder.</c>.</summary>
    public const string QaEncoderPrefix = "qa.text_encoder.";

    /// <summary>The answer decoder's BERT, Hugging Face's <c>text_decoder.bert.</c>.</summary>
    public const string QaDecoderPrefix = "qa.text_decoder.bert.";

    /// <summary>The answer decoder's LM head, Hugging Face's <c>text_decoder.cls.predictions.</c> (decoder weight tied to the word embeddings).</summary>
    public const string QaLmHeadPrefix = "qa.text_decoder.cls.predictions.";

    /// <summary>
    /// The word-embedding table the BERT under <paramref name="prefix"/> reads: its own, or for the question encoder of
    /// QA heads with <see cref="QaConfig.ShareWordEmbeddings"/> the retrieval text encoder's.
    /// </summary>
    public static string WordEmbeddings(ModelConfig config, string prefix) =>
        config.Qa is { ShareWordEmbeddings: true } && prefix == QaEncoderPrefix ? "text_encoder.embeddings.word_embeddings.weight" : prefix + "embeddings.word_embeddings.weight";

    /// <summary>Whether a weight belongs to the video QA heads.</summary>
    public static bool IsQa(string name) => name.StartsWith("qa.", StringComparison.Ordinal);

    /// <summary>BLIP's BERT (med.py) under <paramref name="prefix"/>: embeddings without token types, then layers with cross-attention on memory of width <paramref name="crossWidth"/>.</summary>
    private static void AddBert(List<WeightEntry> list, string prefix, TextConfig t, long crossWidth, bool ownWordEmbeddings = true)
    {
        long h = t.HiddenSize;
        string te = prefix + "embeddings.";
        if (ownWordEmbeddings)
        {
            list.Add(new(te + "word_embeddings.weight", [t.VocabSize, h], WeightRole.Kernel, true));
        }

        list.Add(new(te + "position_embeddings.weight", [t.MaxPositionEmbeddings, h], WeightRole.Kernel, true));
        list.Add(new(te + "LayerNorm.weight", [h], WeightRole.NormWeight, true));
        list.Add(new(te + "LayerNorm.bias", [h], WeightRole.NormBias, true));
        for (int j = 0; j < t.NumLayers; j++)
        {
            string p = $"{prefix}encoder.layer.{j}.";
            foreach (string a in new[] { "attention", "crossattention" })
            {
                long kvIn = a == "attention" ? h : crossWidth;
                list.Add(new(p + a + ".self.query.weight", [h, h], WeightRole.Kernel, true));
                list.Add(new(p + a + ".self.query.bias", [h], WeightRole.Bias, true));
                list.Add(new(p + a + ".self.key.weight", [h, kvIn], WeightRole.Kernel, true));
                list.Add(new(p + a + ".self.key.bias", [h], WeightRole.Bias, true));
                list.Add(new(p + a + ".self.value.weight", [h, kvIn], WeightRole.Kernel, true));
                list.Add(new(p + a + ".self.value.bias", [h], WeightRole.Bias, true));
                list.Add(new(p + a + ".output.dense.weight", [h, h], WeightRole.Kernel, true));
                list.Add(new(p + a + ".output.dense.bias", [h], WeightRole.Bias, true));
                list.Add(new(p + a + ".output.LayerNorm.weight", [h], WeightRole.NormWeight, true));
                list.Add(new(p + a + ".output.LayerNorm.bias", [h], WeightRole.NormBias, true));
            }

            list.Add(new(p + "intermediate.dense.weight", [t.IntermediateSize, h], WeightRole.Kernel, true));
            list.Add(new(p + "intermediate.dense.bias", [t.IntermediateSize], WeightRole.Bias, true));
            list.Add(new(p + "output.dense.weight", [h, t.IntermediateSize], WeightRole.Kernel, true));
            list.Add(new(p + "output.dense.bias", [h], WeightRole.Bias, true));
            list.Add(new(p + "output.LayerNorm.weight", [h], WeightRole.NormWeight, true));
            list.Add(new(p + "output.LayerNorm.bias", [h], WeightRole.NormBias, true));
        }
    }
}
