using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LiteVL.Cli.Commands;

namespace LiteVL.Cli.Evaluation;

/// <summary>One question's outcome over the API: the expected answer and what rank and generate mode answered.</summary>
public sealed record QaQuestionOutcome(int Line, string Video, string Question, string? Type, string Expected, string Ranked, string Generated);

/// <summary>Round-trip latency of one answering mode, as the client measured it (the API reports no timings for asks).</summary>
public sealed record QaModeTimings(string Mode, double MeanMs, double P95Ms, double QuestionsPerSecond);

/// <summary>What <c>litevl eval --task qa --server</c> measured.</summary>
public sealed record QaEvalReport(
    string Dataset,
    string Server,
    string? ModelVersion,
    int Videos,
    int AnswerCount,
    IReadOnlyList<QaTypeScore> Scores,
    IReadOnlyList<QaModeTimings> Timings,
    IReadOnlyList<ExcludedVideo> Excluded,
    IReadOnlyList<string> Notes,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<QaQuestionOutcome> Questions)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.Append(QaTraining.Table(Scores, $"{ModelVersion ?? "unknown model"} over {Server} on {Dataset} ({Questions.Count} questions about {Videos} videos): rank over {AnswerCount} answers, generate as the server is configured"));
        s.AppendLine();
        s.AppendLine("| mode | round trip ms (mean) | round trip ms (p95) | questions/s |");
        s.AppendLine("|---|---:|---:|---:|");
        foreach (var t in Timings)
        {
            s.AppendLine(c, $"| {t.Mode} | {t.MeanMs:F1} | {t.P95Ms:F1} | {t.QuestionsPerSecond:F2} |");
        }

        EvalReport.AppendRemarks(s, Excluded, "questions", Notes, Warnings);
        return s.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}

