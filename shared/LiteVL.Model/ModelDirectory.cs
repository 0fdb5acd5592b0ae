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
/// <c>video_encoder[.fp16].onnx</c>, <c>text_encoder[.fp16].onnx</c>, <c>reranker[.fp16].onnx</c>, and for a model with
/// video QA heads (<see cref="ModelConfig.Qa"/>) <c>question_encoder[.fp16].onnx</c> and <c>answer_decoder[.fp16].onnx</c>.
/// </summary>
public static class ModelDirectory
{
    public const string VocabFileName = "vocab.txt";

    /// <summary>The retrieval graphs every model has.</summary>
    public static IReadOnlyList<string> GraphNames { get; } =
        [LiteVLGraphBuilder.VideoEncoderName, LiteVLGraphBuilder.TextEncoderName, LiteVLGraphBuilder.RerankerName];

    /// <summary>The video QA graphs a model with <see cref="ModelConfig.Qa"/> has besides <see cref="GraphNames"/>.</summary>
    public static IReadOnlyList<string> QaGraphNames { get; } = [LiteVLGraphBuilder.QuestionEncoderName, LiteVLGraphBuilder.AnswerDecoderName];

    /// <summary>Every graph a model of <paramref name="config"/> has.</summary>
    public static IReadOnlyList<string> GraphNamesFor(ModelConfig config) => config.Qa is null ? GraphNames : [.. GraphNames, .. QaGraphNames];

    /// <summary>Random weights for a preset (or a custom config), the real bert-base-uncased vocabulary, config and graphs.</summary>
    /// <param name="image">An image-text BLIP to pre-train: the temporal branch as an import leaves it (zero), see <see cref="ModelWeights.WithImportedTemporalBranch"/>.</param>
    /// <param name="sinCosPositions">Patch positions as a 2D sine-cosine code instead of random, see <see cref="ModelWeights.WithSinCosPositionEmbedding"/>.</param>
    /// <param name="qa">With random video QA heads (<see cref="ModelConfig.Qa"/>).</param>
    public static ModelConfig Init(ModelConfig architecture, int seed, string outDir, bool fp16 = false, bool image = false, bool sinCosPositions = false, bool qa = false)
    {
        architecture = qa ? architecture with { Qa = architecture.Qa ?? new QaConfig() } : architecture;
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

    /// <summary>The files a model directory is installed from: everything but the graphs, which are built on install.</summary>
    public static IReadOnlyList<string> SourceFiles { get; } = [ModelConfig.FileName, ModelWeights.FileName, VocabFileName];

    /// <summary>
    /// The trained small model beside the running assembly (models/small of the repository, copied there by the build and
    /// publish of the host and the CLI): what the embedded host and <c>litevl model install</c> install by default.
    /// </summary>
    public static string ShippedSmall => Path.Combine(AppContext.BaseDirectory, "models", "small");

    /// <summary>Which of <see cref="SourceFiles"/> <paramref name="sourceDir"/> lacks.</summary>
    public static IReadOnlyList<string> MissingSourceFiles(string sourceDir) =>
        [.. SourceFiles.Where(f => !File.Exists(Path.Combine(sourceDir, f)))];

    /// <summary>
    /// Installs a model from <see cref="SourceFiles"/> in <paramref name="sourceDir"/> (the shipped models/small, for
    /// instance) into <paramref name="modelDir"/>: copies them into a staging folder inside it, builds the graphs there and
    /// moves everything up, config.json last. An install interrupted half-way leaves no config.json, so the next one
    /// starts again; a directory that already has one is refused rather than overwritten.
    /// </summary>
    public static ModelConfig Install(string sourceDir, string modelDir, bool fp16 = false)
    {
        var missing = MissingSourceFiles(sourceDir);
        if (missing.Count > 0)
        {
            throw new ModelDirectoryException($"{sourceDir} has no {string.Join(", ", missing)}: a model to install needs {string.Join(", ", SourceFiles)}.");
        }

        if (File.Exists(Path.Combine(modelDir, ModelConfig.FileName)))
        {
            throw new ModelDirectoryException($"{modelDir} already holds a model ({ModelConfig.FileName}); install into an empty directory, or remove that model first.");
        }

        string staging = Path.Combine(modelDir, ".installing");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        foreach (string file in SourceFiles)
        {
            File.Copy(Path.Combine(sourceDir, file), Path.Combine(staging, file));
        }

        BuildGraphs(staging, fp16);
        foreach (string file in Directory.GetFiles(staging).Where(f => Path.GetFileName(f) != ModelConfig.FileName))
        {
            File.Move(file, Path.Combine(modelDir, Path.GetFileName(file)), overwrite: true);
        }

        File.Move(Path.Combine(staging, ModelConfig.FileName), Path.Combine(modelDir, ModelConfig.FileName), overwrite: true);
        Directory.Delete(staging);
        return ModelConfig.Load(modelDir);
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
            if (config.Qa is not null)
            {
                GraphFiles.Write(builder.QuestionEncoder(), Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.QuestionEncoderName, precision)));
                GraphFiles.Write(builder.AnswerDecoder(), Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.AnswerDecoderName, precision)));
            }
        }

        config.Save(modelDir);
        return config;
    }

    /// <summary>
    /// The version string: preset plus a hash of the architecture, the graph builder version and every retrieval tensor of
    /// the weights file (name, dtype, shape, bytes), so it changes whenever what is indexed — vectors and video tokens —
    /// would change. The video QA heads (<c>qa.*</c> and the config's <c>qa</c> section) are left out: adding, importing
    /// or retraining them changes answers, not stored data, so it must not send a whole archive back to re-indexing.
    /// </summary>
    public static string ComputeVersion(ModelConfig config, string weightsPath)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var arch = config with { Version = string.Empty, Source = null, Qa = null };
        sha.AppendData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(arch, ModelConfig.JsonOptions)));
        sha.AppendData(Encoding.UTF8.GetBytes($"builder:{LiteVLGraphBuilder.BuilderVersion}"));
        using var file = IO.SafeTensorsFile.Open(weightsPath);
        foreach (string name in file.Names.Where(n => !WeightSpec.IsQa(n)).Order(StringComparer.Ordinal))
        {
            var tensor = file.Read(name);
            sha.AppendData(Encoding.UTF8.GetBytes($"{name}:{tensor.DType}:{string.Join(',', tensor.Shape)}:"));
            sha.AppendData(tensor.Data);
        }

        return $"{config.Preset}-{Convert.ToHexStringLower(sha.GetHashAndReset())[..12]}";
    }
}
