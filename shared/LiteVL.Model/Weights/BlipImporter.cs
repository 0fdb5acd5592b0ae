using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using LiteVL.Model.Text;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Weights;

/// <summary>
/// BLIP → LiteVL initialisation (docs/model.md, "BLIP import"): every BLIP tensor is taken as is (Hugging Face
/// <c>BlipForImageTextRetrieval</c> names); temporal attention and its LayerNorm are copies of the block's spatial ones;
/// <c>temporal_fc</c>, <c>time_embedding</c> and the scaling α are zero, so the video encoder reproduces BLIP's image
/// encoder on every frame.
/// </summary>
public static class BlipImporter
{
    public static ModelWeights Import(string checkpointPath, ModelConfig architecture)
    {
        using var file = SafeTensorsFile.Open(checkpointPath);
        CheckArchitecture(file, architecture);
        var tensors = new Dictionary<string, Weight>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var e in WeightSpec.For(architecture).Where(e => e.FromBlip))
        {
            if (!file.Contains(e.Name))
            {
                missing.Add(e.Name);
                continue;
            }

            if (e.Name == "vision_model.embeddings.position_embedding")
            {
                tensors[e.Name] = new Weight(ReadPositionEmbedding(file, architecture), e.Shape);
                continue;
            }

            tensors[e.Name] = new Weight(ModelWeights.ReadChecked(file, e.Name, e.Shape), e.Shape);
        }

        if (missing.Count > 0)
        {
            throw new MissingWeightException(
                $"{checkpointPath} is not a complete BLIP retrieval checkpoint for '{architecture.Preset}': {missing.Count} tensor(s) missing, first: {string.Join(", ", missing.Take(5))}. Expected Hugging Face BlipForImageTextRetrieval names (vision_model.*, text_encoder.*, vision_proj, text_proj, itm_head).");
        }

