using System.Text.Json;
using System.Text.Json.Serialization;

namespace LiteVL.Model.Config;

/// <summary>How the video encoder handles the CLS token (docs/model.md, "Video encoder").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClsMode>))]
public enum ClsMode
{
    /// <summary>Every frame keeps its own CLS token (default; exact BLIP reproduction at import).</summary>
    [JsonStringEnumMemberName("per_frame")]
    PerFrame,

    /// <summary>TimeSformer style: one CLS per video, updated with the frame-mean of the spatial attention output.</summary>
    [JsonStringEnumMemberName("shared")]
    Shared,
}

public sealed record VisionConfig
{
    public int HiddenSize { get; init; } = 768;

    public int NumLayers { get; init; } = 12;

    public int NumHeads { get; init; } = 12;

    public int IntermediateSize { get; init; } = 3072;

    public int PatchSize { get; init; } = 16;

    /// <summary>S: frames enter the video encoder as S×S RGB.</summary>
    public int ImageSize { get; init; } = 384;

    public double LayerNormEps { get; init; } = 1e-6;

    [JsonIgnore]
    public int GridSize => ImageSize / PatchSize;

    /// <summary>N: patches per frame.</summary>
    [JsonIgnore]
    public int NumPatches => GridSize * GridSize;

    /// <summary>1 + N: tokens per frame.</summary>
    [JsonIgnore]
    public int TokensPerFrame => NumPatches + 1;
}

public sealed record TextConfig
{
    public int HiddenSize { get; init; } = 768;

    public int NumLayers { get; init; } = 12;

    public int NumHeads { get; init; } = 12;

    public int IntermediateSize { get; init; } = 3072;

    public int VocabSize { get; init; } = 30524;

    public int MaxPositionEmbeddings { get; init; } = 512;

    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary>Padding/truncation length of the tokenizer (BLIP retrieval: 35).</summary>
    public int MaxLength { get; init; } = 35;
}

/// <summary>
/// What the grounded encoder cross-attends to when it re-ranks: <see cref="Tdp"/> = the video tokens plus the
/// text-dependent pooled ones (LiteVL), <see cref="None"/> = the video tokens alone (BLIP's zero-shot protocol).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<PoolingMode>))]
public enum PoolingMode
{
    [JsonStringEnumMemberName("tdp")]
    Tdp,

    [JsonStringEnumMemberName("none")]
    None,
}

/// <summary>Text-dependent pooling (docs/model.md, "Text-dependent pooling").</summary>
public sealed record TdpConfig
{
    /// <summary>The model's default pooling for re-ranking (false: <see cref="PoolingMode.None"/>); a search may choose the other.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Softmax temperature τ [ours]: 0.07.</summary>
    public double Tau { get; init; } = 0.07;
}

public sealed record PreprocessingConfig
{
    public float[] Mean { get; init; } = [0.48145466f, 0.4578275f, 0.40821073f];

    public float[] Std { get; init; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>Frames are resized to S×S with this filter before they reach the graph (no crop).</summary>
    public string Resize { get; init; } = "bicubic";
}

/// <summary>
/// The video question-answering heads (docs/model.md, "Video QA"): BLIP VQA's question encoder and answer decoder over
/// the same video tokens as retrieval. Present in <c>config.json</c> only when the weights hold them (<c>qa.*</c>).
/// </summary>
public sealed record QaConfig
{
    /// <summary>Longest answer <c>generate</c> writes, in word pieces after [DEC] (BLIP's max_length 10 counts [DEC]).</summary>
    public int MaxAnswerLength { get; init; } = 10;

    /// <summary>Label smoothing of the answer loss in training (BLIP's BertLMHeadModel: 0.1).</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>
    /// The question encoder reads the retrieval text encoder's word embeddings instead of storing its own (30524 × H):
    /// heads trained by <c>litevl train --task qa</c> on top of a retrieval model, which leave that table as it is. The
    /// answer decoder always has its own, since they are also its output matrix and must be trained. Imported BLIP VQA
    /// checkpoints have their own (false).
    /// </summary>
    public bool ShareWordEmbeddings { get; init; }
}

/// <summary>The <c>config.json</c> of a model directory: architecture, preprocessing and the version string.</summary>
public sealed record ModelConfig
{
    public const string FileName = "config.json";
    public const int CurrentFormatVersion = 1;

