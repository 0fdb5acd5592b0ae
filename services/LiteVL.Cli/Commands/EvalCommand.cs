using System.CommandLine;
using LiteVL.Cli.Evaluation;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl eval</c>: text-to-video retrieval quality of a running platform on a captioned video set (MSR-VTT 1k-A
/// style): R@1/5/10, median and mean rank, coarse and re-ranked, and what re-ranking costs. See docs/evaluation.md.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output)
    {
        var dataset = new Option<string>("--dataset") { Description = "JSON lines {\"video\": \"video7020.mp4\", \"caption\": \"...\"}; every caption is a query whose ground truth is its video.", Required = true };
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var key = new Option<string?>("--key") { Description = "API key of the tenant to ingest into and search (or --key-file)." };
        var keyFile = new Option<string?>("--key-file") { Description = "File holding the API key, e.g. .litevl/demo-key." };
        var videosDir = new Option<string?>("--videos-dir") { Description = "Folder the dataset's video paths are relative to (default: the dataset file's folder)." };
        var candidates = new Option<int?>("--candidates") { Description = "Candidates the re-ranked pass re-scores per query (default: the server's)." };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N captions of the dataset (and their videos) — a quick check, not comparable with full-set numbers." };
        var json = new Option<string?>("--json") { Description = "Also write the summary (metrics, costs, per-query ranks) as JSON to this file." };
        var pooling = new Option<string?>("--pooling") { Description = "Re-ranking protocol: tdp (LiteVL's text-dependent pooling) or none (BLIP's zero-shot protocol). Default: the model's." };
        pooling.AcceptOnlyFromAmong("tdp", "none");
        var wait = new Option<double>("--wait-minutes") { Description = "How long to wait for ingestion to finish.", DefaultValueFactory = _ => 180 };
        var task = new Option<string>("--task") { Description = "retrieval (a running platform, over its API) or qa (video question answering on JSON lines {\"video\", \"question\", \"answer\", \"type\"?}: accuracy per question type, ranking over the answer list and generating; over the API of a running platform, or with --model on a local model directory).", DefaultValueFactory = _ => "retrieval" }
            .AcceptOnlyFromAmong("retrieval", "qa");
        var model = new Option<string?>("--model", "-m") { Description = "With --task qa: evaluate this local model directory instead of a running platform." };
        var answerList = new Option<string?>("--answers") { Description = "With --task qa: the answer list rank mode chooses from — a text file with one answer per line, or a QA .jsonl whose answers are taken (e.g. the training set, as MSRVTT-QA's protocol uses the training answers). Default: the evaluated set's own answers." };
        var cmd = new Command("eval", "Retrieval quality (R@1/5/10, median/mean rank) of a running platform on a captioned video set, coarse and re-ranked, with the cost of re-ranking; uploads the videos (re-runs reuse them: uploads are deduplicated). With --task qa: video QA accuracy per question type, over the API or of a local model directory (--model).")
        {
            dataset, server, key, keyFile, videosDir, candidates, limit, pooling, json, wait, task, model, answerList,
        };
        // An option the chosen evaluation does not use is an error, not silently dropped: a user who asks for
        // --pooling none on a QA run would otherwise read figures that did not honour it.
        cmd.Validators.Add(result =>
        {
            bool qa = result.GetValue(task) == "qa";
            bool local = qa && result.GetValue(model) is not null;
            var unused = new List<(Option Option, string Why)>();
            void NotWith(bool applies, Option option, string why)
            {
                if (applies && result.GetResult(option) is { Implicit: false })
                {
                    unused.Add((option, why));
                }
            }

            NotWith(qa, candidates, "re-ranking is part of the retrieval evaluation");
            NotWith(qa, pooling, "re-ranking is part of the retrieval evaluation");
            NotWith(!qa, model, "a local model directory is evaluated with --task qa only");
            NotWith(!qa, answerList, "an answer list belongs to --task qa");
            foreach (Option remote in new Option[] { server, key, keyFile, limit, json, wait })
            {
                NotWith(local, remote, "--model evaluates the local model directory, with no server");
            }

            foreach (var (option, why) in unused)
            {
                result.AddError($"{option.Name} does not apply here ({why}); leave it out.");
            }
        });
        cmd.SetAction(async (p, ct) =>
        {
            string datasetPath = p.GetValue(dataset)!;
            if (p.GetValue(task) == "qa" && p.GetValue(model) is { } modelDir)
            {
                return await EvaluateQaAsync(output, modelDir, datasetPath, p.GetValue(videosDir), p.GetValue(answerList), ct).ConfigureAwait(false);
            }

            if (p.GetValue(candidates) is < 1)
            {
                throw new ArgumentException($"--candidates must be at least 1, not {p.GetValue(candidates)}.");
            }

            string apiKey = ResolveKey(p.GetValue(key), p.GetValue(keyFile));
            string dir = p.GetValue(videosDir) ?? Path.GetDirectoryName(Path.GetFullPath(datasetPath))!;
            if (!Directory.Exists(dir))
            {
                throw new DirectoryNotFoundException($"Videos folder '{dir}' not found (--videos-dir).");
            }

            string url = p.GetValue(server)!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri))
            {
                throw new ArgumentException($"--server '{url}' is not an absolute URL.");
            }

            if (p.GetValue(task) == "qa")
            {
                return await EvaluateQaOverApiAsync(output, baseUri, apiKey, datasetPath, dir, p.GetValue(answerList), p.GetValue(limit), p.GetValue(wait), p.GetValue(json), ct).ConfigureAwait(false);
            }

            var data = EvalDataset.Load(datasetPath, p.GetValue(limit));

            output.WriteLine($"{data.Pairs.Count} captions of {data.Videos.Count} videos from {datasetPath}; videos under {dir}");
            using var backend = new HttpEvalBackend(baseUri, apiKey);
            var settings = new EvalSettings(dir, p.GetValue(candidates), IndexTimeout: TimeSpan.FromMinutes(p.GetValue(wait)), Pooling: p.GetValue(pooling));
            var report = await new EvalRunner(backend, output, settings).RunAsync(data, datasetPath, url, ct).ConfigureAwait(false);
            output.WriteLine();
            output.Write(report.ToMarkdown());
            if (p.GetValue(json) is { } jsonPath)
            {
                await File.WriteAllTextAsync(jsonPath, report.ToJson(), ct).ConfigureAwait(false);
                output.WriteLine($"wrote {Path.GetFullPath(jsonPath)}");
            }

            return 0;
        });
        return cmd;
    }

    private static async Task<int> EvaluateQaAsync(TextWriter output, string modelDir, string datasetPath, string? videosDir, string? answerListPath, CancellationToken ct)
    {
        if (answerListPath is not null && !File.Exists(answerListPath))
        {
            throw new FileNotFoundException($"Answer list '{answerListPath}' not found (--answers).", answerListPath);
        }

        using var model = Model.Runtime.LiteVLModel.Open(modelDir);
        if (!model.HasQa)
        {
            throw new ArgumentException($"The model in {modelDir} has no video QA heads: train them with 'litevl train --task qa' or add a BLIP VQA checkpoint with 'litevl model import-qa'.");
        }

        using var media = new Media.MediaToolchain();
        string cache = Path.Combine(Path.GetTempPath(), "litevl-eval-frames");
        var (set, lines) = await QaTraining.LoadAsync(output, media, model, datasetPath, videosDir, cache, ct).ConfigureAwait(false);
        var answers = AnswerList(lines, answerListPath);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var scores = QaTraining.Evaluate(model, set, answers);
        output.WriteLine();
        string source = answerListPath is null ? "the dataset's own" : $"{Path.GetFileName(answerListPath)}'s";
        output.Write(QaTraining.Table(scores, $"{model.Config.Version} on {Path.GetFileName(datasetPath)}: rank over {source} {answers.Count} answers, generate with 3 beams ({started.Elapsed.TotalSeconds:F1} s)"));
        return 0;
    }

    /// <summary>
    /// <c>--task qa</c> without <c>--model</c>: the running platform answers every question through its API, in both
    /// modes, and the accuracy table has the same shape as the local evaluation's.
    /// </summary>
    private static async Task<int> EvaluateQaOverApiAsync(TextWriter output, Uri server, string apiKey, string datasetPath, string videosDir, string? answerListPath, int? limit, double waitMinutes, string? jsonPath, CancellationToken ct)
    {
        if (answerListPath is not null && !File.Exists(answerListPath))
        {
            throw new FileNotFoundException($"Answer list '{answerListPath}' not found (--answers).", answerListPath);
        }

        if (!File.Exists(datasetPath))
        {
            throw new FileNotFoundException($"Dataset '{datasetPath}' not found (--dataset).", datasetPath);
        }

        var (lines, problems) = QaDataset.ParseLenient(File.ReadLines(datasetPath), datasetPath);
        if (problems.Count > 0)
        {
            throw new InvalidDataException($"{problems.Count} bad lines in {datasetPath}; the first: {problems[0]}");
        }

        if (limit is { } n)
        {
            lines = [.. lines.Take(n)];
        }

        var answers = AnswerList(lines, answerListPath);
        output.WriteLine($"{lines.Count} questions about {lines.Select(l => l.Video).Distinct(StringComparer.Ordinal).Count()} videos from {datasetPath}; videos under {videosDir}; {answers.Count} candidate answers");
        using var backend = new HttpEvalBackend(server, apiKey);
        var settings = new EvalSettings(videosDir, IndexTimeout: TimeSpan.FromMinutes(waitMinutes));
        var report = await new QaEvalRunner(backend, output, settings).RunAsync(lines, answers, datasetPath, server.ToString(), ct).ConfigureAwait(false);
        output.WriteLine();
        output.Write(report.ToMarkdown());
        if (jsonPath is not null)
        {
            await File.WriteAllTextAsync(jsonPath, report.ToJson(), ct).ConfigureAwait(false);
            output.WriteLine($"wrote {Path.GetFullPath(jsonPath)}");
        }

        return 0;
    }

    /// <summary>
    /// The answers rank mode chooses from, normalised, distinct and sorted: <c>--answers</c> (one per line, or a QA
    /// .jsonl whose answers are taken), else the evaluated set's own.
    /// </summary>
    private static List<string> AnswerList(IReadOnlyList<QaLine> lines, string? answerListPath)
    {
        IEnumerable<string> listed = answerListPath is null
            ? lines.Select(l => l.Answer)
            : answerListPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
                ? QaDataset.ParseLenient(File.ReadLines(answerListPath), answerListPath).Lines.Select(l => l.Answer)
                : File.ReadLines(answerListPath).Where(l => !string.IsNullOrWhiteSpace(l));
        var answers = listed.Select(QaDataset.Normalise).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return answers.Count > 0 ? answers : throw new InvalidDataException($"The answer list '{answerListPath}' holds no answers.");
    }

    private static string ResolveKey(string? key, string? keyFile)
    {
        if (!string.IsNullOrWhiteSpace(key))
        {
            return key.Trim();
        }

        if (keyFile is null)
        {
            throw new ArgumentException("Give the API key with --key KEY or --key-file FILE (the embedded host writes <data>/demo-key and <data>/admin-key).");
        }

        if (!File.Exists(keyFile))
        {
            throw new FileNotFoundException($"No API key file at '{keyFile}'.", keyFile);
        }

        return File.ReadAllText(keyFile).Trim();
    }
}
