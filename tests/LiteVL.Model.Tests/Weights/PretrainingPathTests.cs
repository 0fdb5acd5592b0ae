using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Weights;

/// <summary>
/// The path from image-text pre-training to a LiteVL video model: <c>model init --image</c>, <c>--params blip</c>,
/// <c>export-blip</c>, then the ordinary BLIP import; and the ablation's <c>--fixed-scaling</c>.
/// </summary>
public sealed class PretrainingPathTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-pretrain-path-").FullName;

    [Fact]
    public void ImageInit_HasTheImportedTemporalBranch_SoItIsExactlyTheImageModel()
    {
        var random = TestModels.Tiny(seed: 41);
        var image = random.WithImportedTemporalBranch();
        foreach (var e in WeightSpec.For(random.Config))
        {
            if (e.FromBlip)
            {
                Assert.Equal(random[e.Name].Data, image[e.Name].Data);
            }
            else if (e.CopyOf is not null)
            {
                Assert.Equal(random[e.CopyOf].Data, image[e.Name].Data);
            }
            else
            {
                Assert.All(image[e.Name].Data, v => Assert.Equal(0f, v));
                Assert.Contains(random[e.Name].Data, v => v != 0f);     // the random model had a branch to remove
            }
        }
    }

    [Fact]
    public void SinCosPositions_CodeEachPatchsColumnAndRow()
    {
        var config = Presets.Get(Presets.Tiny) with { NumFrames = 1, MaxFrames = 1 };
        string dir = Path.Combine(_dir, "image-positions");
        ModelDirectory.Init(config, seed: 5, dir, image: true, sinCosPositions: true);
        var init = ModelWeights.Load(ModelConfig.Load(dir), Path.Combine(dir, ModelWeights.FileName));
        var random = ModelWeights.Random(config, seed: 5);
        var v = config.Vision;
        int d = v.HiddenSize, half = d / 2, grid = v.GridSize;
        float[] pos = init["vision_model.embeddings.position_embedding"].Data;
        float[] before = random["vision_model.embeddings.position_embedding"].Data;
        float[] Token(int p) => pos.AsSpan((p + 1) * d, d).ToArray();

        Assert.Equal(before.AsSpan(0, d).ToArray(), pos.AsSpan(0, d).ToArray());            // the class token's row is untouched
        Assert.Equal(init["vision_model.embeddings.patch_embedding.weight"].Data, random["vision_model.embeddings.patch_embedding.weight"].Data);
        for (int p = 0; p < v.NumPatches; p++)
        {
            int row = p / grid, column = p % grid;
            float[] t = Token(p);
            for (int i = 0; i < half; i += 2)
            {
                // Each (sin, cos) pair lies on the circle of the amplitude, so every patch's code is equally strong.
                Assert.Equal(ModelWeights.PretrainPositionAmplitude, Math.Sqrt((t[i] * t[i]) + (t[i + 1] * t[i + 1])), 4);
                Assert.Equal(ModelWeights.PretrainPositionAmplitude, Math.Sqrt((t[half + i] * t[half + i]) + (t[half + i + 1] * t[half + i + 1])), 4);
            }

            Assert.Equal(3.0 * Math.Sin(column), t[0], 5);
            Assert.Equal(3.0 * Math.Cos(row), t[half + 1], 5);
            // Same column → same first half; same row → same second half; any other patch differs.
            Assert.Equal(t.AsSpan(0, half).ToArray(), Token((((row + 1) % grid) * grid) + column).AsSpan(0, half).ToArray());
            Assert.Equal(t.AsSpan(half).ToArray(), Token((row * grid) + ((column + 1) % grid)).AsSpan(half).ToArray());
            for (int q = 0; q < p; q++)
            {
                Assert.True(Compare.MaxAbsDiff(t, Token(q)) > 0.1, $"patches {p} and {q} share a position code");
            }
        }

        // Without the option, positions stay random.
        string video = Path.Combine(_dir, "random-positions");
        ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 5, video, image: true);
        var videoWeights = ModelWeights.Load(ModelConfig.Load(video), Path.Combine(video, ModelWeights.FileName));
        Assert.Equal(ModelWeights.Random(Presets.Get(Presets.Tiny), seed: 5)["vision_model.embeddings.position_embedding"].Data, videoWeights["vision_model.embeddings.position_embedding"].Data);
    }

    [Fact]
    public void ExportThenImport_GivesBackEveryBlipTensor_AndAVideoEncoderThatIsTheImageEncoderPerFrame()
    {
        var config = Presets.Get(Presets.Tiny) with { NumFrames = 1, MaxFrames = 1 };
        var imageDir = Path.Combine(_dir, "image");
        ModelDirectory.Init(config, seed: 7, imageDir, image: true);
        var image = ModelWeights.Load(ModelConfig.Load(imageDir), Path.Combine(imageDir, ModelWeights.FileName));

        var exported = BlipExporter.Export(imageDir, Path.Combine(_dir, "blip"));
        Assert.False(exported.DroppedTemporal);
        var video = BlipImporter.Import(exported.Checkpoint, Presets.Get(Presets.Tiny));
        Assert.Equal(8, video.Config.NumFrames);
        foreach (var e in WeightSpec.For(video.Config).Where(e => e.FromBlip))
        {
            Assert.Equal(image[e.Name].Data, video[e.Name].Data);
        }

        // T = 8 frames through the imported video encoder = each frame through the pre-trained one-frame model.
        var c = video.Config;
        int s = c.Vision.ImageSize, frameBytes = s * s * 3;
        var frames = TestModels.RandomFrames(5, c.NumFrames * frameBytes);
        using var videoGraph = new GraphRunner(new LiteVLGraphBuilder(video).VideoEncoder());
        using var imageGraph = new GraphRunner(new LiteVLGraphBuilder(image).VideoEncoder());
        var v = videoGraph.Run(("frames", frames, [1, c.NumFrames, s, s, 3]));
        var i = imageGraph.Run(("frames", frames, [c.NumFrames, 1, s, s, 3]));
        double d = Compare.MaxAbsDiff(v["video_tokens"].Data, i["video_tokens"].Data);
        output.WriteLine($"max|Δ| imported T=8 video tokens vs the pre-trained T=1 model frame by frame: {d:E2}");
        Assert.True(d <= 1e-5, $"the imported video model differs from the pre-trained image model by {d}");
    }

    [Fact]
    public void TheItcTemperature_TravelsThroughExportAndImport_AndAnOriginalBlipTempTensorIsRead()
    {
        var config = Presets.Get(Presets.Tiny) with { NumFrames = 1, MaxFrames = 1 };
        string imageDir = Path.Combine(_dir, "tempered");
        ModelDirectory.Init(config, seed: 9, imageDir, image: true);
        var exportedWithout = BlipExporter.Export(imageDir, Path.Combine(_dir, "blip-plain"));
        Assert.Null(BlipImporter.Import(exportedWithout.Checkpoint, Presets.Get(Presets.Tiny)).Config.ItcTemperature);   // BLIP's 0.07 then

        (ModelConfig.Load(imageDir) with { ItcTemperature = 0.0142 }).Save(imageDir);
        var exported = BlipExporter.Export(imageDir, Path.Combine(_dir, "blip-tempered"));
        var imported = BlipImporter.Import(exported.Checkpoint, Presets.Get(Presets.Tiny));
        Assert.Equal(0.0142, imported.Config.ItcTemperature);
        Assert.Equal(0.0142f, RetrievalTrainer.InitialTemperature(new TrainerOptions(), imported.Config), 6);
        Assert.Equal(0.05f, RetrievalTrainer.InitialTemperature(new TrainerOptions { InitialTemperature = 0.05f }, imported.Config), 6);   // an explicit start wins
        Assert.Equal(0.02f, RetrievalTrainer.InitialTemperature(new TrainerOptions { MinTemperature = 0.02 }, imported.Config), 6);        // never below --min-temp
        Assert.Equal(0.07f, RetrievalTrainer.InitialTemperature(new TrainerOptions(), Presets.Get(Presets.Tiny)), 6);

        // The original (salesforce) BLIP checkpoints hold it as a 0-d tensor "temp", which wins over metadata.
        string original = Path.Combine(_dir, "original.safetensors");
        using (var file = LiteVL.Model.IO.SafeTensorsFile.Open(exported.Checkpoint))
        {
            var tensors = file.Names.Select(n => new KeyValuePair<string, LiteVL.Model.Tensors.HostTensor>(n, LiteVL.Model.Tensors.HostTensor.FromFloats(file.ReadFloat32(n), file.GetInfo(n).Shape)))
                .Append(new("temp", LiteVL.Model.Tensors.HostTensor.FromFloats([0.031f], [])))
                .ToList();
            LiteVL.Model.IO.SafeTensorsWriter.Write(original, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }

        Assert.Equal(0.031, BlipImporter.Import(original, Presets.Get(Presets.Tiny)).Config.ItcTemperature!.Value, 6);
    }

    [Fact]
    public void Export_OfATrainedVideoModel_SaysItLeavesTheTemporalBranchOut()
    {
        string dir = Path.Combine(_dir, "video");
        ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 3, dir);
        var r = BlipExporter.Export(dir, Path.Combine(_dir, "blip2"));
        Assert.True(r.DroppedTemporal);
        Assert.Equal(WeightSpec.For(Presets.Get(Presets.Tiny)).Count(e => e.FromBlip), r.Tensors);
    }

    [Fact]
    public void BlipGroup_TrainsNoTemporalModule_AndFixedScalingLeavesOnlyAlphaOut()
    {
        var w = TestModels.Tiny(seed: 2);
        var blip = ParameterGroups.Select(w, ParameterGroup.Blip);
        var all = ParameterGroups.Select(w, ParameterGroup.All);
        var fixedAll = ParameterGroups.Select(w, ParameterGroup.All, fixedScaling: true);
        Assert.DoesNotContain(blip, ParameterGroups.IsTemporal);
        Assert.Equal(all.Count(n => !ParameterGroups.IsTemporal(n)), blip.Count);
        Assert.Equal(all.Where(n => !n.EndsWith(".temporal_scaling", StringComparison.Ordinal)), fixedAll);
        Assert.Equal(w.Config.Vision.NumLayers, all.Count - fixedAll.Count);

        var fixedWeights = ParameterGroups.FixScaling(w);
        Assert.All(ScalingChart.LayerMeans(fixedWeights), m => Assert.Equal(1.0, m));
        Assert.Contains(ScalingChart.LayerMeans(w), m => m != 1.0);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