    /// <summary>BLIP's clamp of the learnable ITC temperature, and its initial value.</summary>
    public const double MinItcTemperature = 0.001, MaxItcTemperature = 0.5, DefaultItcTemperature = 0.07;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Format { get; init; } = "litevl";

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Changes whenever weights or graphs change; stored with every indexed vector.</summary>
    public string Version { get; init; } = "unversioned";

    /// <summary>Preset this model was made from (tiny, blip-base, blip-large) or "custom".</summary>
    public string Preset { get; init; } = "custom";

    public VisionConfig Vision { get; init; } = new();

    public TextConfig Text { get; init; } = new();

    /// <summary>Width of the shared retrieval space (vision_proj, text_proj).</summary>
    public int EmbedDim { get; init; } = 256;

    /// <summary>T: frames per segment the graphs are built for.</summary>
    public int NumFrames { get; init; } = 8;

    /// <summary>Rows of time_embedding and slots of temporal_scaling stored in the weights (≥ NumFrames).</summary>
    public int MaxFrames { get; init; } = 8;

    public ClsMode ClsMode { get; init; } = ClsMode.PerFrame;

    public TdpConfig Tdp { get; init; } = new();

    /// <summary>The re-ranking protocol a search gets unless it asks for another: <c>tdp.enabled</c> as a <see cref="PoolingMode"/>.</summary>
    [JsonIgnore]
    public PoolingMode DefaultPooling => Tdp.Enabled ? PoolingMode.Tdp : PoolingMode.None;

    public PreprocessingConfig Preprocessing { get; init; } = new();

    /// <summary>Where the weights came from (random seed, imported checkpoint), for people.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// The ITC softmax temperature the weights were trained with (BLIP learns it; serving never uses it). Fine-tuning
    /// starts from it, as BLIP's fine-tuning starts from its checkpoint's <c>temp</c>; absent (BLIP's 0.07 then) for
    /// random weights and for checkpoints that do not carry it. Written by <c>litevl train</c>, carried through
    /// <c>model export-blip</c> and <c>model import</c>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ItcTemperature { get; init; }

    /// <summary>
    /// Whether a search re-ranks its coarse candidates when the request leaves <c>rerank</c> out; absent means yes.
    /// <c>litevl experiment temporal --ship</c> writes false when the shipped variant's re-ranked test figures fall below
    /// its coarse ones (rows (e) and (d) of the ablation): its grounded encoder has not learned to improve on the
    /// embeddings, so the default should serve the better ranking. A request's explicit <c>rerank</c> always wins.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? RerankByDefault { get; init; }

    /// <summary>The video QA heads, when the model has them (<c>litevl model init --qa</c>, <c>model import-qa</c>, <c>train --task qa</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QaConfig? Qa { get; init; }

    public static ModelConfig Load(string modelDir)
    {
        string path = Path.Combine(modelDir, FileName);
        if (!File.Exists(path))
        {
            throw new ModelDirectoryException(
                $"No {FileName} in '{modelDir}'. A model directory holds config.json, weights.safetensors and vocab.txt; create one with 'litevl model init --preset tiny --out {modelDir}'.");
        }

        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new ModelDirectoryException($"{path} is not a valid LiteVL config: {e.Message}", e);
        }

        if (config is null)
        {
            throw new ModelDirectoryException($"{path} is empty.");
        }

        config.Validate(path);
        return config;
    }

