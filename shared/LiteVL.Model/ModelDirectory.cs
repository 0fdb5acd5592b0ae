using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Text;
using LiteVL.Model.Weights;

namespace LiteVL.Model;

/// <summary>
/// The model directory contract: <c>config.json</c>, <c>weights.safetensors</c>, <c>vocab.txt</c> and the graphs
/// <c>video_encoder[.fp16].onnx</c>, <c>text_encoder[.fp16].onnx</c>, <c>reranker[.fp16].onnx</c>.
/// </summary>
public static class ModelDirectory
{
    public const string VocabFileName = "vocab.txt";

    public static IReadOnlyList<string> GraphNames { get; } =
        [LiteVLGraphBuilder.VideoEncoderName, LiteVLGraphBuilder.TextEncoderName, LiteVLGraphBuilder.RerankerName];

    /// <summary>Random weights for a preset (or a custom config), the real bert-base-uncased vocabulary, config and graphs.</summary>
    /// <param name="image">An image-text BLIP to pre-train: the temporal branch as an import leaves it (zero), see <see cref="ModelWeights.WithImportedTemporalBranch"/>.</param>
    /// <param name="sinCosPositions">Patch positions as a 2D sine-cosine code instead of random, see <see cref="ModelWeights.WithSinCosPositionEmbedding"/>.</param>
    public static ModelConfig Init(ModelConfig architecture, int seed, string outDir, bool fp16 = false, bool image = false, bool sinCosPositions = false)
    {
        string what = (image, sinCosPositions) switch
        {
            (true, true) => " (image model: temporal branch zero; 2D sine-cosine positions)",
            (true, false) => " (image model: temporal branch zero)",
            (false, true) => " (2D sine-cosine positions)",
            _ => string.Empty,
        };
        var config = architecture with { Source = $"random init{what}, seed {seed}" };
        var weights = ModelWeights.Random(config, seed);
        weights = image ? weights.WithImportedTemporalBranch() : weights;
        return Write(sinCosPositions ? weights.WithSinCosPositionEmbedding() : weights, outDir, fp16);
    }

    /// <summary>Writes weights, vocabulary, config (with a fresh version) and graphs.</summary>
    public static ModelConfig Write(ModelWeights weights, string outDir, bool fp16 = false)
    {
        Directory.CreateDirectory(outDir);
        weights.Save(Path.Combine(outDir, ModelWeights.FileName), new Dictionary<string, string> { ["format"] = "pt", ["litevl.preset"] = weights.Config.Preset });
        string vocab = Path.Combine(outDir, VocabFileName);
        if (!File.Exists(vocab))
        {
            BertVocabulary.WriteModelVocab(vocab);
        }

        var config = weights.Config;
        config.Save(outDir);
        return BuildGraphs(outDir, fp16, weights);
    }

    /// <summary>(Re)builds the graphs from the directory's weights and stamps a new version into config.json.</summary>
    public static ModelConfig BuildGraphs(string modelDir, bool fp16, ModelWeights? weights = null, AttentionKind attention = AttentionKind.Fused)
    {
        var config = ModelConfig.Load(modelDir);
        weights ??= ModelWeights.Load(config, Path.Combine(modelDir, ModelWeights.FileName));
        config = config with { Version = ComputeVersion(config, Path.Combine(modelDir, ModelWeights.FileName)) };
        weights = new ModelWeights(config, weights.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        var precisions = fp16 ? new[] { Precision.Fp32, Precision.Fp16 } : [Precision.Fp32];
        foreach (var precision in precisions)
        {
            var builder = new LiteVLGraphBuilder(weights, new GraphBuildOptions(precision, attention));
            GraphFiles.Write(builder.VideoEncoder(), Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.VideoEncoderName, precision)));
            GraphFiles.Write(builder.TextEncoder(), Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.TextEncoderName, precision)));
            GraphFiles.Write(builder.Reranker(), Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.RerankerName, precision)));
        }

        config.Save(modelDir);
        return config;
    }

    /// <summary>
    /// The version string: preset plus a hash of the architecture, the weights file and the graph builder version, so it
    /// changes whenever weights or graphs change.
    /// </summary>
    public static string ComputeVersion(ModelConfig config, string weightsPath)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var arch = config with { Version = string.Empty, Source = null };
        sha.AppendData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(arch, ModelConfig.JsonOptions)));
        sha.AppendData(Encoding.UTF8.GetBytes($"builder:{LiteVLGraphBuilder.BuilderVersion}"));
        using (var stream = new FileStream(weightsPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
        {
            sha.AppendData(SHA256.HashData(stream));
        }

        return $"{config.Preset}-{Convert.ToHexStringLower(sha.GetHashAndReset())[..12]}";
    }
}
