using System.Diagnostics;
using System.Globalization;
using System.Text;
using LiteVL.Cli.Evaluation;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Runtime;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;

namespace LiteVL.Cli.Commands;

/// <summary>Accuracy of one question type (or of all: <see cref="Type"/> "all") in both answering modes.</summary>
public sealed record QaTypeScore(string Type, int Questions, double RankAccuracy, double GenerateAccuracy);

/// <summary>
/// <c>litevl train --task qa</c> and <c>litevl eval --task qa</c>: video QA sets loaded with the platform's own frame
/// extraction, encoded once by the model's (frozen) video and text encoders, the heads trained by <see cref="QaTrainer"/>,
/// and accuracy measured with <see cref="VideoQa"/> exactly as the API answers.
/// </summary>
internal static class QaTraining
{
    /// <param name="cacheDir">Where extracted frames are kept (default: &lt;out&gt;/train-cache); runs that share it extract each video once.</param>
    public static async Task<int> RunAsync(TextWriter output, string modelDir, string dataPath, string? valPath, string? videosDir, string outDir, QaTrainerOptions options, CancellationToken ct, string? cacheDir = null)
    {
        options.Validate();
        var config = ModelConfig.Load(modelDir);
        var weights = ModelWeights.Load(config, Path.Combine(modelDir, ModelWeights.FileName));
        bool fresh = config.Qa is null;
        var start = fresh ? QaHeads.Initialise(weights, options.Seed) : weights;
        string video = options.VideoParams is { } vp ? $"video side trains too (--params {vp.ToString().ToLowerInvariant()}: search results change)" : "video side and retrieval frozen";
        output.WriteLine($"LiteVL video QA fine-tuning · {config.Preset} {config.Version} · heads {(fresh ? "started from the grounded encoder" : "as the model has them")} · {video}");
        Directory.CreateDirectory(outDir);
        using var media = new MediaToolchain();
        using var model = LiteVLModel.Open(modelDir);
        string cache = cacheDir ?? Path.Combine(outDir, "train-cache");
        bool frames = options.VideoParams is not null;
        var (train, _) = await LoadAsync(output, media, model, dataPath, videosDir, cache, ct, frames).ConfigureAwait(false);
        var validation = valPath is null ? default : await LoadAsync(output, media, model, valPath, videosDir, cache, ct, frames).ConfigureAwait(false);

        using var trainer = new QaTrainer(start, train, validation.Set, model.Tokenizer, options);
        output.WriteLine($"{train.Examples.Count} questions about {train.ClipTokens.Count} videos; {trainer.StepsPerEpoch} steps/epoch × {options.Epochs} epochs = {trainer.TotalSteps} steps of {options.Batch}; "
            + $"training {trainer.TrainableParameters:N0} parameters on {trainer.Device}; answers up to {trainer.AnswerLength - 2} word pieces; graphs built in {trainer.GraphBuildSeconds:F1} s");
        var clock = Stopwatch.StartNew();
        bool terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        trainer.StepCompleted += r =>
        {
            var eta = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / r.Step * (r.TotalSteps - r.Step));
            string line = $"step {r.Step,5}/{r.TotalSteps} · epoch {r.Epoch} · loss {r.Loss:F4} · lr {r.LearningRate:E2} · |g| {r.GradNorm:F3} · {r.ExamplesPerSecond:F1} ex/s · ETA {eta:hh\\:mm\\:ss}";
            TrainCommand.StepLine(output, terminal, line, r.Step == r.TotalSteps || r.Step == 1 || r.Step % Math.Max(1, r.TotalSteps / 20) == 0);
        };
        trainer.EpochCompleted += e =>
        {
            TrainCommand.EpochLine(output, terminal, e.ValidationLoss is { } v
                ? $"epoch {e.Epoch}: train loss {e.TrainLoss:F4}, validation loss {v:F4}{(e.IsBest ? " · best so far" : string.Empty)}"
                : $"epoch {e.Epoch}: train loss {e.TrainLoss:F4}");
        };
        var outcome = trainer.Run(ct);

