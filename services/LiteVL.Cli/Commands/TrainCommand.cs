using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LiteVL.Cli.Evaluation;
using LiteVL.Cli.Experiments;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Runtime;
using LiteVL.Model.Text;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl train</c>: fine-tunes a LiteVL model for text-to-video retrieval on captioned videos (BLIP's ITC + ITM
/// with hard negatives) and writes a complete model directory under a new model version. See docs/training.md.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CliOptions.ModelDir();
        model.Description = "Model directory to start from (an imported BLIP, or an earlier fine-tuned model).";
        var data = new Option<string>("--data") { Description = "Training set: JSON lines {\"video\": \"clip.mp4\", \"caption\": \"...\"}; a video may have several lines.", Required = true };
        var val = new Option<string?>("--val") { Description = "Validation set in the same format: R@1/5/10 after every epoch, and the best epoch is kept." };
        var videosDir = new Option<string?>("--videos-dir") { Description = "Folder the video paths are relative to (default: each data file's folder)." };
        var outDir = new Option<string>("--out", "-o") { Description = "Directory of the fine-tuned model (also holds train-log.jsonl and the checkpoint).", Required = true };
        var groups = new Option<string>("--params") { Description = "What to train: temporal (LiteVL's temporal modules), heads (temporal + projections + ITM head), vision (the whole video side: vision encoder, temporal modules, vision_proj; the text side frozen), all, or blip (every BLIP weight, no temporal module: image-text pre-training, or video fine-tuning without the temporal branch).", DefaultValueFactory = _ => "temporal" }
            .AcceptOnlyFromAmong("temporal", "heads", "vision", "all", "blip");
        var fixedScaling = new Option<bool>("--fixed-scaling") { Description = "Hold the dynamic temporal scaling at 1 (α set to 0 and not trained): temporal attention without LiteVL's scaling, for ablations." };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch") { Description = "Examples per micro-batch (the last incomplete batch of an epoch is dropped).", DefaultValueFactory = _ => 8 };
        var accumulate = new Option<int>("--accumulate") { Description = "Micro-batches per optimiser step (gradient accumulation).", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate of the BLIP weights (AdamW, cosine schedule with warm-up).", DefaultValueFactory = _ => 1e-5 };
        var lrTemporal = new Option<double?>("--lr-temporal") { Description = "Peak learning rate of the new temporal modules (default 10 × --lr)." };
        var lrText = new Option<double?>("--lr-text") { Description = "Peak learning rate of the text side (text encoder with the grounded encoder's layers, text_proj); default --lr. Lower than --lr keeps captions that differ only in direction apart while the video side learns (docs/training.md)." };
        var minTemp = new Option<double?>("--min-temp") { Description = "Floor of the learnable ITC temperature (default BLIP's 0.001; CLIP's is 0.01). At a high --lr the temperature falls to the floor, where tiny cosine gaps already fit the training captions (docs/training.md)." };
        var timeInit = new Option<string>("--time-init") { Description = "Time embedding at the start: keep (what the model holds; zero after import, as LiteVL) or sincos (a 1D sine-cosine code of the frame slot, for a model fresh from import; docs/training.md).", DefaultValueFactory = _ => "keep" }
            .AcceptOnlyFromAmong("keep", "sincos");
        var warmup = new Option<double>("--warmup") { Description = "Share of the steps spent warming the learning rate up.", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice (order, negatives, segments): equal seeds and data give equal runs.", DefaultValueFactory = _ => 0 };
        var device = CliOptions.Device();
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per operator (0: one per core).", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run whose checkpoint is in --out (after Ctrl-C or a crash)." };
        var task = new Option<string>("--task") { Description = "retrieval (captions: {\"video\", \"caption\"}) or qa (video question answering: {\"video\", \"question\", \"answer\"} lines; trains the QA heads with BLIP VQA's answer loss, the video side and retrieval frozen; starts the heads from the grounded encoder when the model has none). With qa, --params temporal also trains LiteVL's temporal modules on the answer loss (at --lr-temporal, default 5e-3; search results change), --fixed-scaling, --accumulate, --resume, --lr-text and --time-init do not apply (refused), --lr defaults to 2e-4 and --batch to 16.", DefaultValueFactory = _ => "retrieval" }
            .AcceptOnlyFromAmong("retrieval", "qa");
        var cmd = new Command("train", "Fine-tune LiteVL on your videos and write a new model version: text-to-video retrieval on captions (ITC + ITM with hard negatives, as BLIP fine-tunes retrieval), or video question answering (--task qa).")
        {
            model, data, val, videosDir, outDir, task, groups, fixedScaling, epochs, batch, accumulate, lr, lrTemporal, lrText, minTemp, timeInit, warmup, seed, device, threads, resume,
        };
        // Options the QA trainer does not use are errors, not silently dropped (as in litevl eval).
        cmd.Validators.Add(result =>
        {
            if (result.GetValue(task) != "qa")
            {
                return;
            }

            foreach (Option option in new Option[] { fixedScaling, accumulate, resume, lrText, minTemp, timeInit })
            {
                if (result.GetResult(option) is { Implicit: false })
                {
                    result.AddError($"{option.Name} does not apply to --task qa (it trains the QA heads on a frozen retrieval model); leave it out.");
                }
            }
        });
        cmd.SetAction(async (p, ct) =>
        {
            if (p.GetValue(task) == "qa")
            {
                var qaOptions = new QaTrainerOptions
                {
                    Epochs = p.GetValue(epochs),
                    Batch = p.GetResult(batch) is { Implicit: false } ? p.GetValue(batch) : new QaTrainerOptions().Batch,
                    LearningRate = p.GetResult(lr) is { Implicit: false } ? p.GetValue(lr) : new QaTrainerOptions().LearningRate,
                    WarmupFraction = p.GetValue(warmup),
                    Seed = p.GetValue(seed),
                    Device = RuntimeOptions.ParseDevice(p.GetValue(device)!),
                    Threads = p.GetValue(threads),
                    VideoParams = p.GetResult(groups) is { Implicit: false } ? ParameterGroups.Parse(p.GetValue(groups)!) : null,
                    TemporalLearningRate = p.GetValue(lrTemporal) ?? new QaTrainerOptions().TemporalLearningRate,
                };
                return await QaTraining.RunAsync(output, p.GetValue(model)!, p.GetValue(data)!, p.GetValue(val), p.GetValue(videosDir), p.GetValue(outDir)!, qaOptions, ct).ConfigureAwait(false);
            }

            var options = new TrainerOptions
            {
                Params = ParameterGroups.Parse(p.GetValue(groups)!),
                FixedScaling = p.GetValue(fixedScaling),
                Epochs = p.GetValue(epochs),
                Batch = p.GetValue(batch),
                Accumulate = p.GetValue(accumulate),
                LearningRate = p.GetValue(lr),
                TemporalLearningRate = p.GetValue(lrTemporal),
                TextLearningRate = p.GetValue(lrText),
                MinTemperature = p.GetValue(minTemp) ?? ModelConfig.MinItcTemperature,
                TimeCode = p.GetValue(timeInit) == "sincos",
                WarmupFraction = p.GetValue(warmup),
                Seed = p.GetValue(seed),
                Device = RuntimeOptions.ParseDevice(p.GetValue(device)!),
                Threads = p.GetValue(threads),
            };
            options.Validate();
            return await RunAsync(output, p.GetValue(model)!, p.GetValue(data)!, p.GetValue(val), p.GetValue(videosDir), p.GetValue(outDir)!, options, p.GetValue(resume), ct).ConfigureAwait(false);
        });
        return cmd;
    }

    /// <param name="cacheDir">Where extracted frames are kept (default: &lt;out&gt;/train-cache); runs that share it extract each video once.</param>
    internal static async Task<int> RunAsync(
        TextWriter output, string modelDir, string dataPath, string? valPath, string? videosDir, string outDir, TrainerOptions options, bool resume, CancellationToken ct,
        string? cacheDir = null)
    {
        var config = ModelConfig.Load(modelDir);
        var weights = ModelWeights.Load(config, Path.Combine(modelDir, ModelWeights.FileName));
        if (options.FixedScaling)
        {
            weights = ParameterGroups.FixScaling(weights);
        }

        if (options.TimeCode)
        {
            // The code replaces the time embedding, so it is for a model fresh from import: a trained one would lose it.
            float largest = weights[ModelWeights.TimeEmbeddingName].Data.Max(MathF.Abs);
            if (largest != 0)
            {
                throw new InvalidOperationException($"--time-init sincos would overwrite this model's trained time embedding (largest entry {largest:G3}); it is for a model fresh from `litevl model import`, whose time embedding is zero. Leave the option out to continue from what the model holds.");
            }

            weights = weights.WithSinCosTimeEmbedding();
        }

        string vocab = Path.Combine(modelDir, ModelDirectory.VocabFileName);
        using var tokenizer = File.Exists(vocab) ? BlipTokenizer.FromVocabFile(vocab) : BlipTokenizer.CreateDefault();
        if (!resume && File.Exists(Path.Combine(outDir, RetrievalTrainer.CheckpointDirectory, "state.json")))
        {
            throw new InvalidOperationException($"{outDir} already holds a training checkpoint: add --resume to continue that run, or choose another --out.");
        }

        output.WriteLine($"LiteVL fine-tuning · {config.Preset} {config.Version} · T={config.NumFrames} S={config.Vision.ImageSize} · --params {options.Params.ToString().ToLowerInvariant()}{(options.FixedScaling ? " --fixed-scaling" : string.Empty)}{(options.TimeCode ? " · time embedding from the sine-cosine code" : string.Empty)}{(options.TextLearningRate is { } t ? $" · text side at lr {t:G3}" : string.Empty)}");
        Directory.CreateDirectory(outDir);
        string cache = cacheDir ?? Path.Combine(outDir, "train-cache");
        using var media = new MediaToolchain();
        var train = await LoadAsync(output, media, dataPath, videosDir, cache, config, ct).ConfigureAwait(false);
        var validation = valPath is null ? null : await LoadAsync(output, media, valPath, videosDir, cache, config, ct).ConfigureAwait(false);

        using var trainer = new RetrievalTrainer(weights, train, tokenizer, options, outDir)
        {
            Validate = validation is null ? null : (w, epoch) => Validate(w, validation, tokenizer),
        };
        var plan = trainer.Plan;
        output.WriteLine($"{plan.Examples} examples of {plan.Videos} videos; {plan.StepsPerEpoch} steps/epoch × {plan.Epochs} epochs = {plan.TotalSteps} steps of {options.Batch * options.Accumulate} examples");
        output.WriteLine($"training {plan.TrainableTensors} tensors, {plan.TrainableParameters:N0} of {plan.TotalParameters:N0} parameters ({plan.TrainableShare:P2}) on {trainer.Device}; graphs built in {trainer.GraphBuildSeconds:F1} s");
        if (resume && trainer.TryResume())
        {
            output.WriteLine($"resumed from {trainer.CheckpointPath} at step {trainer.Step}/{plan.TotalSteps}");
        }

        var clock = Stopwatch.StartNew();
        int firstStep = trainer.Step;
        bool terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        trainer.StepCompleted += r =>
        {
            double perStep = clock.Elapsed.TotalSeconds / (r.Step - firstStep);
            var eta = TimeSpan.FromSeconds(perStep * (r.TotalSteps - r.Step));
            string line = $"step {r.Step,5}/{r.TotalSteps} · epoch {r.Epoch} · loss {r.Loss:F4} (itc {r.LossItc:F4}, itm {r.LossItm:F4}) · lr {r.LearningRate:E2}/{r.TemporalLearningRate:E2} · |g| {r.GradNorm:F3} · temp {r.Temperature:F4} · {r.ExamplesPerSecond:F1} ex/s · ETA {eta:hh\\:mm\\:ss}";
            StepLine(output, terminal, line, r.Step == r.TotalSteps || r.Step % Math.Max(1, r.TotalSteps / 20) == 0 || r.Step == firstStep + 1);
        };
        trainer.EpochCompleted += e =>
        {
            EpochLine(output, terminal, e.Validation is { } v
                ? $"epoch {e.Epoch}: validation R@1 {v.R1:F1} R@5 {v.R5:F1} R@10 {v.R10:F1}{(v.Twin is { } t ? $" · twins {t:F1} % of {v.TwinPairs}" : string.Empty)} ({v.Protocol}){(e.IsBest ? " · best so far" : string.Empty)}"
                : $"epoch {e.Epoch} done");
        };

        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;                                                   // finish the step, write the checkpoint, then stop
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        TrainingOutcome outcome;
        try
        {
            outcome = trainer.Run(interrupt.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        if (!outcome.Completed)
        {
            output.WriteLine();
            output.WriteLine($"interrupted after step {outcome.Steps}/{plan.TotalSteps}; checkpoint in {trainer.CheckpointPath} — continue with the same command plus --resume");
            return 130;
        }

        var source = config.Source is null ? config.Version : $"{config.Version} ({config.Source})";
        var trained = new ModelWeights(
            outcome.Weights.Config with
            {
                Source = $"litevl train from {source}: --params {options.Params.ToString().ToLowerInvariant()}{(options.FixedScaling ? " --fixed-scaling" : string.Empty)}, {outcome.Steps} steps, seed {options.Seed}",
                ItcTemperature = Math.Round(outcome.FinalTemperature, 6),
            },
            outcome.Weights.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        if (File.Exists(vocab))
        {
            File.Copy(vocab, Path.Combine(outDir, ModelDirectory.VocabFileName), overwrite: true);
        }

        bool fp16 = File.Exists(Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.VideoEncoderName, Precision.Fp16)));
        var written = ModelDirectory.Write(trained, outDir, fp16);
        var log = File.ReadLines(trainer.LogPath).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        output.WriteLine();
        output.WriteLine("| | value |");
        output.WriteLine("|---|---|");
        output.WriteLine($"| steps | {outcome.Steps} ({plan.Epochs} epochs × {plan.StepsPerEpoch}) |");
        output.WriteLine($"| loss first → last step | {log[0].GetProperty("loss").GetDouble():F4} → {log[^1].GetProperty("loss").GetDouble():F4} |");
        output.WriteLine($"| ITC / ITM at the last step | {log[^1].GetProperty("loss_itc").GetDouble():F4} / {log[^1].GetProperty("loss_itm").GetDouble():F4} |");
        output.WriteLine($"| temperature | {outcome.FinalTemperature:F4} |");
        output.WriteLine($"| examples/s (mean) | {log.Average(l => l.GetProperty("examples_per_s").GetDouble()):F2} |");
        output.WriteLine($"| wall time | {clock.Elapsed:hh\\:mm\\:ss} |");
        if (outcome.BestValidation is { } best)
        {
            output.WriteLine($"| best validation (epoch {outcome.BestEpoch}) | R@1 {best.R1:F1} · R@5 {best.R5:F1} · R@10 {best.R10:F1} ({best.Protocol}) |");
        }

        output.WriteLine($"| model | {written.Version} in {Path.GetFullPath(outDir)} |");
        output.WriteLine($"| dynamic temporal scaling 1+tanh(α), mean per layer | {string.Join(" ", ScalingChart.LayerMeans(trained).Select(v => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))} |");
        return 0;
    }

    /// <summary>
    /// A step's progress line: rewritten in place on a terminal, else printed only when <paramref name="milestone"/>
    /// (the first and last step and every 5 %), so logs get about twenty lines per run.
    /// </summary>
    internal static void StepLine(TextWriter output, bool terminal, string line, bool milestone)
    {
        if (terminal)
        {
            output.Write("\r" + line + "\u001b[K");
        }
        else if (milestone)
        {
            output.WriteLine(line);
        }
    }

    /// <summary>An epoch's line, on a line of its own after the last step's in-place progress line on a terminal.</summary>
    internal static void EpochLine(TextWriter output, bool terminal, string line)
    {
        if (terminal)
        {
            output.WriteLine();
        }

        output.WriteLine(line);
    }

    /// <summary>
    /// Reads a data file leniently (a bad line is reported with its number and left out) and extracts each video's
    /// frames once with the platform's own frame extraction (same segments and sampling as ingestion) into a cache,
    /// one ffmpeg per core (extraction, not training, is what a small model's run mostly waits for).
    /// </summary>
    internal static async Task<TrainingSet> LoadAsync(TextWriter output, MediaToolchain media, string path, string? videosDir, string cache, ModelConfig config, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Data file '{path}' not found.", path);
        }

        string dir = videosDir ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        var (pairs, problems) = EvalDataset.ParseLenient(File.ReadLines(path), path);
        var videos = pairs.Select(p => p.Video).Distinct(StringComparer.Ordinal).ToList();
        var results = new (IReadOnlyList<string>? Segments, bool FromCache, string? Failure)[videos.Count];
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(
            Enumerable.Range(0, videos.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct },
            async (i, token) =>
            {
                string file = Path.IsPathRooted(videos[i]) ? videos[i] : Path.Combine(dir, videos[i]);
                try
                {
                    var (segments, fromCache) = await FramesAsync(media, file, cache, config, token).ConfigureAwait(false);
                    results[i] = (segments, fromCache, null);
                }
                catch (Exception e) when (e is MediaException or FileNotFoundException or IOException)
                {
                    results[i] = (null, false, e is FileNotFoundException ? $"video {file} does not exist" : $"video {file} could not be decoded ({e.Message.Split('\n')[0]})");
                }
            }).ConfigureAwait(false);

        var clips = new List<TrainingClip>();
        var clipIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < videos.Count; i++)
        {
            if (results[i].Segments is { } segments)
            {
                clipIndex[videos[i]] = clips.Count;
                clips.Add(new TrainingClip(videos[i], segments));
            }
        }

        // A line's "twin" names the clip's hard negative; both must be in the set (a twin without lines of its own is ignored).
        var twins = pairs.Where(p => p.Twin is not null).GroupBy(p => p.Video, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Twin!, StringComparer.Ordinal);
        for (int i = 0; i < clips.Count; i++)
        {
            if (twins.TryGetValue(clips[i].Name, out var twin) && clipIndex.TryGetValue(twin, out int t) && t != i)
            {
                clips[i] = clips[i] with { Twin = t };
            }
        }

        var failures = videos.Select((v, i) => (v, results[i].Failure)).Where(x => x.Failure is not null).ToDictionary(x => x.v, x => x.Failure!, StringComparer.Ordinal);
        var examples = new List<TrainingExample>();
        foreach (var pair in pairs)
        {
            if (failures.TryGetValue(pair.Video, out var why))
            {
                problems.Add($"{path}:{pair.Line}: skipped: {why}");
                continue;
            }

            examples.Add(new TrainingExample(pair.Line, clipIndex[pair.Video], pair.Caption));
        }

        foreach (string problem in problems)
        {
            output.WriteLine(problem);
        }

        int cached = results.Count(r => r.Segments is not null && r.FromCache), extracted = clips.Count - cached;
        output.WriteLine($"{Path.GetFileName(path)}: {examples.Count} examples of {clips.Count} videos ({extracted} extracted, {cached} from the frame cache, {sw.Elapsed.TotalSeconds:F1} s){(problems.Count > 0 ? $"; {problems.Count} line(s) left out" : string.Empty)}");
        if (examples.Count == 0)
        {
            throw new InvalidDataException($"{path}: no usable examples.");
        }

        return new TrainingSet(clips, examples);
    }

    internal static async Task<(IReadOnlyList<string> Segments, bool FromCache)> FramesAsync(MediaToolchain media, string file, string cache, ModelConfig config, CancellationToken ct)
    {
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Video '{file}' not found.", file);
        }

        // "frame-on-screen" names the sampling rule (SegmentPlanner.FrameLookupTime), so frames cached under an earlier rule are not reused.
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}|{config.NumFrames}|{config.Vision.ImageSize}|frame-on-screen")))[..24];
        string target = Path.Combine(cache, key);
        string index = Path.Combine(target, "segments.txt");
        if (File.Exists(index))
        {
            return (File.ReadAllLines(index).Where(l => l.Length > 0).Select(l => Path.Combine(target, l)).ToList(), true);
        }

        var result = await media.ExtractAsync(file, new ExtractionRequest(target, config.NumFrames, config.Vision.ImageSize), ct).ConfigureAwait(false);
        var relative = result.Segments.Select(s => Path.GetRelativePath(target, s.FramesPath)).ToList();
        await File.WriteAllLinesAsync(index, relative, ct).ConfigureAwait(false);                      // written last: marks the entry complete
        return (result.Segments.Select(s => s.FramesPath).ToList(), false);
    }

    /// <summary>Coarse text-to-video R@1/5/10 (the vector-search stage as served) with graphs built from <paramref name="weights"/>.</summary>
    internal static ValidationScores Validate(ModelWeights weights, TrainingSet set, BlipTokenizer tokenizer)
    {
        var builder = new LiteVLGraphBuilder(weights);
        using var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var video = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(builder.VideoEncoder()), so);
        using var text = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(builder.TextEncoder()), so);
        var c = weights.Config;
        int e = c.EmbedDim;
        var videoEmb = new float[set.Clips.Count * e];
        for (int v = 0; v < set.Clips.Count; v++)
        {
            // The first segment stands for the video (segments are scored separately when served; short clips have one).
            var frames = File.ReadAllBytes(set.Clips[v].SegmentFrameFiles[0]);
            using var input = OrtValue.CreateTensorValueFromMemory(frames, [1, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3]);
            using var ro = new RunOptions();
            using var outputs = video.Run(ro, ["frames"], [input], ["video_embedding"]);
            outputs[0].GetTensorDataAsSpan<float>().CopyTo(videoEmb.AsSpan(v * e, e));
        }

        var tokens = tokenizer.Encode(set.Examples.Select(x => x.Caption).ToList());
        using var ids = OrtValue.CreateTensorValueFromMemory(tokens.InputIds, [tokens.BatchSize, tokens.Length]);
        using var mask = OrtValue.CreateTensorValueFromMemory(tokens.AttentionMask, [tokens.BatchSize, tokens.Length]);
        using var ro2 = new RunOptions();
        using var textOut = text.Run(ro2, ["input_ids", "attention_mask"], [ids, mask], ["text_embedding"]);
        var textEmb = textOut[0].GetTensorDataAsSpan<float>().ToArray();
        var scores = new double[set.Examples.Count, set.Clips.Count];
        for (int q = 0; q < set.Examples.Count; q++)
        {
            for (int v = 0; v < set.Clips.Count; v++)
            {
                double s = 0;
                for (int k = 0; k < e; k++)
                {
                    s += textEmb[(q * e) + k] * videoEmb[(v * e) + k];
                }

                scores[q, v] = s;
            }
        }

        var ranks = RetrievalMetrics.RanksFromScores(scores, set.Examples.Select(x => x.Clip).ToList());
        var summary = RetrievalMetrics.Summarize(ranks);
        var (twin, twinPairs) = TwinAccuracy(scores, set);
        return new ValidationScores(summary.RecallAt1, summary.RecallAt5, summary.RecallAt10, "coarse: cosine of the text and video embeddings", twin, twinPairs);
    }

    /// <summary>
    /// Twin accuracy of a caption × clip score matrix: for every caption whose clip names a twin in the set, does its
    /// own clip score above the twin (a tie counts half)? Null when the set names no twins.
    /// </summary>
    internal static (double? Accuracy, int Pairs) TwinAccuracy(double[,] scores, TrainingSet set)
    {
        var pairs = set.Examples.Select((x, q) => (Query: q, x.Clip, Twin: set.Clips[x.Clip].Twin)).Where(x => x.Twin is not null)
            .Select(x => (scores[x.Query, x.Clip], scores[x.Query, x.Twin!.Value])).ToList();
        return pairs.Count == 0 ? (null, 0) : (RetrievalProbe.TwinAccuracy(pairs).Accuracy, pairs.Count);
    }
}