    public void Save(string modelDir)
    {
        Validate(Path.Combine(modelDir, FileName));
        Directory.CreateDirectory(modelDir);
        string path = Path.Combine(modelDir, FileName);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, JsonOptions) + "\n");
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Checks the architecture is buildable; the message says which field to fix.</summary>
    public void Validate(string where)
    {
        var errors = new List<string>();
        if (Format != "litevl")
        {
            errors.Add($"format must be \"litevl\", not \"{Format}\"");
        }

        if (FormatVersion != CurrentFormatVersion)
        {
            errors.Add($"format_version {FormatVersion} is not supported (this build reads {CurrentFormatVersion})");
        }

        CheckPositive(errors, "vision.hidden_size", Vision.HiddenSize);
        CheckPositive(errors, "vision.num_layers", Vision.NumLayers);
        CheckPositive(errors, "vision.num_heads", Vision.NumHeads);
        CheckPositive(errors, "vision.intermediate_size", Vision.IntermediateSize);
        CheckPositive(errors, "vision.patch_size", Vision.PatchSize);
        CheckPositive(errors, "vision.image_size", Vision.ImageSize);
        CheckPositive(errors, "text.hidden_size", Text.HiddenSize);
        CheckPositive(errors, "text.num_layers", Text.NumLayers);
        CheckPositive(errors, "text.num_heads", Text.NumHeads);
        CheckPositive(errors, "text.intermediate_size", Text.IntermediateSize);
        CheckPositive(errors, "text.vocab_size", Text.VocabSize);
        CheckPositive(errors, "embed_dim", EmbedDim);
        CheckPositive(errors, "num_frames", NumFrames);
        if (Vision.HiddenSize > 0 && Vision.NumHeads > 0 && Vision.HiddenSize % Vision.NumHeads != 0)
        {
            errors.Add($"vision.hidden_size {Vision.HiddenSize} must be divisible by vision.num_heads {Vision.NumHeads}");
        }

        if (Text.HiddenSize > 0 && Text.NumHeads > 0 && Text.HiddenSize % Text.NumHeads != 0)
        {
            errors.Add($"text.hidden_size {Text.HiddenSize} must be divisible by text.num_heads {Text.NumHeads}");
        }

        if (Vision.PatchSize > 0 && Vision.ImageSize % Vision.PatchSize != 0)
        {
            errors.Add($"vision.image_size {Vision.ImageSize} must be a multiple of vision.patch_size {Vision.PatchSize}");
        }

        if (MaxFrames < NumFrames)
        {
            errors.Add($"max_frames {MaxFrames} must be at least num_frames {NumFrames}");
        }

        if (Text.MaxLength < 2 || Text.MaxLength > Text.MaxPositionEmbeddings)
        {
            errors.Add($"text.max_length {Text.MaxLength} must be between 2 and text.max_position_embeddings {Text.MaxPositionEmbeddings}");
        }

        if (Text.VocabSize < 30524)
        {
            errors.Add($"text.vocab_size {Text.VocabSize} is too small for the bert-base-uncased vocabulary plus [DEC] and [ENC] (30524)");
        }

        if (!(Tdp.Tau > 0) || double.IsInfinity(Tdp.Tau))
        {
            errors.Add($"tdp.tau must be a positive number, not {Tdp.Tau}");
        }

        if (ItcTemperature is { } itc && !(itc >= MinItcTemperature && itc <= MaxItcTemperature))
        {
            errors.Add($"itc_temperature must be between {MinItcTemperature} and {MaxItcTemperature} (BLIP's clamp), not {itc}");
        }

        if (Qa is { } qa && (qa.MaxAnswerLength < 1 || qa.MaxAnswerLength + 2 > Text.MaxPositionEmbeddings))
        {
            errors.Add($"qa.max_answer_length must be between 1 and text.max_position_embeddings − 2 ({Text.MaxPositionEmbeddings - 2}), not {qa.MaxAnswerLength}");
        }

        if (Qa is { } smoothing && !(smoothing.LabelSmoothing >= 0 && smoothing.LabelSmoothing < 1))
        {
            errors.Add($"qa.label_smoothing must be in [0, 1), not {smoothing.LabelSmoothing}");
        }

        if (Preprocessing.Mean.Length != 3 || Preprocessing.Std.Length != 3 || Preprocessing.Std.Any(s => !(s > 0)))
        {
            errors.Add("preprocessing.mean and preprocessing.std must each have 3 values (RGB), std positive");
        }

        if (errors.Count > 0)
        {
            throw new ModelDirectoryException($"Invalid model configuration in {where}: " + string.Join("; ", errors) + ".");
        }
    }

    private static void CheckPositive(List<string> errors, string name, int value)
    {
        if (value <= 0)
        {
            errors.Add($"{name} must be positive, not {value}");
        }
    }
}

/// <summary>A model directory is missing a file, or holds one that is not what it should be.</summary>
public sealed class ModelDirectoryException : Exception
{
    public ModelDirectoryException(string message)
        : base(message)
    {
    }

    public ModelDirectoryException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
