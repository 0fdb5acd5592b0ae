using System.Globalization;
using LiteVL.Model;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tensors;
using LiteVL.Model.Weights;
using LiteVL.Testing;

namespace LiteVL.Cli.Tests;

/// <summary>A tiny model made once through the CLI, shared by the tests of this class.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        Root = Directory.CreateTempSubdirectory("litevl-cli-").FullName;
        ModelDir = Path.Combine(Root, "model");
        (Exit, Output, Error) = Cli.Run("model", "init", "--preset", "tiny", "--seed", "3", "--out", ModelDir, "--fp16");
    }

    public string Root { get; }

    public string ModelDir { get; }

    public int Exit { get; }

    public string Output { get; }

    public string Error { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

internal static class Cli
{
    public static (int Exit, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int exit = CliApp.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}

public sealed class ModelCommandTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Init_TinyPreset_WritesTheWholeModelDirectory()
    {
        Assert.Equal(0, model.Exit);
        Assert.Contains("wrote tiny model tiny-", model.Output, StringComparison.Ordinal);
        foreach (string file in new[] { "config.json", "weights.safetensors", "vocab.txt", "video_encoder.onnx", "text_encoder.onnx", "reranker.onnx", "video_encoder.fp16.onnx", "text_encoder.fp16.onnx", "reranker.fp16.onnx" })
        {
            Assert.True(File.Exists(Path.Combine(model.ModelDir, file)), $"{file} missing");
        }

        Assert.Equal(30524, File.ReadAllLines(Path.Combine(model.ModelDir, "vocab.txt")).Length);
    }

    [Fact]
    public void Inspect_TinyModel_PrintsVersionParametersGraphsAndScalingChart()
    {
        var (exit, output, error) = Cli.Run("model", "inspect", "--model", model.ModelDir);
        Assert.True(exit == 0, error);
        var config = Model.Config.ModelConfig.Load(model.ModelDir);
        Assert.Contains($"version    {config.Version}", output, StringComparison.Ordinal);
        var weights = ModelWeights.Load(config, Path.Combine(model.ModelDir, "weights.safetensors"));
        Assert.Contains(weights.ParameterCount.ToString("N0", CultureInfo.InvariantCulture), output, StringComparison.Ordinal);
        Assert.Contains("in : frames uint8[batch,8,64,64,3]", output, StringComparison.Ordinal);
        Assert.Contains("out: itm_logits float[candidates,2], frame_weights float[candidates,8]", output, StringComparison.Ordinal);
        for (int layer = 0; layer < 2; layer++)
        {
            double mean = weights[$"vision_model.encoder.layers.{layer}.temporal_scaling"].Data.Take(8).Average(a => 1 + Math.Tanh(a));
            Assert.Contains($"layer  {layer}  {mean.ToString("F3", CultureInfo.InvariantCulture)}  {new string('#', (int)Math.Round(mean * 20))}", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Inspect_AfterTheAlphasChanged_ChartsTheNewPerLayerMeans_AndWritesTheSvg()
    {
        string dir = Path.Combine(model.Root, "scaled");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "6", "--out", dir, "--frames", "4").Exit);
        var config = Model.Config.ModelConfig.Load(dir);
        var weights = ModelWeights.Load(config, Path.Combine(dir, "weights.safetensors"));
        // Layer 0: 1 + tanh(α) = 0.5, 1.5, 0.5, 1.5 over the T = 4 frame slots (mean 1.0); layer 1: 1.75 in each slot.
        float[][] alphas = [[(float)Math.Atanh(-0.5), (float)Math.Atanh(0.5), (float)Math.Atanh(-0.5), (float)Math.Atanh(0.5)], [.. Enumerable.Repeat((float)Math.Atanh(0.75), 4)]];
        for (int layer = 0; layer < 2; layer++)
        {
            Assert.Equal(4, weights[$"vision_model.encoder.layers.{layer}.temporal_scaling"].Data.Length);
            alphas[layer].CopyTo(weights[$"vision_model.encoder.layers.{layer}.temporal_scaling"].Data, 0);
        }

        weights.Save(Path.Combine(dir, "weights.safetensors"));
        string svg = Path.Combine(model.Root, "charts", "scaling.svg");
        var (exit, output, error) = Cli.Run("model", "inspect", "--model", dir, "--svg", svg);
        Assert.True(exit == 0, error);
        Assert.Contains("mean over the T=4 frame slots", output, StringComparison.Ordinal);
        Assert.Contains($"  layer  0  1.000  {new string('#', 20)}{Environment.NewLine}", output, StringComparison.Ordinal);
        Assert.Contains($"  layer  1  1.750  {new string('#', 35)}{Environment.NewLine}", output, StringComparison.Ordinal);
        Assert.Contains("|---------|---------|---------|---------|", output, StringComparison.Ordinal);
        Assert.Contains($"wrote the scaling chart to {svg}", output, StringComparison.Ordinal);

        var doc = System.Xml.Linq.XDocument.Load(svg);
        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        var layers = doc.Descendants(ns + "g").Where(g => (string?)g.Attribute("class") == "layer").ToList();
        Assert.Equal(["1.000", "1.750"], layers.Select(g => (string?)g.Attribute("data-value")));
        Assert.Equal(["layer 0", "layer 1"], layers.Select(g => g.Elements(ns + "text").First().Value));
        Assert.Equal(["200", "350"], layers.Select(g => (string?)g.Element(ns + "rect")!.Attribute("width")));
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == $"{config.Version} (tiny, T=4)");
    }

    [Fact]
    public void Inspect_SvgToAPathThatCannotBeWritten_SaysWhatToDoWithoutAStackTrace()
    {
        string folder = Path.Combine(model.Root, "a-folder");
        Directory.CreateDirectory(folder);
        var (exit, output, error) = Cli.Run("model", "inspect", "--model", model.ModelDir, "--svg", folder);
        Assert.Equal(1, exit);
        Assert.Contains("layer  0", output, StringComparison.Ordinal);                // the text report still came out
        Assert.StartsWith($"error: Cannot write the scaling chart to '{folder}'", error, StringComparison.Ordinal);
        Assert.Contains("give --svg a file path in a folder you can write to", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_VideoEncoderOnNpz_WritesTheSameOutputsAsTheLibrary()
    {
        string input = Path.Combine(model.Root, "video-in.npz");
        string output = Path.Combine(model.Root, "video-out.npz");
        var frames = new byte[2 * 8 * 64 * 64 * 3];
        new Random(4).NextBytes(frames);
        Npz.Write(input, [new("frames", HostTensor.FromBytes(frames, 2, 8, 64, 64, 3))]);
        var (exit, _, error) = Cli.Run("model", "run", "--model", model.ModelDir, "--graph", "video_encoder", "--in", input, "--out", output);
        Assert.True(exit == 0, error);
        var result = Npz.Read(output);
        using var lib = LiteVLModel.Open(model.ModelDir);
        var expected = lib.EncodeVideos(frames, 2);
        Assert.Equal([2L, 8, 17, 64], result["video_tokens"].Shape);
        Assert.Equal(expected.VideoTokens, result["video_tokens"].ToFloat32());
        Assert.Equal(expected.VideoEmbeddings, result["video_embedding"].ToFloat32());
    }

    [Fact]
    public void Run_WrongFrameCount_FailsWithAMessageNamingTheDimension()
    {
        string input = Path.Combine(model.Root, "bad-in.npz");
        Npz.Write(input, [new("frames", HostTensor.FromBytes(new byte[1 * 6 * 64 * 64 * 3], 1, 6, 64, 64, 3))]);
        var (exit, _, error) = Cli.Run("model", "run", "--model", model.ModelDir, "--graph", "video_encoder", "--in", input, "--out", Path.Combine(model.Root, "bad-out.npz"));
        Assert.Equal(1, exit);
        Assert.Contains("error: video_encoder: input 'frames' must have shape [batch, T=8, S=64, S=64, channels=3], got [1, 6, 64, 64, 3]", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(model.Root, "bad-out.npz")));
    }

    [Fact]
    public void EncodeText_PrintsTokensIdsAndA256dUnitEmbedding()
    {
        var (exit, output, error) = Cli.Run("encode-text", "--model", model.ModelDir, "A dog (brown) catches a frisbee!");
        Assert.True(exit == 0, error);
        Assert.Contains("cleaned:   a dog brown catches a frisbee", output, StringComparison.Ordinal);
        Assert.Contains("tokens:    [CLS] a dog brown catches a fr ##is ##bee [SEP]", output, StringComparison.Ordinal);
        Assert.Contains("ids:       101 1037 3899 2829 11269 1037 10424 2483 11306 102", output, StringComparison.Ordinal);
        var values = output.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(256, values.Count);
        Assert.Equal(1.0, Math.Sqrt(values.Sum(v => v * v)), 3);
    }

    [Fact]
    public void Build_AfterWeightsChange_StampsANewVersion()
    {
        string dir = Path.Combine(model.Root, "rebuild");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "5", "--out", dir).Exit);
        string before = Model.Config.ModelConfig.Load(dir).Version;
        Assert.Equal(0, Cli.Run("model", "build", "--model", dir).Exit);
        Assert.Equal(before, Model.Config.ModelConfig.Load(dir).Version); // same weights and graphs: same version

        var config = Model.Config.ModelConfig.Load(dir);
        var weights = ModelWeights.Load(config, Path.Combine(dir, "weights.safetensors"));
        weights["itm_head.bias"].Data[0] += 1f;
        weights.Save(Path.Combine(dir, "weights.safetensors"));
        var (exit, output, _) = Cli.Run("model", "build", "--model", dir);
        Assert.Equal(0, exit);
        string after = Model.Config.ModelConfig.Load(dir).Version;
        Assert.NotEqual(before, after);
        Assert.Contains(after, output, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_FromBlipCheckpointThroughTheCli_GivesAWorkingModel()
    {
        // A BLIP-named checkpoint of the tiny shape stands in for the published ones (which are 900 MB+).
        var source = ModelWeights.Random(Model.Config.Presets.Get("tiny"), seed: 8);
        string ckpt = Path.Combine(model.Root, "blip-tiny.safetensors");
        SafeTensorsWriter.Write(ckpt, WeightSpec.For(source.Config).Where(e => e.FromBlip)
            .Select(e => new KeyValuePair<string, HostTensor>(e.Name, TensorConversion.ToDType(HostTensor.FromFloats(source[e.Name].Data, e.Shape), TensorDType.BFloat16))));
        string vocab = Path.Combine(model.Root, "bert-vocab.txt");
        File.WriteAllLines(vocab, Model.Text.BertVocabulary.BaseUncased);
        string dir = Path.Combine(model.Root, "imported");
        var (exit, output, error) = Cli.Run("model", "import", "--blip", ckpt, "--vocab", vocab, "--preset", "tiny", "--out", dir);
        Assert.True(exit == 0, error);
        Assert.Contains("imported", output, StringComparison.Ordinal);
        var (inspectExit, inspect, _) = Cli.Run("model", "inspect", "--model", dir);
        Assert.Equal(0, inspectExit);
        Assert.Contains("layer  0  1.000  ####################", inspect, StringComparison.Ordinal); // α = 0 at import
        Assert.Equal(["[DEC]", "[ENC]"], File.ReadAllLines(Path.Combine(dir, "vocab.txt"))[^2..]);
    }

    [Fact]
    public void InitQa_ThenImportQa_AddsTheVideoQaHeadsOfABlipVqaCheckpoint_ToARetrievalModel()
    {
        // A model with random QA heads is the source of a Hugging Face-named BLIP VQA checkpoint of the tiny shape.
        string source = Path.Combine(model.Root, "qa-source");
        var (initExit, initOutput, initError) = Cli.Run("model", "init", "--preset", "tiny", "--seed", "9", "--qa", "--out", source);
        Assert.True(initExit == 0, initError);
        Assert.Contains("wrote tiny model", initOutput, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(source, "question_encoder.onnx")) && File.Exists(Path.Combine(source, "answer_decoder.onnx")));
        var (_, sourceInspect, _) = Cli.Run("model", "inspect", "--model", source);
        Assert.Contains("video QA   question encoder + answer decoder", sourceInspect, StringComparison.Ordinal);
        Assert.Contains("answer_decoder.onnx", sourceInspect, StringComparison.Ordinal);

        var config = Model.Config.ModelConfig.Load(source);
        var weights = ModelWeights.Load(config, Path.Combine(source, ModelWeights.FileName));
        string ckpt = Path.Combine(model.Root, "blip-vqa-tiny.safetensors");
        SafeTensorsWriter.Write(ckpt, WeightSpec.For(config).Where(e => WeightSpec.IsQa(e.Name) || e.Name == "vision_model.embeddings.patch_embedding.weight")
            .Select(e => new KeyValuePair<string, HostTensor>(WeightSpec.IsQa(e.Name) ? e.Name["qa.".Length..] : e.Name, HostTensor.FromFloats(weights[e.Name].Data, e.Shape))));

        string target = Path.Combine(model.Root, "qa-target");
        Assert.Equal(0, Cli.Run("model", "init", "--preset", "tiny", "--seed", "10", "--out", target).Exit);
        var (_, before, _) = Cli.Run("model", "inspect", "--model", target);
        Assert.Contains("video QA   none", before, StringComparison.Ordinal);
        string versionBefore = Model.Config.ModelConfig.Load(target).Version;
        var (exit, output, error) = Cli.Run("model", "import-qa", "--checkpoint", ckpt, "--model", target);
        Assert.True(exit == 0, error);
        Assert.Contains("added video QA heads", output, StringComparison.Ordinal);
        Assert.Equal(versionBefore, Model.Config.ModelConfig.Load(target).Version);   // nothing indexed changes: no re-index
        Assert.Contains($"model version {versionBefore} unchanged", output, StringComparison.Ordinal);
        Assert.Contains("Hugging Face names", output, StringComparison.Ordinal);
        using var opened = LiteVLModel.Open(target);
        Assert.True(opened.HasQa);
        var merged = ModelWeights.Load(opened.Config, Path.Combine(target, ModelWeights.FileName));
        Assert.Equal(weights["qa.text_decoder.cls.predictions.bias"].Data, merged["qa.text_decoder.cls.predictions.bias"].Data);

        var (badExit, _, badError) = Cli.Run("model", "import-qa", "--checkpoint", Path.Combine(model.Root, "none.safetensors"), "--model", target);
        Assert.Equal(1, badExit);
        Assert.Contains("none.safetensors", badError, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_MissingCheckpoint_SaysSoAndExitsNonZero()
    {
        var (exit, _, error) = Cli.Run("model", "import", "--blip", "/nonexistent/model.safetensors", "--vocab", "/nonexistent/vocab.txt", "--preset", "blip-base", "--out", Path.Combine(model.Root, "x"));
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains("vocab.txt", error, StringComparison.Ordinal);
    }

    [Fact]
    public void InitImage_WithSinCosPositions_WritesTheCode_AndSaysSoInTheSource()
    {
        string dir = Path.Combine(model.Root, "sincos");
        var (exit, _, error) = Cli.Run("model", "init", "--preset", "tiny", "--seed", "4", "--image", "--positions", "sincos", "--out", dir);
        Assert.True(exit == 0, error);
        var config = Model.Config.ModelConfig.Load(dir);
        Assert.Equal(1, config.NumFrames);
        Assert.Contains("2D sine-cosine positions", config.Source, StringComparison.Ordinal);
        var written = ModelWeights.Load(config, Path.Combine(dir, "weights.safetensors"))["vision_model.embeddings.position_embedding"].Data;
        var expected = ModelWeights.Random(config, seed: 4).WithImportedTemporalBranch().WithSinCosPositionEmbedding()["vision_model.embeddings.position_embedding"].Data;
        Assert.Equal(expected, written);

        var (bad, _, badError) = Cli.Run("model", "init", "--preset", "tiny", "--image", "--positions", "learned", "--out", Path.Combine(model.Root, "z"));
        Assert.NotEqual(0, bad);
        Assert.Contains("learned", badError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(model.Root, "z")));
    }

    [Fact]
    public void Install_PutsTheShippedModelWithBuiltGraphs_AndLeavesAnInstalledModelAlone()
    {
        string dir = Path.Combine(model.Root, "installed");
        var (exit, output, error) = Cli.Run("model", "install", "--out", dir);
        Assert.True(exit == 0, error);
        Assert.Contains("installed small model small-", output, StringComparison.Ordinal);
        foreach (string file in new[] { "config.json", "weights.safetensors", "vocab.txt" })
        {
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        }

        Assert.Equal(
            File.ReadAllBytes(Path.Combine(RepositoryRoot.Path, "models", "small", "weights.safetensors")),
            File.ReadAllBytes(Path.Combine(dir, "weights.safetensors")));
        foreach (string graph in ModelDirectory.GraphNames)
        {
            Assert.True(File.Exists(Path.Combine(dir, graph + ".onnx")), graph);
        }

        Assert.False(Directory.Exists(Path.Combine(dir, ".installing")));
        var config = Model.Config.ModelConfig.Load(dir);
        Assert.Equal(ModelDirectory.ComputeVersion(config, Path.Combine(dir, "weights.safetensors")), config.Version);
        DateTime written = File.GetLastWriteTimeUtc(Path.Combine(dir, "config.json"));

        // A second install refuses, and the installed model is untouched.
        var (again, _, againError) = Cli.Run("model", "install", "--out", dir);
        Assert.Equal(1, again);
        Assert.Contains("already holds a model", againError, StringComparison.Ordinal);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(dir, "config.json")));

        // A source without weights says which files are missing, and writes nothing.
        string partial = Path.Combine(model.Root, "partial");
        Directory.CreateDirectory(partial);
        File.Copy(Path.Combine(dir, "config.json"), Path.Combine(partial, "config.json"));
        string target = Path.Combine(model.Root, "from-partial");
        var (bad, _, badError) = Cli.Run("model", "install", "--from", partial, "--out", target);
        Assert.Equal(1, bad);
        Assert.Contains("weights.safetensors, vocab.txt", badError, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(target, "config.json")));
    }

    [Fact]
    public void Init_UnknownPreset_IsRejectedByTheParser()
    {
        var (exit, _, error) = Cli.Run("model", "init", "--preset", "huge", "--out", Path.Combine(model.Root, "y"));
        Assert.NotEqual(0, exit);
        Assert.Contains("huge", error, StringComparison.Ordinal);
    }
}
