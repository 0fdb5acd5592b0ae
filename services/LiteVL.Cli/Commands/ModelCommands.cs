using System.CommandLine;
using System.Globalization;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Onnx;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl model init|install|import|import-qa|export-blip|build|inspect|run</c>: work on model directories directly.</summary>
internal static class ModelCommands
{
    public static Command Create(TextWriter output)
    {
        var model = new Command("model", "Create, import, build, inspect and run LiteVL model directories.");
        model.Subcommands.Add(Init(output));
        model.Subcommands.Add(Install(output));
        model.Subcommands.Add(Import(output));
        model.Subcommands.Add(ImportQa(output));
        model.Subcommands.Add(ExportBlip(output));
        model.Subcommands.Add(Build(output));
        model.Subcommands.Add(Inspect(output));
        model.Subcommands.Add(RunGraph(output));
        return model;
    }

    private static Command Init(TextWriter output)
    {
        var preset = CliOptions.Preset(required: true);
        var seed = new Option<int>("--seed") { Description = "Random seed of the weights.", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out", "-o") { Description = "Directory to write the model to.", Required = true };
        var fp16 = CliOptions.Fp16("Also build the fp16 graphs (for GPUs).");
        var frames = new Option<int?>("--frames") { Description = "Frames per segment T (default 8)." };
        var clsMode = new Option<string>("--cls-mode") { Description = "per_frame (default) or shared.", DefaultValueFactory = _ => "per_frame" }
            .AcceptOnlyFromAmong("per_frame", "shared");
        var image = new Option<bool>("--image") { Description = "An image-text BLIP to pre-train: the temporal branch zero, as an import leaves it (one frame unless --frames says otherwise); see docs/training.md." };
        var positions = new Option<string>("--positions") { Description = "Patch position embeddings: random (N(0, 0.02), as BLIP's ViT) or sincos (a fixed-frequency 2D sine-cosine code of amplitude 3, then trained as usual; see docs/evaluation.md for what it changed).", DefaultValueFactory = _ => "random" }
            .AcceptOnlyFromAmong("random", "sincos");
        var qa = new Option<bool>("--qa") { Description = "With video QA heads (BLIP VQA's question encoder and answer decoder, random): the question_encoder and answer_decoder graphs are built too; see docs/model.md, \"Video QA\"." };
        var cmd = new Command("init", "Random weights for a preset, the bert-base-uncased vocabulary, config and graphs. Random weights are for wiring and tests, or the start of pre-training (--image): they do not find anything meaningful.")
        {
            preset, seed, outDir, fp16, frames, clsMode, image, positions, qa,
        };
        cmd.SetAction(p =>
        {
            bool isImage = p.GetValue(image);
            var config = Architecture(p.GetValue(preset)!, p.GetValue(frames) ?? (isImage ? 1 : null), p.GetValue(clsMode)!);
            var started = System.Diagnostics.Stopwatch.StartNew();
            string dir = p.GetValue(outDir)!;
            var written = ModelDirectory.Init(config, p.GetValue(seed), dir, p.GetValue(fp16), isImage, p.GetValue(positions) == "sincos", p.GetValue(qa));
            output.WriteLine($"wrote {written.Preset} model {written.Version} to {Path.GetFullPath(dir)} in {started.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }

    private static Command Install(TextWriter output)
    {
        var from = new Option<string>("--from") { Description = "Folder with config.json, weights.safetensors and vocab.txt (default: the shipped small model, trained on synthetic motion clips).", DefaultValueFactory = _ => ModelDirectory.ShippedSmall };
        var outDir = new Option<string>("--out", "-o") { Description = "Empty model directory to install into (what LiteVL:Model:Directory points at).", Required = true };
        var fp16 = CliOptions.Fp16("Also build the fp16 graphs (for GPUs).");
        var cmd = new Command("install", "Install a model (by default the shipped small model) into a model directory and build its graphs; a directory that already holds a model is left alone.")
        {
            from, outDir, fp16,
        };
        cmd.SetAction(p =>
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            string dir = p.GetValue(outDir)!;
            var installed = ModelDirectory.Install(p.GetValue(from)!, dir, p.GetValue(fp16));
            output.WriteLine($"installed {installed.Preset} model {installed.Version} into {Path.GetFullPath(dir)} in {started.Elapsed.TotalSeconds:F1} s{(installed.Source is { } source ? $" ({source})" : string.Empty)}");
            return 0;
        });
        return cmd;
    }

    private static Command Import(TextWriter output)
    {
        var blip = new Option<string>("--blip") { Description = "Hugging Face BLIP retrieval checkpoint (model.safetensors of BlipForImageTextRetrieval).", Required = true };
        var vocab = new Option<string>("--vocab") { Description = "The checkpoint's vocab.txt (bert-base-uncased).", Required = true };
        var preset = CliOptions.Preset(required: true);
        preset.Description = "Architecture of the checkpoint: blip-base or blip-large (tiny for small test checkpoints of the tiny shape).";
        var outDir = new Option<string>("--out", "-o") { Description = "Directory to write the model to.", Required = true };
        var fp16 = CliOptions.Fp16("Also build the fp16 graphs (for GPUs).");
        var frames = new Option<int?>("--frames") { Description = "Frames per segment T (default 8)." };
        var cmd = new Command("import", "BLIP → LiteVL: temporal attention copied from the spatial one, temporal_fc and time embedding zero, so the model starts as BLIP's zero-shot video retrieval.")
        {
            blip, vocab, preset, outDir, fp16, frames,
        };
        cmd.SetAction(p =>
        {
            var config = Architecture(p.GetValue(preset)!, p.GetValue(frames), "per_frame");
            var started = System.Diagnostics.Stopwatch.StartNew();
            var written = BlipImporter.ImportToDirectory(p.GetValue(blip)!, p.GetValue(vocab)!, config, p.GetValue(outDir)!, p.GetValue(fp16));
            output.WriteLine($"imported {p.GetValue(blip)} as {written.Version} into {Path.GetFullPath(p.GetValue(outDir)!)} in {started.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }

    private static Command ImportQa(TextWriter output)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "BLIP VQA checkpoint in safetensors form: Hugging Face BlipForQuestionAnswering (model.safetensors) or the original salesforce blip_vqa.py state dict converted to safetensors.", Required = true };
        var modelDir = CliOptions.ModelDir();
        var cmd = new Command("import-qa", "Add BLIP VQA's question encoder and answer decoder to a model: the video QA heads read the model's own video tokens (its vision encoder stays), so one encoding pass serves search and questions. The QA graphs are built; the model version stays (nothing indexed changes).")
        {
            checkpoint, modelDir,
        };
        cmd.SetAction(p =>
        {
            string dir = p.GetValue(modelDir)!;
            string ckpt = p.GetValue(checkpoint)!;
            if (!File.Exists(ckpt))
            {
                throw new FileNotFoundException($"Checkpoint '{ckpt}' does not exist.", ckpt);
            }

            var started = System.Diagnostics.Stopwatch.StartNew();
            var config = ModelConfig.Load(dir);
            var weights = BlipVqaImporter.AddQaHeads(ModelWeights.Load(config, Path.Combine(dir, ModelWeights.FileName)), ckpt, out var layout);
            bool fp16 = File.Exists(Path.Combine(dir, GraphFiles.FileName(LiteVLGraphBuilder.VideoEncoderName, Precision.Fp16)));
            var written = ModelDirectory.Write(weights, dir, fp16);
            long added = weights.Tensors.Where(kv => WeightSpec.IsQa(kv.Key)).Sum(kv => (long)kv.Value.Count);
            string version = written.Version == config.Version ? $"model version {written.Version} unchanged (the QA heads change answers, not what is indexed)" : $"model {config.Version} is now {written.Version}";
            output.WriteLine($"added video QA heads ({added.ToString("N0", CultureInfo.InvariantCulture)} parameters, {(layout == BlipVqaImporter.Layout.HuggingFace ? "Hugging Face" : "salesforce")} names) from {ckpt} to {Path.GetFullPath(dir)}: {version}, in {started.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }

    private static Command ExportBlip(TextWriter output)
    {
        var modelDir = CliOptions.ModelDir();
        var outDir = new Option<string>("--out", "-o") { Description = "Directory for model.safetensors (Hugging Face BlipForImageTextRetrieval names) and vocab.txt.", Required = true };
        var cmd = new Command("export-blip", "Write a model's BLIP weights as a BLIP retrieval checkpoint (what 'litevl model import --blip' reads): how an image-text model pre-trained here initialises a LiteVL video model.")
        {
            modelDir, outDir,
        };
        cmd.SetAction(p =>
        {
            var r = BlipExporter.Export(p.GetValue(modelDir)!, p.GetValue(outDir)!);
            output.WriteLine($"wrote {r.Tensors} BLIP tensors ({r.Parameters:N0} parameters) to {Path.GetFullPath(r.Checkpoint)} and {Path.GetFullPath(r.Vocab)}");
            if (r.DroppedTemporal)
            {
                output.WriteLine("note: the model's trained temporal branch (temporal_fc, time_embedding, scaling α) is not part of a BLIP checkpoint and was left out");
            }

            return 0;
        });
        return cmd;
    }

    private static Command Build(TextWriter output)
    {
        var modelDir = CliOptions.ModelDir();
        var fp16 = CliOptions.Fp16("Also build the fp16 graphs.");
        var plain = new Option<bool>("--plain-attention") { Description = "Standard-op attention instead of com.microsoft MultiHeadAttention (for checking)." };
        var cmd = new Command("build", "(Re)write the ONNX graphs from config.json and weights.safetensors, and stamp a new version.") { modelDir, fp16, plain };
        cmd.SetAction(p =>
        {
            var config = ModelDirectory.BuildGraphs(p.GetValue(modelDir)!, p.GetValue(fp16), attention: p.GetValue(plain) ? AttentionKind.Plain : AttentionKind.Fused);
            output.WriteLine($"built graphs for {config.Version}");
            return 0;
        });
        return cmd;
    }

    private static Command Inspect(TextWriter output)
    {
        var modelDir = CliOptions.ModelDir();
        var svg = new Option<string?>("--svg") { Description = "Also write the per-layer dynamic temporal scaling chart as an SVG file." };
        var cmd = new Command("inspect", "Parameter counts, graph inputs/outputs, per-layer dynamic temporal scaling (a text chart, --svg for an SVG file) and the version.")
        {
            modelDir, svg,
        };
        cmd.SetAction(p =>
        {
            ModelInspector.Print(p.GetValue(modelDir)!, output, p.GetValue(svg));
            return 0;
        });
        return cmd;
    }

    private static Command RunGraph(TextWriter output)
    {
        var modelDir = CliOptions.ModelDir();
        var graph = new Option<string>("--graph") { Description = "video_encoder, text_encoder, reranker, or for a model with QA heads question_encoder or answer_decoder.", Required = true }
            .AcceptOnlyFromAmong([.. ModelDirectory.GraphNames, .. ModelDirectory.QaGraphNames]);
        var input = new Option<string>("--in") { Description = "NumPy .npz with the graph's inputs, named as in the graph contract.", Required = true };
        var outFile = new Option<string>("--out") { Description = "NumPy .npz to write the outputs to.", Required = true };
        var device = CliOptions.Device();
        var fp16 = CliOptions.Fp16("Run the fp16 graph.");
        var cmd = new Command("run", "Run one graph on .npz tensors, so the graphs can be checked against any reference.") { modelDir, graph, input, outFile, device, fp16 };
        cmd.SetAction(p =>
        {
            using var logging = CliOptions.Logging();
            using var model = LiteVLModel.Open(p.GetValue(modelDir)!, CliOptions.Runtime(p.GetValue(device)!, p.GetValue(fp16)), logging.CreateLogger("litevl"));
            var inputs = Npz.Read(p.GetValue(input)!);
            var session = model.Graph(p.GetValue(graph)!);
            var started = System.Diagnostics.Stopwatch.StartNew();
            var outputs = session.Run(inputs);
            Npz.Write(p.GetValue(outFile)!, outputs);
            output.WriteLine($"{session.Name} on {model.ActiveDevice}: {started.Elapsed.TotalMilliseconds:F1} ms");
            foreach (var (name, tensor) in outputs)
            {
                output.WriteLine($"  {name} {tensor}");
            }

            return 0;
        });
        return cmd;
    }

    private static ModelConfig Architecture(string preset, int? frames, string clsMode)
    {
        var config = Presets.Get(preset);
        if (frames is { } t)
        {
            if (t < 1 || t > 64)
            {
                throw new ArgumentException($"--frames must be between 1 and 64, not {t}.");
            }

            config = config with { NumFrames = t, MaxFrames = t };
        }

        return config with { ClsMode = clsMode == "shared" ? ClsMode.Shared : ClsMode.PerFrame };
    }
}

/// <summary>The text of <c>litevl model inspect</c>.</summary>
internal static class ModelInspector
{
    /// <param name="svgPath">Where to write the scaling chart as SVG as well; null: the text chart only.</param>
    public static void Print(string modelDir, TextWriter o, string? svgPath = null)
    {
        var c = ModelConfig.Load(modelDir);
        var weights = ModelWeights.Load(c, Path.Combine(modelDir, ModelWeights.FileName));
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"model      {Path.GetFullPath(modelDir)}");
        o.WriteLine($"version    {c.Version}");
        o.WriteLine($"preset     {c.Preset}{(c.Source is null ? string.Empty : $"  ({c.Source})")}");
        o.WriteLine($"vision     ViT D={c.Vision.HiddenSize} layers={c.Vision.NumLayers} heads={c.Vision.NumHeads} patch={c.Vision.PatchSize} S={c.Vision.ImageSize} (N={c.Vision.NumPatches})  T={c.NumFrames}  cls_mode={(c.ClsMode == ClsMode.PerFrame ? "per_frame" : "shared")}");
        o.WriteLine($"text       BERT H={c.Text.HiddenSize} layers={c.Text.NumLayers} heads={c.Text.NumHeads} vocab={c.Text.VocabSize} max_length={c.Text.MaxLength}");
        o.WriteLine($"pooling    TDP {(c.Tdp.Enabled ? "on" : "off")}, tau={c.Tdp.Tau.ToString(inv)}");
        o.WriteLine(c.Qa is { } qa
            ? $"video QA   question encoder + answer decoder (BLIP VQA), answers up to {qa.MaxAnswerLength} word pieces"
            : "video QA   none (no qa heads: 'litevl model import-qa' or 'litevl train --task qa' adds them)");

        o.WriteLine();
        o.WriteLine("parameters");
        var groups = weights.Tensors
            .GroupBy(kv => Group(kv.Key))
            .Select(g => (Name: g.Key, Count: g.Sum(kv => kv.Value.Count)))
            .OrderBy(g => g.Name, StringComparer.Ordinal);
        foreach (var (name, count) in groups)
        {
            o.WriteLine($"  {name,-28} {count.ToString("N0", inv),14}");
        }

        o.WriteLine($"  {"total",-28} {weights.ParameterCount.ToString("N0", inv),14}");

        o.WriteLine();
        o.WriteLine("graphs");
        foreach (var precision in new[] { Precision.Fp32, Precision.Fp16 })
        {
            foreach (string graph in ModelDirectory.GraphNamesFor(c))
            {
                string path = Path.Combine(modelDir, GraphFiles.FileName(graph, precision));
                if (!File.Exists(path))
                {
                    continue;
                }

                long bytes = new FileInfo(path).Length + (File.Exists(path + ".data") ? new FileInfo(path + ".data").Length : 0);
                var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
                string stamped = proto.MetadataProps.FirstOrDefault(m => m.Key == "litevl.version")?.Value ?? "?";
                o.WriteLine($"  {Path.GetFileName(path)}  {bytes / 1e6:F1} MB{(stamped == c.Version ? string.Empty : $"  (built for {stamped}: rebuild with 'litevl model build')")}");
                o.WriteLine($"    in : {string.Join(", ", proto.Graph.Input.Select(Describe))}");
                o.WriteLine($"    out: {string.Join(", ", proto.Graph.Output.Select(Describe))}");
            }
        }

        o.WriteLine();
        o.WriteLine($"dynamic temporal scaling 1 + tanh(α), mean over the T={c.NumFrames} frame slots (0 = temporal branch off, 1 = as imported, 2 = max)");
        var means = ScalingChart.LayerMeans(weights);
        o.Write(ScalingChart.Text(means));
        if (svgPath is not null)
        {
            string full = Path.GetFullPath(svgPath);
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, ScalingChart.Svg(means, $"{c.Version} ({c.Preset}, T={c.NumFrames})"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"Cannot write the scaling chart to '{full}' ({e.Message}): give --svg a file path in a folder you can write to.", e);
            }

            o.WriteLine($"wrote the scaling chart to {full}");
        }
    }

    private static string Group(string name) => name switch
    {
        _ when name.StartsWith(WeightSpec.QaEncoderPrefix, StringComparison.Ordinal) => "video QA question encoder",
        _ when WeightSpec.IsQa(name) => "video QA answer decoder",
        _ when name.Contains("temporal", StringComparison.Ordinal) || name.Contains("time_embedding", StringComparison.Ordinal) => "vision temporal (LiteVL)",
        _ when name.StartsWith("vision_model.", StringComparison.Ordinal) => "vision encoder (BLIP ViT)",
        _ when name.Contains("crossattention", StringComparison.Ordinal) => "text cross-attention",
        _ when name.StartsWith("text_encoder.", StringComparison.Ordinal) => "text encoder (BERT)",
        _ => "projections and ITM head",
    };

    private static string Describe(ValueInfoProto v)
    {
        var t = v.Type.TensorType;
        string type = (TensorProto.Types.DataType)t.ElemType switch
        {
            TensorProto.Types.DataType.Float => "float",
            TensorProto.Types.DataType.Float16 => "float16",
            TensorProto.Types.DataType.Int64 => "int64",
            TensorProto.Types.DataType.Uint8 => "uint8",
            var other => other.ToString().ToLowerInvariant(),
        };
        return $"{v.Name} {type}[{string.Join(",", t.Shape.Dim.Select(d => string.IsNullOrEmpty(d.DimParam) ? d.DimValue.ToString(CultureInfo.InvariantCulture) : d.DimParam))}]";
    }
}