        var source = config.Source is null ? config.Version : $"{config.Version} ({config.Source})";
        var trained = new ModelWeights(
            outcome.Weights.Config with { Source = $"litevl train --task qa from {source}: {outcome.Steps} steps, seed {options.Seed}" },
            outcome.Weights.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        File.Copy(Path.Combine(modelDir, ModelDirectory.VocabFileName), Path.Combine(outDir, ModelDirectory.VocabFileName), overwrite: true);
        bool fp16 = File.Exists(Path.Combine(modelDir, GraphFiles.FileName(LiteVLGraphBuilder.VideoEncoderName, Precision.Fp16)));
        var written = ModelDirectory.Write(trained, outDir, fp16);
        output.WriteLine();
        output.WriteLine($"| | value |");
        output.WriteLine($"|---|---|");
        output.WriteLine($"| steps | {outcome.Steps} |");
        output.WriteLine($"| kept | epoch {outcome.KeptEpoch}{(outcome.KeptValidationLoss is { } kl ? $" (validation loss {kl:F4})" : string.Empty)} |");
        output.WriteLine($"| wall time | {clock.Elapsed:hh\\:mm\\:ss} |");
        output.WriteLine(written.Version == config.Version && options.VideoParams is null
            ? $"| model | {written.Version} in {Path.GetFullPath(outDir)} (the starting model's version: QA heads change answers, not what is indexed) |"
            : $"| model | {written.Version} in {Path.GetFullPath(outDir)} |");
        if (validation.Set is not null)
        {
            using var trainedModel = LiteVLModel.Open(outDir);
            var answers = validation.Lines.Select(l => l.Answer).Concat(train.Examples.Select(e => e.Answer)).Select(QaDataset.Normalise).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            output.WriteLine();
            output.Write(Table(Evaluate(trainedModel, validation.Set, answers), $"validation ({Path.GetFileName(valPath)}), rank over the {answers.Count} answers seen"));
        }

        return 0;
    }

