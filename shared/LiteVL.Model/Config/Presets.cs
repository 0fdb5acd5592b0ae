namespace LiteVL.Model.Config;

/// <summary>The architectures <c>litevl model init/import</c> know by name.</summary>
public static class Presets
{
    public const string Tiny = "tiny";
    public const string BlipBase = "blip-base";
    public const string BlipLarge = "blip-large";

    public static IReadOnlyList<string> Names { get; } = [Tiny, BlipBase, BlipLarge];

    public static ModelConfig Get(string name) => name switch
    {
        // Random and small: builds and runs in seconds on 2 CPU cores. For wiring, tests and the demo only.
        Tiny => new ModelConfig
        {
            Preset = Tiny,
            Vision = new VisionConfig { HiddenSize = 64, NumLayers = 2, NumHeads = 4, IntermediateSize = 256, PatchSize = 16, ImageSize = 64 },
            Text = new TextConfig { HiddenSize = 64, NumLayers = 2, NumHeads = 4, IntermediateSize = 256 },
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
