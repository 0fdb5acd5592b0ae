using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LiteVL.Cli.Commands;
using LiteVL.Cli.Evaluation;
using LiteVL.Media.Synth;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Tensors;
using LiteVL.Model.Runtime;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;

namespace LiteVL.Cli.Experiments;

/// <summary>Everything that decides a run of the temporal ablation; <see cref="Full"/> and <see cref="Reduced"/> are the two shipped settings.</summary>
public sealed record ExperimentSettings
{
    public required string Name { get; init; }

    public int Seed { get; init; }

    /// <summary>Clips of the synthetic set, twins included (≈70 % train, 10 % val, 20 % test). 1600 clips at 25 epochs beat 400 at 100 (1750 steps against 1700) on every aggregate measure (docs/evaluation.md, item 11).</summary>
    public int Clips { get; init; } = 1600;

    /// <summary>Still images of the image-text pre-training (90 % train, 10 % val).</summary>
    public int Images { get; init; } = 800;

    /// <summary>Frame side of the rendered clips (ingestion resizes to the model's 64 px).</summary>
    public int Size { get; init; } = 128;

    public int PretrainEpochs { get; init; } = 30;

    /// <summary>Pre-training starts the patch positions from a 2D sine-cosine code (<c>--positions sincos</c>) instead of random.</summary>
    public bool SinCosPositions { get; init; }

    public double PretrainLearningRate { get; init; } = 1e-3;

    public int FinetuneEpochs { get; init; } = 25;

    /// <summary>Peak learning rate of the pre-trained BLIP weights when they are fine-tuned (the vision side; see <see cref="TextLearningRate"/>).</summary>
    public double FinetuneLearningRate { get; init; } = 1e-3;

    /// <summary>Peak learning rate of the text encoder and text projection (<c>--lr-text</c>); null: <see cref="FinetuneLearningRate"/>.</summary>
    public double? TextLearningRate { get; init; } = 1e-4;

    /// <summary>The temporal variants (c) and (d) start their time embedding from the sine-cosine code (<c>--time-init sincos</c>); (b) has none.</summary>
    public bool TimeCode { get; init; } = true;

    /// <summary>Peak learning rate of the temporal modules.</summary>
    public double TemporalLearningRate { get; init; } = 5e-3;

    public int Batch { get; init; } = 16;

    /// <summary>Epochs of the video QA heads (trained on the frozen (a) and (d) models).</summary>
    public int QaEpochs { get; init; } = 5;

    /// <summary>Peak learning rate of the video QA heads.</summary>
    public double QaLearningRate { get; init; } = 1e-3;

    /// <summary>Questions per step of the video QA heads.</summary>
    public int QaBatch { get; init; } = 16;

    /// <summary>Coarse candidates the re-ranked variants re-score per query.</summary>
    public int Candidates { get; init; } = 16;

    public int Threads { get; init; }

    /// <summary>How many of the fine-tuned variants (b), (c), (d) train at once (each with <see cref="Threads"/> threads per operator).</summary>
    public int Jobs { get; init; } = 1;

    public static ExperimentSettings Full { get; } = new() { Name = "full" };

    /// <summary>A few minutes on 2 cores: the CI check that the whole pipeline runs and keeps its invariants (too few steps and clips to learn direction).</summary>
    public static ExperimentSettings Reduced { get; } = new()
    {
        Name = "reduced", Clips = 96, Images = 160, Size = 64, PretrainEpochs = 10, FinetuneEpochs = 8, Batch = 12, Candidates = 8,
        QaEpochs = 4, QaBatch = 8,
    };
}

/// <summary>
/// <c>litevl experiment temporal</c>: the paper's ablation in miniature, end to end and reproducible (docs/evaluation.md).
/// Renders the synthetic motion set, pre-trains a small image-text BLIP on still frames, initialises LiteVL from it
/// through the BLIP import, fine-tunes the variants and scores each on the test split:
/// (a) the image model zero-shot with frame-mean pooling, (b) fine-tuned without the temporal branch, (c) with temporal
/// attention and the scaling fixed at 1, (d) with dynamic temporal scaling (LiteVL), (e) (d) re-ranked with
/// text-dependent pooling and the grounded encoder, (f) (d) re-ranked without pooling. Then video QA heads are trained
/// on the frozen (a) and (d) and scored per question type: frame-mean BLIP-init against LiteVL.
/// </summary>
public sealed class TemporalExperiment(ExperimentSettings settings, string workDir, TextWriter output)
{
    public const string DataFolder = "data";
    public const string FramesFolder = "frames";
    public const string ModelsFolder = "models";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private static readonly string[] TrainedVariants = ["a", "b", "c", "d"];
    private static readonly string[] QaVariants = ["a", "d"];
    private int _stage;
    private bool _scoreOnly;

