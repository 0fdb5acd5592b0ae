using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Weights;

public sealed class BlipImportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-import-").FullName;

    /// <summary>Writes what a Hugging Face BLIP retrieval checkpoint holds (BLIP names only, plus buffers we must ignore).</summary>
    internal static string WriteFakeBlipCheckpoint(ModelWeights source, string path, TensorDType dtype)
    {
        var items = WeightSpec.For(source.Config).Where(e => e.FromBlip)
            .Select(e => new KeyValuePair<string, HostTensor>(e.Name, TensorConversion.ToDType(HostTensor.FromFloats(source[e.Name].Data, e.Shape), dtype)))
            .Append(new("text_encoder.embeddings.position_ids", HostTensor.FromInt64(Enumerable.Range(0, 512).Select(i => (long)i).ToArray(), 1, 512)))
            .Append(new("vision_proj_m.weight", TensorConversion.ToDType(HostTensor.FromFloats(new float[4], 2, 2), dtype)));
        SafeTensorsWriter.Write(path, items);
        return path;
    }

    [Theory]
    [InlineData(TensorDType.Float32)]
    [InlineData(TensorDType.BFloat16)]
    [InlineData(TensorDType.Float16)]
    public void ImportedVideoEncoder_EveryFrame_ReproducesBlipImageEncoder(TensorDType dtype)
    {
        var blip = TestModels.Tiny(seed: 31);
        string ckpt = WriteFakeBlipCheckpoint(blip, Path.Combine(_dir, $"blip-{dtype}.safetensors"), dtype);
        var imported = BlipImporter.Import(ckpt, blip.Config);

        Assert.All(imported["vision_model.embeddings.time_embedding"].Data, v => Assert.Equal(0f, v));
        Assert.All(imported["vision_model.encoder.layers.1.temporal_fc.weight"].Data, v => Assert.Equal(0f, v));
        Assert.Equal(imported["vision_model.encoder.layers.1.self_attn.qkv.weight"].Data, imported["vision_model.encoder.layers.1.temporal_attn.qkv.weight"].Data);

        var c = imported.Config;
        int s = c.Vision.ImageSize;
        int frameBytes = s * s * 3;
        var frames = TestModels.RandomFrames(9, 2 * c.NumFrames * frameBytes);
        var builder = new LiteVLGraphBuilder(imported);
        using var video = new GraphRunner(builder.VideoEncoder());
        using var image = new GraphRunner(builder.ImageEncoder());
        var v = video.Run(("frames", frames, [2, c.NumFrames, s, s, 3]));
        var i = image.Run(("frames", frames, [2 * c.NumFrames, s, s, 3]));
        double d = Compare.MaxAbsDiff(v["video_tokens"].Data, i["image_tokens"].Data);
        output.WriteLine($"{dtype} checkpoint: max|Δ| video encoder vs BLIP image encoder over {2 * c.NumFrames} frames: {d:E2}");
        Assert.True(d <= 1e-5, $"imported video encoder differs from the image encoder by {d}");
    }

    [Fact]
    public void Import_PerturbedTemporalBranch_NoLongerMatches()
    {
        // Guards the exactness test: once temporal_fc is non-zero, frame-by-frame equality must break.
        var blip = TestModels.Tiny(seed: 32);
        var imported = BlipImporter.Import(WriteFakeBlipCheckpoint(blip, Path.Combine(_dir, "b.safetensors"), TensorDType.Float32), blip.Config);
        var fc = imported["vision_model.encoder.layers.0.temporal_fc.weight"].Data;
        for (int k = 0; k < fc.Length; k++)
        {
            fc[k] = (k % 7) * 0.01f;
        }

        var c = imported.Config;
        int s = c.Vision.ImageSize;
        var frames = TestModels.RandomFrames(10, c.NumFrames * s * s * 3);
        var builder = new LiteVLGraphBuilder(imported);
        using var video = new GraphRunner(builder.VideoEncoder());
        using var image = new GraphRunner(builder.ImageEncoder());
        double d = Compare.MaxAbsDiff(
            video.Run(("frames", frames, [1, c.NumFrames, s, s, 3]))["video_tokens"].Data,
            image.Run(("frames", frames, [c.NumFrames, s, s, 3]))["image_tokens"].Data);
        Assert.True(d > 1e-3, $"difference {d} too small to detect a temporal branch");
    }

    [Fact]
    public void Import_MissingTensor_NamesIt()
    {
        var blip = TestModels.Tiny(seed: 33);
        var items = WeightSpec.For(blip.Config).Where(e => e.FromBlip && e.Name != "itm_head.bias")
            .Select(e => new KeyValuePair<string, HostTensor>(e.Name, HostTensor.FromFloats(blip[e.Name].Data, e.Shape)));
        string path = Path.Combine(_dir, "partial.safetensors");
        SafeTensorsWriter.Write(path, items);
        var e = Assert.Throws<MissingWeightException>(() => BlipImporter.Import(path, blip.Config));
        Assert.Contains("itm_head.bias", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_WrongPreset_SaysWhichPresetFits()
    {
        var blip = TestModels.Tiny(seed: 34);
        string ckpt = WriteFakeBlipCheckpoint(blip, Path.Combine(_dir, "tiny.safetensors"), TensorDType.Float32);
        var e = Assert.Throws<WeightShapeException>(() => BlipImporter.Import(ckpt, Presets.Get(Presets.BlipBase)));
        Assert.Contains("vision width of 64", e.Message, StringComparison.Ordinal);
        Assert.Contains("768", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_MisShapedTensor_NamesTensorAndBothShapes()
    {
        var blip = TestModels.Tiny(seed: 35);
        var items = WeightSpec.For(blip.Config).Where(e => e.FromBlip)
            .Select(e => new KeyValuePair<string, HostTensor>(
                e.Name,
                e.Name == "text_proj.weight" ? HostTensor.FromFloats(new float[128 * 64], 128, 64) : HostTensor.FromFloats(blip[e.Name].Data, e.Shape)));
        string path = Path.Combine(_dir, "misshaped.safetensors");
        SafeTensorsWriter.Write(path, items);
        var e = Assert.Throws<WeightShapeException>(() => BlipImporter.Import(path, blip.Config));
        Assert.Contains("text_proj.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("[128, 64]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[256, 64]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResizePositions_SameGrid_IsIdentity_AndLinearRampStaysLinear()
    {
        const int d = 3;
        var pos = new float[(1 + 16) * d];
        for (int p = 0; p < 16; p++)
        {
            for (int k = 0; k < d; k++)
            {
                pos[((p + 1) * d) + k] = (p % 4) + (10 * k); // a ramp along x per channel
            }
        }

        Assert.Equal(pos, BlipImporter.ResizePositions(pos, 4, 4, d));
        var up = BlipImporter.ResizePositions(pos, 4, 8, d);
        Assert.Equal(pos[..d], up[..d]);
        // New columns 3 and 4 sit at x = 1.25 and 1.75 of the old grid (half-pixel centres); all four taps are inside.
        // Keys' kernel with a = −0.75 (PyTorch's bicubic) gives weights (−0.105469, 0.878906, 0.261719, −0.035156) at
        // x = 1.25, so the ramp 0,1,2,3 becomes 1.296875 (a = −0.5 would give exactly 1.25), and 1.703125 at x = 1.75.
        Assert.Equal(1.296875, up[(((3 * 8) + 3 + 1) * d) + 0], 5);
        Assert.Equal(1.703125, up[(((3 * 8) + 4 + 1) * d) + 0], 5);
        Assert.Equal(21.296875, up[(((3 * 8) + 3 + 1) * d) + 2], 4);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