        SetImportedTemporalBranch(architecture, tensors);
        return new ModelWeights(
            architecture with { Source = $"imported from BLIP checkpoint {Path.GetFileName(checkpointPath)}", ItcTemperature = ItcTemperature(file) },
            tensors);
    }

    /// <summary>
    /// The checkpoint's ITC temperature, where it has one: the original (salesforce) BLIP's <c>temp</c> tensor, or the
    /// metadata <c>litevl model export-blip</c> writes. Hugging Face retrieval checkpoints carry neither (null).
    /// </summary>
    private static double? ItcTemperature(SafeTensorsFile file)
    {
        double? value = null;
        if (file.Contains("temp"))
        {
            float[] temp = file.ReadFloat32("temp");
            value = temp.Length == 1 ? temp[0] : throw new WeightShapeException($"Tensor 'temp' in {file.Path} holds {temp.Length} values; BLIP's ITC temperature is one.");
        }
        else if (file.Metadata.TryGetValue(BlipExporter.ItcTemperatureKey, out string? text))
        {
            value = double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed)
                ? parsed
                : throw new ModelDirectoryException($"{file.Path}: metadata {BlipExporter.ItcTemperatureKey} is '{text}', not a number.");
        }

        return value is { } v ? Math.Clamp(v, ModelConfig.MinItcTemperature, ModelConfig.MaxItcTemperature) : null;
    }

    /// <summary>
    /// Fills the LiteVL extras of <paramref name="tensors"/> (which must hold every BLIP tensor) as the import leaves
    /// them: temporal attention and its LayerNorm copies of the block's spatial ones; temporal_fc, time_embedding and α zero.
    /// </summary>
    public static void SetImportedTemporalBranch(ModelConfig config, IDictionary<string, Weight> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var e in WeightSpec.For(config).Where(e => !e.FromBlip))
        {
            tensors[e.Name] = e.CopyOf is not null
                ? new Weight((float[])tensors[e.CopyOf].Data.Clone(), e.Shape)
                : new Weight(new float[HostTensor.ElementCountOf(e.Shape)], e.Shape);
        }
    }

    /// <summary>Imports weights, writes a vocabulary with [DEC]/[ENC], config and graphs into <paramref name="outDir"/>.</summary>
    public static ModelConfig ImportToDirectory(string checkpointPath, string vocabPath, ModelConfig architecture, string outDir, bool fp16 = false)
    {
        if (!File.Exists(vocabPath))
        {
            throw new FileNotFoundException($"Vocabulary '{vocabPath}' does not exist; use the vocab.txt that ships with the BLIP checkpoint (bert-base-uncased).", vocabPath);
        }

        var weights = Import(checkpointPath, architecture);
        Directory.CreateDirectory(outDir);
        WriteVocab(vocabPath, Path.Combine(outDir, ModelDirectory.VocabFileName));
        return ModelDirectory.Write(weights, outDir, fp16);
    }

    /// <summary>BLIP's vocab.txt is bert-base-uncased (30522 lines); [DEC] and [ENC] are appended if absent.</summary>
    private static void WriteVocab(string source, string target)
    {
        var lines = File.ReadAllLines(source).Select(l => l.TrimEnd('\r')).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        if (lines.Count == BlipTokenizer.DecId)
        {
            lines.Add("[DEC]");
            lines.Add("[ENC]");
        }

        if (lines.Count != BlipTokenizer.EncId + 1 || lines[BlipTokenizer.DecId] != "[DEC]" || lines[BlipTokenizer.EncId] != "[ENC]")
        {
            throw new InvalidDataException(
                $"Vocabulary '{source}' has {lines.Count} entries; BLIP needs bert-base-uncased (30522 entries) optionally followed by [DEC] and [ENC].");
        }

        File.WriteAllText(target, string.Join('\n', lines) + "\n");
    }

    private static void CheckArchitecture(SafeTensorsFile file, ModelConfig c)
    {
        const string patch = "vision_model.embeddings.patch_embedding.weight";
        if (!file.Contains(patch))
        {
            throw new MissingWeightException($"{file.Path} has no '{patch}': it is not a Hugging Face BLIP checkpoint (BlipForImageTextRetrieval).");
        }

        long width = file.GetInfo(patch).Shape[0];
        if (width != c.Vision.HiddenSize)
        {
            string hint = width switch { 768 => " (a base checkpoint: use --preset blip-base)", 1024 => " (a large checkpoint: use --preset blip-large)", _ => string.Empty };
            throw new WeightShapeException($"{file.Path} has a vision width of {width}, but preset '{c.Preset}' expects {c.Vision.HiddenSize}{hint}.");
        }
    }

    /// <summary>Position embeddings resized bicubically to the configured grid (CLS entry kept), as BLIP's interpolate_pos_embed.</summary>
    private static float[] ReadPositionEmbedding(SafeTensorsFile file, ModelConfig c)
    {
        const string name = "vision_model.embeddings.position_embedding";
        var info = file.GetInfo(name);
        int d = c.Vision.HiddenSize;
        if (info.Shape.Length != 3 || info.Shape[0] != 1 || info.Shape[2] != d)
        {
            throw new WeightShapeException($"Tensor '{name}' in {file.Path} has shape {HostTensor.FormatShape(info.Shape)}, expected [1, 1+N, {d}].");
        }

        var data = file.ReadFloat32(name);
        int oldGrid = (int)Math.Round(Math.Sqrt(info.Shape[1] - 1));
        if (oldGrid * oldGrid != info.Shape[1] - 1)
        {
            throw new WeightShapeException($"Tensor '{name}' in {file.Path} has {info.Shape[1] - 1} patch positions, which is not a square grid.");
        }

        return oldGrid == c.Vision.GridSize ? data : ResizePositions(data, oldGrid, c.Vision.GridSize, d);
    }

    /// <summary>
    /// Bicubic resize of the patch position grid with ONNX Runtime's Resize (cubic, a = −0.75, half-pixel centres),
    /// which is what PyTorch's <c>interpolate(mode="bicubic", align_corners=False)</c> computes.
    /// </summary>
    public static float[] ResizePositions(float[] positions, int oldGrid, int newGrid, int d)
    {
        var grid = new float[d * oldGrid * oldGrid]; // [1, D, g, g]
        for (int p = 0; p < oldGrid * oldGrid; p++)
        {
            for (int k = 0; k < d; k++)
            {
                grid[(k * oldGrid * oldGrid) + p] = positions[((p + 1) * d) + k];
            }
        }

        var g = new OnnxGraph("resize_positions", Precision.Fp32);
        var x = g.Input("grid", OnnxGraph.Float, 1, d, oldGrid, oldGrid);
        var resized = g.Op(
            "Resize",
            [x, g.Absent, g.Absent, g.Int64s(1, d, newGrid, newGrid)],
            ("mode", "cubic"),
            ("cubic_coeff_a", -0.75f),
            ("coordinate_transformation_mode", "half_pixel"));
        g.Output(resized, "resized", OnnxGraph.Float, 1, d, newGrid, newGrid);
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(g.ToModel("position resize", new Dictionary<string, string>())));
        using var input = OrtValue.CreateTensorValueFromMemory(grid, [1, d, oldGrid, oldGrid]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["grid"], [input], ["resized"]);
        var r = outputs[0].GetTensorDataAsSpan<float>();
        var result = new float[(1 + (newGrid * newGrid)) * d];
        positions.AsSpan(0, d).CopyTo(result);
        for (int p = 0; p < newGrid * newGrid; p++)
        {
            for (int k = 0; k < d; k++)
            {
                result[((p + 1) * d) + k] = r[(k * newGrid * newGrid) + p];
            }
        }

        return result;
    }
}
