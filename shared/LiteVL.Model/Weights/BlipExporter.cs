using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Weights;

/// <summary>
/// LiteVL → BLIP: writes a model's BLIP tensors as a Hugging Face <c>BlipForImageTextRetrieval</c>-named safetensors
/// checkpoint plus its <c>vocab.txt</c>, the files <see cref="BlipImporter"/> reads. This is how an image-text model
/// pre-trained here (<c>litevl train --params blip</c> on single frames) becomes the BLIP a LiteVL video model is
/// initialised from, through the same import path as a published checkpoint (docs/training.md).
/// </summary>
public static class BlipExporter
{
    public const string CheckpointFileName = "model.safetensors";

    /// <summary>What <see cref="Export"/> wrote, and whether it left a trained temporal branch behind.</summary>
    public sealed record Result(string Checkpoint, string Vocab, int Tensors, long Parameters, bool DroppedTemporal);

    public static Result Export(string modelDir, string outDir)
    {
        var config = ModelConfig.Load(modelDir);
        var weights = ModelWeights.Load(config, Path.Combine(modelDir, ModelWeights.FileName));
        string vocab = Path.Combine(modelDir, ModelDirectory.VocabFileName);
        if (!File.Exists(vocab))
        {
            throw new ModelDirectoryException($"{modelDir} has no {ModelDirectory.VocabFileName}; a BLIP checkpoint ships with its vocabulary.");
        }

        var spec = WeightSpec.For(config);
        var blip = spec.Where(e => e.FromBlip && !WeightSpec.IsQa(e.Name)).ToList();

        // The temporal modules have no place in a BLIP checkpoint. They are zero (or copies of the spatial ones) in an
        // image model; anything else is a trained video model, whose temporal branch the export leaves out.
        bool dropped = spec.Where(e => !e.FromBlip && e.CopyOf is null).Any(e => weights[e.Name].Data.Any(v => v != 0f));
        Directory.CreateDirectory(outDir);
        string checkpoint = Path.Combine(outDir, CheckpointFileName);
        SafeTensorsWriter.Write(
            checkpoint,
            blip.Select(e => new KeyValuePair<string, HostTensor>(e.Name, HostTensor.FromFloats(weights[e.Name].Data, e.Shape))),
            Metadata(config));
        string vocabOut = Path.Combine(outDir, ModelDirectory.VocabFileName);
        File.Copy(vocab, vocabOut, overwrite: true);
        return new Result(checkpoint, vocabOut, blip.Count, blip.Sum(e => weights[e.Name].Count), dropped);
    }

    /// <summary>The checkpoint's metadata; the ITC temperature rides there (a Hugging Face retrieval checkpoint has no tensor for it).</summary>
    private static Dictionary<string, string> Metadata(ModelConfig config)
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["litevl.exported_from"] = config.Version };
        if (config.ItcTemperature is { } temperature)
        {
            metadata[ItcTemperatureKey] = temperature.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        return metadata;
    }

    /// <summary>Metadata key of the ITC temperature in an exported checkpoint.</summary>
    public const string ItcTemperatureKey = "litevl.itc_temperature";
}