    /// <summary>
    /// Reads a QA set leniently, extracts every video's frames with the platform's extraction (cached), and encodes the
    /// first segment of each video and every question with <paramref name="model"/> (the QA heads read exactly these).
    /// </summary>
    /// <param name="withFrames">Keep every clip's frames too (the video side trains with the heads).</param>
    public static async Task<(QaTrainingSet Set, List<QaLine> Lines)> LoadAsync(TextWriter output, MediaToolchain media, LiteVLModel model, string path, string? videosDir, string cache, CancellationToken ct, bool withFrames = false)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Data file '{path}' not found.", path);
        }

        var sw = Stopwatch.StartNew();
        string dir = videosDir ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        var (lines, problems) = QaDataset.ParseLenient(File.ReadLines(path), path);
        var videos = lines.Select(l => l.Video).Distinct(StringComparer.Ordinal).ToList();
        var frames = new IReadOnlyList<string>?[videos.Count];
        var failures = new Dictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(Enumerable.Range(0, videos.Count), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct }, async (i, token) =>
        {
            string file = Path.IsPathRooted(videos[i]) ? videos[i] : Path.Combine(dir, videos[i]);
            try
            {
                frames[i] = (await TrainCommand.FramesAsync(media, file, cache, model.Config, token).ConfigureAwait(false)).Segments;
            }
            catch (Exception e) when (e is MediaException or FileNotFoundException or IOException)
            {
                lock (failures)
                {
                    failures[videos[i]] = e is FileNotFoundException ? $"video {file} does not exist" : $"video {file} could not be decoded ({e.Message.Split('\n')[0]})";
                }
            }
        }).ConfigureAwait(false);

        var c = model.Config;
        var clipIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var tokens = new List<float[]>();
        var clipFrames = new List<byte[]>();
        for (int i = 0; i < videos.Count; i++)
        {
            if (frames[i] is { Count: > 0 } segments)
            {
                clipIndex[videos[i]] = tokens.Count;
                byte[] bytes = await File.ReadAllBytesAsync(segments[0], ct).ConfigureAwait(false);
                tokens.Add(model.EncodeVideos(bytes, 1).VideoTokens);
                if (withFrames)
                {
                    clipFrames.Add(bytes);
                }
            }
        }

        var kept = new List<QaLine>();
        foreach (var line in lines)
        {
            if (failures.TryGetValue(line.Video, out var why))
            {
                problems.Add($"{path}:{line.Line}: skipped: {why}");
            }
            else if (clipIndex.ContainsKey(line.Video))
            {
                kept.Add(line);
            }
        }

        foreach (string problem in problems)
        {
            output.WriteLine(problem);
        }

        if (kept.Count == 0)
        {
            throw new InvalidDataException($"{path}: no usable questions (expected JSON lines {{\"video\": \"clip.mp4\", \"question\": \"...\", \"answer\": \"...\"}}).");
        }

        var examples = kept.Select(l => new QaExample(clipIndex[l.Video], l.Question, QaDataset.Normalise(l.Answer), l.Type)).ToList();
        var embeddings = new float[examples.Count * c.EmbedDim];
        const int chunk = 256;
        for (int s = 0; s < examples.Count; s += chunk)
        {
            var part = model.EncodeTexts([.. examples.Skip(s).Take(chunk).Select(e => e.Question)]);
            part.CopyTo(embeddings, s * c.EmbedDim);
        }

        output.WriteLine($"{Path.GetFileName(path)}: {examples.Count} questions about {tokens.Count} videos ({sw.Elapsed.TotalSeconds:F1} s){(problems.Count > 0 ? $"; {problems.Count} line(s) left out" : string.Empty)}");
        return (new QaTrainingSet(tokens, examples, embeddings) { ClipFrames = withFrames ? clipFrames : null }, kept);
    }

    /// <summary>
    /// Accuracy per question type and overall: <c>rank</c> over <paramref name="answers"/> (BLIP's closed answer list;
    /// k = all of them) and <c>generate</c> (3 beams), each answer compared after <see cref="QaDataset.Normalise"/>.
    /// </summary>
    public static IReadOnlyList<QaTypeScore> Evaluate(LiteVLModel model, QaTrainingSet set, IReadOnlyList<string> answers)
    {
        var qa = new VideoQa(model);
        var rankHits = new bool[set.Examples.Count];
        var generateHits = new bool[set.Examples.Count];
        const int chunk = 32;
        for (int s = 0; s < set.Examples.Count; s += chunk)
        {
            var part = set.Examples.Skip(s).Take(chunk).ToList();
            var queries = part.Select(e => new QaQuery(e.Question, set.ClipTokens[e.Clip])).ToList();
            var ranked = qa.Rank(queries, answers, answers.Count);
            var generated = qa.Generate(queries);
            for (int i = 0; i < part.Count; i++)
            {
                rankHits[s + i] = QaDataset.Normalise(ranked[i].Best.Answer) == QaDataset.Normalise(part[i].Answer);
                generateHits[s + i] = QaDataset.Normalise(generated[i].Best.Answer) == QaDataset.Normalise(part[i].Answer);
            }
        }

        return Scores(set.Examples.Select(e => e.Type).ToList(), rankHits, generateHits);
    }

    /// <summary>Accuracy per question type (untyped questions as "untyped"), by name, then over all of them.</summary>
    /// <param name="types">Each question's type.</param>
    /// <param name="rankHits">Whether rank mode answered question i right.</param>
    /// <param name="generateHits">Whether generate mode answered question i right.</param>
    public static IReadOnlyList<QaTypeScore> Scores(IReadOnlyList<string?> types, bool[] rankHits, bool[] generateHits)
    {
        var scores = types.Select((t, i) => (Type: t ?? "untyped", i))
            .GroupBy(x => x.Type, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Score(g.Key, g.Select(x => x.i).ToList(), rankHits, generateHits))
            .ToList();
        scores.Add(Score("all", [.. Enumerable.Range(0, types.Count)], rankHits, generateHits));
        return scores;
    }

    public static string Table(IReadOnlyList<QaTypeScore> scores, string title)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"{title}:");
        sb.AppendLine();
        sb.AppendLine("| question type | questions | rank accuracy | generate accuracy |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var s in scores)
        {
            sb.AppendLine(inv, $"| {(s.Type == "all" ? "**all**" : s.Type)} | {s.Questions} | {s.RankAccuracy:F1} % | {s.GenerateAccuracy:F1} % |");
        }

        return sb.ToString();
    }

    private static QaTypeScore Score(string type, List<int> rows, bool[] rank, bool[] generate) =>
        new(type, rows.Count, 100.0 * rows.Count(r => rank[r]) / rows.Count, 100.0 * rows.Count(r => generate[r]) / rows.Count);
}
