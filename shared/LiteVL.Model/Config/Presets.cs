namespace LiteVL.Model.Config;

/// <summary>The architectures <c>litevl model init/import</c> know by name.</summary>
public static class Presets
{
    public const string Tiny = "tiny";
    public const string Small = "small";
    public const string BlipBase = "blip-base";
    public const string BlipLarge = "blip-large";

    public static IReadOnlyList<string> Names { get; } = [Tiny, Small, BlipBase, BlipLarge];

    public static ModelConfig Get(string name) => name switch
    {
        // Random and small: builds and runs in seconds on 2 CPU cores. For wiring, tests and the demo only.
        Tiny => new ModelConfig
        {
            Preset = Tiny,
            Vision = new VisionConfig { HiddenSize = 64, NumLayers = 2, NumHeads = 4, IntermediateSize = 256, PatchSize = 16, ImageSize = 64 },
            Text = new TextConfig { HiddenSize = 64, NumLayers = 2, NumHeads = 4, IntermediateSize = 256 },
        },

        // The shipped default model's shape (docs/evaluation.md): BLIP's architecture at a size that is pre-trained on
        // images and fine-tuned on video in minutes on 2 CPU cores. 64×64 frames in 8×8 patches (64 per frame), so a
        // shape of the synthetic set covers a few patches and its motion crosses several.
        Small => new ModelConfig
        {
            Preset = Small,
            Vision = new VisionConfig { HiddenSize = 96, NumLayers = 3, NumHeads = 3, IntermediateSize = 384, PatchSize = 8, ImageSize = 64 },
            Text = new TextConfig { HiddenSize = 96, NumLayers = 3, NumHeads = 3, IntermediateSize = 384 },
            EmbedDim = 64,
        },

        // BLIP ViT-B/16 at 384 with BERT-base (BLIP retrieval checkpoints, base).
        BlipBase => new ModelConfig { Preset = BlipBase },

        // BLIP ViT-L/16 at 384 with BERT-base (BLIP retrieval checkpoints, large).
        BlipLarge => new ModelConfig
        {
            Preset = BlipLarge,
            Vision = new VisionConfig { HiddenSize = 1024, NumLayers = 24, NumHeads = 16, IntermediateSize = 4096 },
        },
        _ => throw new ArgumentException($"Unknown preset '{name}'. Choose one of: {string.Join(", ", Names)}.", nameof(name)),
    };
}