    private const int Stages = 8;

    public string WorkDir { get; } = Path.GetFullPath(workDir);

    public string ModelDir(string variant) => Path.Combine(WorkDir, ModelsFolder, variant);

    /// <summary>A variant with video QA heads trained on its frozen video tokens.</summary>
    public string QaModelDir(string variant) => Path.Combine(WorkDir, ModelsFolder, variant + "-qa");

    /// <param name="scoreOnly">Score and report the variants an earlier run left in the work folder, without training.</param>
    public async Task<AblationReport> RunAsync(CancellationToken ct, bool scoreOnly = false)
    {
        var s = settings;
        Directory.CreateDirectory(WorkDir);
        string data = Path.Combine(WorkDir, DataFolder);
        string frames = Path.Combine(WorkDir, FramesFolder);
        if (scoreOnly)
        {
            var missing = TrainedVariants.Where(v => !File.Exists(Path.Combine(ModelDir(v), ModelConfig.FileName))).ToList();
            if (missing.Count > 0 || !File.Exists(Path.Combine(data, SynthGenerator.ManifestFile)))
            {
                throw new InvalidOperationException($"--score-only needs a work folder an earlier run trained; {WorkDir} lacks {(missing.Count > 0 ? "the models of " + string.Join(", ", missing) : "the data set")}. Run without --score-only first.");
            }

            _stage = Stages - 2;
            _scoreOnly = true;
            var lacking = QaVariants.Where(v => !File.Exists(Path.Combine(QaModelDir(v), ModelConfig.FileName))).ToList();
            if (lacking.Count > 0 && File.Exists(Path.Combine(data, SynthGenerator.QaSplitFile(SynthSplit.Train))))
            {
                Stage($"video QA heads on {string.Join(" and ", lacking.Select(v => $"({v})"))}, which the earlier run left without (the retrieval variants stay as trained)");
                foreach (string v in lacking)
                {
                    await TrainQaAsync(v, ct).ConfigureAwait(false);
                }
            }
            else
            {
                _stage++;
            }

            Stage("scoring every variant on the test split (trained by an earlier run)");
            var scored = await ScoreAsync(data, frames, ct).ConfigureAwait(false);
            File.WriteAllText(Path.Combine(WorkDir, "results.json"), scored.ToJson() + "\n");
            return scored;
        }

        Stage($"synthetic set: {s.Clips} clips + {s.Images} still images, {s.Size}×{s.Size} px, seed {s.Seed}");
        await EnsureDataAsync(data, ct).ConfigureAwait(false);

        Stage("image-text pre-training of a small BLIP on still frames (ITC + ITM, every BLIP weight)");
        var imageArchitecture = Presets.Get(Presets.Small) with { NumFrames = 1, MaxFrames = 1 };
        Fresh(ModelDir("image-init"));
        ModelDirectory.Init(imageArchitecture, s.Seed, ModelDir("image-init"), image: true, sinCosPositions: s.SinCosPositions);
        await TrainAsync("image-init", "image-pretrained", SynthGenerator.ImageSplitFile(SynthSplit.Train), SynthGenerator.ImageSplitFile(SynthSplit.Val),
            ParameterGroup.Blip, fixedScaling: false, s.PretrainEpochs, s.PretrainLearningRate, output, "  ", finetune: false, ct).ConfigureAwait(false);

        Stage("BLIP export and import: LiteVL initialised from the pre-trained image model (temporal branch zero)");
        string blip = Path.Combine(WorkDir, "blip");
        Fresh(blip);
        var exported = BlipExporter.Export(ModelDir("image-pretrained"), blip);
        Fresh(ModelDir("a"));
        var imported = BlipImporter.ImportToDirectory(exported.Checkpoint, exported.Vocab, Presets.Get(Presets.Small), ModelDir("a"));
        output.WriteLine($"  {exported.Tensors} BLIP tensors ({exported.Parameters:N0} parameters) → {imported.Preset} T={imported.NumFrames} model {imported.Version}");

        (string Variant, string What, ParameterGroup Group, bool FixedScaling)[] variants =
        [
            ("b", "(b) fine-tuning without the temporal branch (--params blip)", ParameterGroup.Blip, false),
            ("c", "(c) fine-tuning with temporal attention, scaling fixed at 1 (--params all --fixed-scaling)", ParameterGroup.All, true),
            ("d", "(d) fine-tuning with dynamic temporal scaling: LiteVL (--params all)", ParameterGroup.All, false),
        ];
        Task Train((string Variant, string What, ParameterGroup Group, bool FixedScaling) v, TextWriter log, string indent, CancellationToken token) =>
            TrainAsync("a", v.Variant, SynthGenerator.SplitFile(SynthSplit.Train), SynthGenerator.SplitFile(SynthSplit.Val), v.Group, v.FixedScaling, s.FinetuneEpochs, s.FinetuneLearningRate,
                log, indent, finetune: true, token);
        if (s.Jobs <= 1)
        {
            foreach (var v in variants)
            {
                Stage(v.What);
                await Train(v, output, "  ", ct).ConfigureAwait(false);
            }
        }
        else
        {
            Stage($"(b), (c) and (d) fine-tuned side by side, {Math.Min(s.Jobs, variants.Length)} at a time: {string.Join("; ", variants.Select(v => v.What[4..]))}", variants.Length);
            await WarmFrameCacheAsync(ct).ConfigureAwait(false);
            var console = TextWriter.Synchronized(output);
            await Parallel.ForEachAsync(variants, new ParallelOptions { MaxDegreeOfParallelism = s.Jobs, CancellationToken = ct }, async (v, token) =>
                await Train(v, console, $"  ({v.Variant}) ", token).ConfigureAwait(false)).ConfigureAwait(false);
        }

        Stage("video QA heads on the frozen (a) and (d): BLIP VQA's answer loss, heads only");
        foreach (string v in QaVariants)
        {
            await TrainQaAsync(v, ct).ConfigureAwait(false);
        }

        Stage("scoring every variant on the test split");
        var report = await ScoreAsync(data, frames, ct).ConfigureAwait(false);
        File.WriteAllText(Path.Combine(WorkDir, "results.json"), report.ToJson() + "\n");
        output.WriteLine($"done in {_clock.Elapsed:hh\\:mm\\:ss}; results in {Path.Combine(WorkDir, "results.json")}");
        return report;
    }