/// <summary>
/// <c>litevl eval --task qa</c> against a running platform: (1) upload every distinct video and wait for indexing (shared
/// with retrieval, <see cref="GalleryIngestion"/>); (2) ask every question twice through <c>POST /v1/videos/{id}/ask</c>,
/// in rank mode over the answer list and in generate mode; (3) accuracy per question type, compared the way the local
/// evaluation compares (<see cref="QaDataset.Normalise"/>), so the two can be checked against each other.
/// </summary>
public sealed class QaEvalRunner(IEvalBackend backend, TextWriter log, EvalSettings settings)
{
    public async Task<QaEvalReport> RunAsync(IReadOnlyList<QaLine> lines, IReadOnlyList<string> answers, string datasetName, string server, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(answers);
        if (lines.Count == 0)
        {
            throw new InvalidDataException($"{datasetName} holds no questions.");
        }

        var files = lines.Select(l => l.Video).Distinct(StringComparer.Ordinal).ToList();
        var paths = files.ToDictionary(f => f, f => Path.GetFullPath(Path.Combine(settings.VideosDirectory, f)), StringComparer.Ordinal);
        var missing = files.Where(f => !File.Exists(paths[f])).ToList();
        if (missing.Count > 0)
        {
            throw new FileNotFoundException($"{missing.Count} of {files.Count} videos not found under '{Path.GetFullPath(settings.VideosDirectory)}' (first: '{missing[0]}'); set --videos-dir.", paths[missing[0]]);
        }

        var questionsPerFile = lines.GroupBy(l => l.Video, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var excluded = new List<ExcludedVideo>();
        var notes = new List<string>();
        var (ids, statuses) = await new GalleryIngestion(backend, log, settings).IngestAsync(files, paths, questionsPerFile, excluded, ct).ConfigureAwait(false);
        var asked = lines.Where(l => ids.ContainsKey(l.Video)).ToList();
        if (asked.Count == 0)
        {
            throw new InvalidOperationException($"No video of the dataset was indexed ({excluded.Count} excluded): nothing to evaluate.");
        }

        // One untimed warm-up ask: it pays the one-off costs and says which model answers, so that videos indexed with
        // another model (which the server refuses with 409) are listed instead of failing the run.
        var warmUp = await backend.AskAsync(new AskQuery(ids[asked[0].Video], asked[0].Question, answers, "rank"), ct).ConfigureAwait(false);
        string? modelVersion = warmUp.ModelVersion;
        foreach (var (file, id) in ids.ToList())
        {
            if (statuses[id].ModelVersion is { } v && modelVersion is not null && v != modelVersion)
            {
                excluded.Add(new ExcludedVideo(file, id, $"indexed with model {v}, but {modelVersion} answers: use a fresh data directory or tenant after changing the model", questionsPerFile[file]));
                ids.Remove(file);
            }
        }

        asked = [.. asked.Where(l => ids.ContainsKey(l.Video))];
        if (asked.Count == 0)
        {
            throw new InvalidOperationException($"No video of the dataset is indexed with the model that answers ({modelVersion}): nothing to evaluate.");
        }

        var shared = ids.GroupBy(kv => kv.Value, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        foreach (var g in shared)
        {
            notes.Add($"{string.Join(", ", g.Select(kv => kv.Key))} have identical bytes: one video ({g.Key}).");
        }

        var (ranked, rankTimings) = await PassAsync("rank", asked, ids, answers, ct).ConfigureAwait(false);
        var (generated, generateTimings) = await PassAsync("generate", asked, ids, null, ct).ConfigureAwait(false);

        var rankHits = new bool[asked.Count];
        var generateHits = new bool[asked.Count];
        var questions = new List<QaQuestionOutcome>(asked.Count);
        for (int i = 0; i < asked.Count; i++)
        {
            string expected = QaDataset.Normalise(asked[i].Answer);
            rankHits[i] = QaDataset.Normalise(ranked[i].Answer) == expected;
            generateHits[i] = QaDataset.Normalise(generated[i].Answer) == expected;
            questions.Add(new QaQuestionOutcome(asked[i].Line, asked[i].Video, asked[i].Question, asked[i].Type, asked[i].Answer, ranked[i].Answer, generated[i].Answer));
        }

        var versions = ranked.Concat(generated).Select(o => o.ModelVersion).Where(v => v is not null).Distinct(StringComparer.Ordinal).ToList();
        if (versions.Count > 1)
        {
            notes.Add($"The answering model changed during the run ({string.Join(", ", versions)}): the figures mix models.");
        }

        var warnings = ranked.Concat(generated).SelectMany(o => o.Warnings).Distinct(StringComparer.Ordinal).Take(20).ToList();
        return new QaEvalReport(
            datasetName,
            server,
            modelVersion,
            ids.Values.Distinct(StringComparer.Ordinal).Count(),
            answers.Count,
            QaTraining.Scores(asked.Select(l => l.Type).ToList(), rankHits, generateHits),
            [rankTimings, generateTimings],
            excluded,
            notes,
            warnings,
            questions);
    }

    private async Task<(List<AskOutcome> Outcomes, QaModeTimings Timings)> PassAsync(
        string mode, List<QaLine> lines, Dictionary<string, string> ids, IReadOnlyList<string>? answers, CancellationToken ct)
    {
        var outcomes = new List<AskOutcome>(lines.Count);
        var watch = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        foreach (var line in lines)
        {
            outcomes.Add(await backend.AskAsync(new AskQuery(ids[line.Video], line.Question, answers, mode), ct).ConfigureAwait(false));
            if (watch.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = watch.Elapsed;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: {outcomes.Count}/{lines.Count} questions ({watch.Elapsed.TotalSeconds:F0} s)"));
            }
        }

        var wall = watch.Elapsed;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: {lines.Count} questions in {wall.TotalSeconds:F1} s"));
        var ms = outcomes.Select(o => o.Milliseconds).ToList();
        return (outcomes, new QaModeTimings(mode, ms.Average(), RetrievalMetrics.Percentile(ms, 95), lines.Count / Math.Max(wall.TotalSeconds, 1e-9)));
    }
}
