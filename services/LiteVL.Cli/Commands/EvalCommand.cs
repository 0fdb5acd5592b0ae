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
        var task = new Option<string>("--task") { Description = "retrieval (a running platform, over its API) or qa (video question answering with a local model directory, --model: JSON lines {\"video\", \"question\", \"answer\", \"type\"?}; accuracy per question type, ranking over the dataset's own answers and generating).", DefaultValueFactory = _ => "retrieval" }
            .AcceptOnlyFromAmong("retrieval", "qa");
        var model = new Option<string?>("--model", "-m") { Description = "With --task qa: the model directory to evaluate." };
        var answerList = new Option<string?>("--answers") { Description = "With --task qa: the answer list rank mode chooses from — a text file with one answer per line, or a QA .jsonl whose answers are taken (e.g. the training set, as MSRVTT-QA's protocol uses the training answers). Default: the evaluated set's own answers." };
        var cmd = new Command("eval", "Retrieval quality (R@1/5/10, median/mean rank) of a running platform on a captioned video set, coarse and re-ranked, with the cost of re-ranking; uploads the videos (re-runs reuse them: uploads are deduplicated). With --task qa: video QA accuracy of a model directory.")
        {
            dataset, server, key, keyFile, videosDir, candidates, limit, pooling, json, wait, task, model, answerList,
        };
        cmd.SetAction(async (p, ct) =>
        {
            string datasetPath = p.GetValue(dataset)!;
            if (p.GetValue(task) == "qa")
            {
                string modelDir = p.GetValue(model) ?? throw new ArgumentException("--task qa evaluates a model directory: add --model DIR (one with video QA heads).");
                return await EvaluateQaAsync(output, modelDir, datasetPath, p.GetValue(videosDir), p.GetValue(answerList), ct).ConfigureAwait(false);
            }

            if (p.GetValue(candidates) is < 1)
            {
                throw new ArgumentException($"--candidates must be at least 1, not {p.GetValue(candidates)}.");
            }

            string apiKey = ResolveKey(p.GetValue(key), p.GetValue(keyFile));
            var data = EvalDataset.Load(datasetPath, p.GetValue(limit));
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
        IEnumerable<string> listed = answerListPath is null
            ? lines.Select(l => l.Answer)
            : answerListPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
                ? QaDataset.ParseLenient(File.ReadLines(answerListPath), answerListPath).Lines.Select(l => l.Answer)
                : File.ReadLines(answerListPath).Where(l => !string.IsNullOrWhiteSpace(l));
        var answers = listed.Select(QaDataset.Normalise).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (answers.Count == 0)
        {
            throw new InvalidDataException($"The answer list '{answerListPath}' holds no answers.");
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var scores = QaTraining.Evaluate(model, set, answers);
        output.WriteLine();
        string source = answerListPath is null ? "the dataset's own" : $"{Path.GetFileName(answerListPath)}'s";
        output.Write(QaTraining.Table(scores, $"{model.Config.Version} on {Path.GetFileName(datasetPath)}: rank over {source} {answers.Count} answers, generate with 3 beams ({started.Elapsed.TotalSeconds:F1} s)"));
        return 0;
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