    /// <summary>
    /// Writes config.json, fp16 weights and vocab.txt of (d) — with its video QA heads when the run trained them — to
    /// <paramref name="dir"/>: the model the embedded host ships. Its <see cref="ModelConfig.RerankByDefault"/> comes from
    /// <paramref name="report"/>: false when re-ranking (e) scored a lower RSum (R@1 + R@5 + R@10) than (d)'s coarse ranking.
    /// </summary>
    public ModelConfig Ship(string dir, AblationReport report)
    {
        string from = File.Exists(Path.Combine(QaModelDir("d"), ModelConfig.FileName)) ? QaModelDir("d") : ModelDir("d");
        var config = ModelConfig.Load(from);
        var weights = ModelWeights.Load(config, Path.Combine(from, ModelWeights.FileName));
        Directory.CreateDirectory(dir);
        foreach (var stale in Directory.EnumerateFiles(dir, "*.onnx"))
        {
            File.Delete(stale);
        }

        var shipped = config with
        {
            Source = $"litevl experiment temporal ({settings.Name}, seed {settings.Seed}): variant (d){(config.Qa is null ? string.Empty : " with video QA heads")}, weights stored as fp16",
            RerankByDefault = RerankHelps(report) ? null : false,
        };
        weights.Save(Path.Combine(dir, ModelWeights.FileName), new Dictionary<string, string> { ["format"] = "pt", ["litevl.preset"] = config.Preset }, TensorDType.Float16);
        shipped.Save(dir);
        File.Copy(Path.Combine(from, ModelDirectory.VocabFileName), Path.Combine(dir, ModelDirectory.VocabFileName), overwrite: true);
        return shipped;
    }

