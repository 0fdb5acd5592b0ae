using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Weights;

/// <summary>
/// Adds BLIP VQA's question encoder and answer decoder to a LiteVL model (docs/model.md, "Video QA"). Reads Hugging
/// Face <c>BlipForQuestionAnswering</c> checkpoints and the original salesforce <c>blip_vqa.py</c> ones: both name the
/// text side <c>text_encoder.*</c> and <c>text_decoder.{bert,cls}.*</c>; they differ in the vision side
/// (<c>vision_model.*</c> against <c>visual_encoder.*</c>), which stays the model's own: the video tokens that
/// retrieval stores are the ones the questions are asked about, so one encoding pass serves both.
/// </summary>
public static class BlipVqaImporter
{
    /// <summary>Which naming a VQA checkpoint uses.</summary>
    public enum Layout
    {
        /// <summary>Hugging Face <c>BlipForQuestionAnswering</c> (<c>vision_model.*</c>).</summary>
        HuggingFace,

        /// <summary>salesforce BLIP's <c>blip_vqa.py</c> state dict (<c>visual_encoder.*</c>).</summary>
        Salesforce,
    }

    /// <summary>The checkpoint's decoder output matrix, when it stores one apart from the word embeddings.</summary>
    private const string DecoderMatrix = "text_decoder.cls.predictions.decoder.weight";

    /// <summary>
    /// <paramref name="model"/>'s weights with the QA heads of <paramref name="checkpointPath"/> (replacing any it had);
    /// the config gets a <c>qa</c> section (kept if it had one).
    /// </summary>
    public static ModelWeights AddQaHeads(ModelWeights model, string checkpointPath, out Layout layout)
    {
        using var file = SafeTensorsFile.Open(checkpointPath);
        layout = DetectLayout(file);
        CheckVisionWidth(file, layout, model.Config);
        var config = model.Config with
        {
            Qa = (model.Config.Qa ?? new QaConfig()) with { ShareWordEmbeddings = false },
            Source = $"{model.Config.Source ?? "unknown"}; video QA heads from BLIP VQA checkpoint {Path.GetFileName(checkpointPath)}",
        };
        var tensors = model.Tensors.Where(kv => !WeightSpec.IsQa(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var spec = WeightSpec.For(config).Where(e => WeightSpec.IsQa(e.Name)).ToList();
        var missing = spec.Select(e => SourceName(e.Name)).Where(n => !file.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new MissingWeightException(
                $"{checkpointPath} is not a complete BLIP VQA checkpoint for '{config.Preset}': {missing.Count} tensor(s) missing, first: {string.Join(", ", missing.Take(5))}. "
                + "Expected BLIP VQA names: text_encoder.* (the question encoder, with cross-attention) and text_decoder.bert.* / text_decoder.cls.predictions.* (the answer decoder).");
        }

        foreach (var e in spec)
        {
            tensors[e.Name] = new Weight(ModelWeights.ReadChecked(file, SourceName(e.Name), e.Shape), e.Shape);
        }

        CheckTiedDecoder(file, tensors[WeightSpec.QaDecoderPrefix + "embeddings.word_embeddings.weight"].Data);
        return new ModelWeights(config, tensors);
    }

    /// <summary>Our name <c>qa.X</c> is BLIP VQA's <c>X</c>.</summary>
    public static string SourceName(string name) => name["qa.".Length..];

    private static Layout DetectLayout(SafeTensorsFile file)
    {
        if (file.Contains("vision_model.embeddings.patch_embedding.weight"))
        {
            return Layout.HuggingFace;
        }

        if (file.Contains("visual_encoder.patch_embed.proj.weight"))
        {
            return Layout.Salesforce;
        }

        throw new MissingWeightException(
            $"{file.Path} has neither 'vision_model.embeddings.patch_embedding.weight' (Hugging Face BlipForQuestionAnswering) nor 'visual_encoder.patch_embed.proj.weight' (salesforce blip_vqa.py): it is not a BLIP VQA checkpoint.");
    }

    /// <summary>The question encoder's cross-attention reads vision tokens: the checkpoint's ViT width must be the model's.</summary>
    private static void CheckVisionWidth(SafeTensorsFile file, Layout layout, ModelConfig c)
    {
        string patch = layout == Layout.HuggingFace ? "vision_model.embeddings.patch_embedding.weight" : "visual_encoder.patch_embed.proj.weight";
        long width = file.GetInfo(patch).Shape[0];
        if (width != c.Vision.HiddenSize)
        {
            string hint = width switch { 768 => " (a ViT-B checkpoint: add it to a blip-base model)", 1024 => " (a ViT-L checkpoint: add it to a blip-large model)", _ => string.Empty };
            throw new WeightShapeException(
                $"{file.Path} was trained on a vision width of {width}, but this '{c.Preset}' model's video tokens are {c.Vision.HiddenSize} wide{hint}.");
        }
    }

    /// <summary>BLIP ties the LM head's output matrix to the decoder's word embeddings; a checkpoint that breaks the tie cannot be served as it was trained.</summary>
    private static void CheckTiedDecoder(SafeTensorsFile file, float[] wordEmbeddings)
    {
        if (!file.Contains(DecoderMatrix))
        {
            return;
        }

        var info = file.GetInfo(DecoderMatrix);
        float[] matrix = file.ReadFloat32(DecoderMatrix);
        double worst = matrix.Length == wordEmbeddings.Length ? matrix.Select((v, i) => Math.Abs(v - wordEmbeddings[i])).DefaultIfEmpty(0).Max() : double.PositiveInfinity;
        if (worst > 1e-3)
        {
            throw new WeightShapeException(
                $"{file.Path}: '{DecoderMatrix}' {HostTensor.FormatShape(info.Shape)} differs from 'text_decoder.bert.embeddings.word_embeddings.weight' (max |Δ| {worst:G3}); BLIP ties them and LiteVL serves them tied.");
        }
    }
}