    /// <summary>Whether (e), (d) re-ranked as served, retrieves at least as well as (d)'s coarse ranking: RSum, R@1 + R@5 + R@10.</summary>
    public static bool RerankHelps(AblationReport report)
    {
        static double RSum(AblationRow row) => row.Scores.Retrieval.RecallAt1 + row.Scores.Retrieval.RecallAt5 + row.Scores.Retrieval.RecallAt10;
        return RSum(report.Row("e")) >= RSum(report.Row("d"));
    }

    /// <param name="what">What the stage does, for its progress line.</param>
    /// <param name="stages">How many of the run's stages this one line covers (the variants trained side by side: 3).</param>
    private void Stage(string what, int stages = 1)
    {
        int first = _stage + 1;
        _stage += stages;
        output.WriteLine();
        output.WriteLine($"[{(stages == 1 ? first.ToString(Inv) : $"{first}–{_stage}")}/{Stages}] {what} · {_clock.Elapsed:hh\\:mm\\:ss}");
    }

    private static void Fresh(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Renders the set unless <paramref name="dir"/> already holds this very set (same manifest settings).</summary>
    private async Task EnsureDataAsync(string dir, CancellationToken ct)
    {
        var plan = SynthPlanner.Plan(settings.Clips, settings.Seed, settings.Size, settings.Images);
        string manifest = Path.Combine(dir, SynthGenerator.ManifestFile);
        if (File.Exists(manifest) && File.ReadAllText(manifest).Trim() == SynthGenerator.Manifest(plan).Trim())
        {
            output.WriteLine($"  reusing {dir} (same seed, counts and size)");
            return;
        }

        Fresh(dir);
        Directory.CreateDirectory(dir);
        await SynthGenerator.GenerateAsync(plan, dir, output, terminal: false, ct).ConfigureAwait(false);
    }

    /// <summary>Extracts the train and val clips' frames once, so that variants trained side by side only read the shared cache.</summary>
    private async Task WarmFrameCacheAsync(CancellationToken ct)
    {
        var config = ModelConfig.Load(ModelDir("a"));
        string data = Path.Combine(WorkDir, DataFolder);
        using var media = new Media.MediaToolchain();
        foreach (string file in new[] { SynthGenerator.SplitFile(SynthSplit.Train), SynthGenerator.SplitFile(SynthSplit.Val) })
        {
            await TrainCommand.LoadAsync(new IndentedWriter(output), media, Path.Combine(data, file), null, Path.Combine(WorkDir, FramesFolder), config, ct).ConfigureAwait(false);
        }
    }

    /// <param name="finetune">Fine-tuning a video variant: the text side's learning rate and the time code apply (not to the image pre-training).</param>
    private async Task TrainAsync(
        string from, string to, string dataFile, string valFile, ParameterGroup group, bool fixedScaling, int epochs, double lr, TextWriter log, string indent, bool finetune,
        CancellationToken ct)
    {
        var s = settings;
        Fresh(ModelDir(to));
        string source = ModelDir(from);
        if (fixedScaling && ScalingChart.LayerMeans(source).Means.Any(m => m != 1))
        {
            // An imported model starts with α = 0 (factor 1), which --fixed-scaling then holds; anything else is a bug here.
            throw new InvalidOperationException($"{source} does not start with the scaling at 1; variant (c) must start from the imported model.");
        }

        var options = new TrainerOptions
        {
            Params = group,
            FixedScaling = fixedScaling,
            Epochs = epochs,
            Batch = s.Batch,
            LearningRate = lr,
            TemporalLearningRate = s.TemporalLearningRate,
            TextLearningRate = finetune ? s.TextLearningRate : null,
            TimeCode = finetune && s.TimeCode && group == ParameterGroup.All,
            Seed = s.Seed,
            Threads = s.Threads,
        };
        string data = Path.Combine(WorkDir, DataFolder);
        int exit = await TrainCommand.RunAsync(
            new IndentedWriter(log, indent), source, Path.Combine(data, dataFile), Path.Combine(data, valFile), null, ModelDir(to), options, resume: false, ct,
            cacheDir: Path.Combine(WorkDir, FramesFolder)).ConfigureAwait(false);
        if (exit != 0)
        {
            throw new InvalidOperationException($"Training {to} stopped (exit code {exit}).");
        }
    }

    /// <summary>Trains video QA heads on the frozen <paramref name="variant"/> (qa-train, validation on qa-val) into <see cref="QaModelDir"/>.</summary>
    private async Task TrainQaAsync(string variant, CancellationToken ct)
    {
        Fresh(QaModelDir(variant));
        string data = Path.Combine(WorkDir, DataFolder);
        var options = new QaTrainerOptions { Epochs = settings.QaEpochs, Batch = settings.QaBatch, LearningRate = settings.QaLearningRate, Seed = settings.Seed, Threads = settings.Threads };
        output.WriteLine($"  ({variant}) → {variant}-qa");
        int exit = await QaTraining.RunAsync(
            new IndentedWriter(output), ModelDir(variant), Path.Combine(data, SynthGenerator.QaSplitFile(SynthSplit.Train)), Path.Combine(data, SynthGenerator.QaSplitFile(SynthSplit.Val)),
            null, QaModelDir(variant), options, ct, cacheDir: Path.Combine(WorkDir, FramesFolder)).ConfigureAwait(false);
        if (exit != 0)
        {
            throw new InvalidOperationException($"Training the QA heads of ({variant}) stopped (exit code {exit}).");
        }
    }

    /// <summary>Video QA accuracy on qa-test of the heads trained on (a) and (d), ranking over every answer of qa-train.</summary>
    private async Task<List<QaAblationRow>> ScoreQaAsync(string data, string frames, MediaToolchain media, CancellationToken ct)
    {
        var rows = new List<QaAblationRow>();
        string test = Path.Combine(data, SynthGenerator.QaSplitFile(SynthSplit.Test));
        if (!File.Exists(test) || QaVariants.Any(v => !File.Exists(Path.Combine(QaModelDir(v), ModelConfig.FileName))))
        {
            return rows;
        }

        var answers = QaDataset.ParseLenient(File.ReadLines(Path.Combine(data, SynthGenerator.QaSplitFile(SynthSplit.Train))), "qa-train").Lines
            .Select(l => QaDataset.Normalise(l.Answer)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var (key, variant) in new[] { ("a", "frame-mean BLIP"), ("d", "LiteVL") })
        {
            using var model = LiteVLModel.Open(QaModelDir(key), new RuntimeOptions { IntraOpThreads = settings.Threads });
            var (set, _) = await QaTraining.LoadAsync(new IndentedWriter(output), media, model, test, null, frames, ct).ConfigureAwait(false);
            var scores = QaTraining.Evaluate(model, set, answers);
            output.WriteLine($"  ({key}) {variant} + QA heads: " + string.Join(" · ", scores.Select(t => string.Create(Inv, $"{t.Type} {t.RankAccuracy:F1}/{t.GenerateAccuracy:F1}"))) + " (rank/generate %)");
            rows.Add(new QaAblationRow(key, variant, scores));
        }

        return rows;
    }

    private async Task<AblationReport> ScoreAsync(string data, string frames, CancellationToken ct)
    {
        var runtime = new RuntimeOptions { IntraOpThreads = settings.Threads };
        using var media = new MediaToolchain();
        var video = ModelConfig.Load(ModelDir("a"));
        var test = await TrainCommand.LoadAsync(new IndentedWriter(output), media, Path.Combine(data, SynthGenerator.SplitFile(SynthSplit.Test)), null, frames, video, ct).ConfigureAwait(false);
        var rows = new List<AblationRow>();
        const string Coarse = "cosine (coarse stage)";
        AblationRow Score(string key, string variant, string training, string model, string scoring, Func<RetrievalProbe, ProbeScores> run)
        {
            using var probe = new RetrievalProbe(ModelDir(model), test, runtime);
            var scores = run(probe);
            var row = new AblationRow(key, variant, training, scoring, scores);
            output.WriteLine($"  ({key}) {variant}: {scores.Describe()}");
            return row;
        }

        rows.Add(Score("a", "image BLIP, frame-mean", "image-text only", "a", Coarse, p => p.Coarse()));
        rows.Add(Score("b", "no temporal branch", "video, BLIP weights", "b", Coarse, p => p.Coarse()));
        rows.Add(Score("c", "temporal attn, scaling = 1", "video, all, α fixed", "c", Coarse, p => p.Coarse()));
        rows.Add(Score("d", "LiteVL: dynamic scaling", "video, all", "d", Coarse, p => p.Coarse()));
        string rerank = $"re-ranked top {Math.Min(settings.Candidates, test.Clips.Count)}: ITM logit + cosine";
        rows.Add(Score("e", "(d) + TDP re-ranking", "video, all", "d", rerank + ", TDP", p => p.Reranked(PoolingMode.Tdp, settings.Candidates)));
        rows.Add(Score("f", "(d) re-ranked, no pooling", "video, all", "d", rerank + ", no pooling", p => p.Reranked(PoolingMode.None, settings.Candidates)));

        var scaling = ScalingChart.LayerMeans(ModelDir("d")).Means;
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(data, SynthGenerator.ManifestFile))).RootElement;
        int testClips = test.Clips.Count, queries = test.Examples.Count;
        string setup =
            $"Setting `{settings.Name}`, seed {settings.Seed}: {settings.Clips} synthetic clips ({manifest.GetProperty("splits").GetProperty("train").GetProperty("clips").GetInt32()} train, "
            + $"{manifest.GetProperty("splits").GetProperty("val").GetProperty("clips").GetInt32()} val, {testClips} test, every clip with its time-reversed twin) and {settings.Images} still images at {settings.Size}×{settings.Size} px; "
            + $"the `small` preset (ViT 3×96 on 64×64 frames in 8×8 patches, T = 8; BERT 3×96). Pre-training: {settings.PretrainEpochs} epochs at lr {settings.PretrainLearningRate.ToString(Inv)}{(settings.SinCosPositions ? " from 2D sine-cosine patch positions" : string.Empty)}; "
            + $"fine-tuning: {settings.FinetuneEpochs} epochs, lr {settings.FinetuneLearningRate.ToString(Inv)} (temporal modules {settings.TemporalLearningRate.ToString(Inv)}{(settings.TextLearningRate is { } t ? $", text side {t.ToString(Inv)}" : string.Empty)}), batch {settings.Batch}, the epoch with the best validation recall kept"
            + $"{(settings.TimeCode ? "; (c) and (d) start their time embedding from the sine-cosine code of the frame slot (--time-init sincos)" : string.Empty)}. "
            + $"Scored in-process on the {queries} test captions against all {testClips} test clips; twin accuracy compares each caption's clip with the same frames reversed (a tie counts half). {(_scoreOnly ? "Scored again with --score-only (models trained by an earlier run of the same command); scoring" : "Wall time")} {_clock.Elapsed:hh\\:mm\\:ss} on {Environment.ProcessorCount} cores.";
        var notes = new List<string>();
        var qaRows = await ScoreQaAsync(data, frames, media, ct).ConfigureAwait(false);
        string qaSetup =
            $"Heads trained by `litevl train --task qa` on the frozen (a) (image BLIP: its video tokens are the frames encoded one by one, with nothing that marks their order) and the frozen (d) (LiteVL): "
            + $"{settings.QaEpochs} epochs at lr {settings.QaLearningRate.ToString(Inv)}, batch {settings.QaBatch}, on qa-train's questions (colour, shape, direction, size, order), the epoch with the lowest qa-val loss kept; "
            + "scored on qa-test (clips and colour × shape × motion combinations never seen in training): rank over every answer of qa-train, generate with 3 beams. Chance: direction 25 %, size 50 %.";
        return new AblationReport(CommandLine(), setup, rows, scaling, notes) { QaRows = qaRows, QaSetup = qaSetup };
    }

    private string CommandLine() =>
        "litevl experiment temporal"
        + (settings.Name == ExperimentSettings.Reduced.Name ? " --reduced" : string.Empty)
        + (settings.Seed != 1 ? $" --seed {settings.Seed}" : string.Empty)
        + (settings.SinCosPositions ? " --positions sincos" : string.Empty)
        + (settings.Jobs > 1 ? $" --jobs {settings.Jobs}" : string.Empty)
        + (settings.Threads > 0 ? $" --threads {settings.Threads}" : string.Empty);

    /// <summary>
    /// Writes whole lines to <paramref name="inner"/>, each after <paramref name="indent"/>: a stage's training log sits
    /// under its stage line, and variants trained side by side (on a synchronized writer) never mix within a line.
    /// </summary>
    private sealed class IndentedWriter(TextWriter inner, string indent = "  ") : TextWriter
    {
        private readonly System.Text.StringBuilder _line = new();

        public override System.Text.Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (value != '\n')
            {
                _line.Append(value);
                return;
            }

            inner.Write(_line.Length == 0 ? "\n" : indent + _line + "\n");
            _line.Clear();
        }
    }
}
