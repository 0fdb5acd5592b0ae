using System.CommandLine;
using LiteVL.Cli.Experiments;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl experiment temporal</c>: the paper's ablation in miniature (docs/evaluation.md).</summary>
internal static class ExperimentCommand
{
    public static Command Create(TextWriter output)
    {
        var work = new Option<string>("--work") { Description = "Working folder: the synthetic set, the frame cache, every variant's model and results.json (the set and frames are reused by later runs).", DefaultValueFactory = _ => ".litevl-experiment" };
        var reduced = new Option<bool>("--reduced") { Description = "The few-minute setting CI runs (fewer clips, 64 px, fewer epochs) instead of the full one." };
        var seed = new Option<int>("--seed") { Description = "Seed of the data, the initial weights and every training draw (1 made the shipped model).", DefaultValueFactory = _ => 1 };
        var doc = new Option<string?>("--doc") { Description = "Markdown file to write the table into, between its generated-section markers (e.g. docs/evaluation.md); the SVG charts go to an images/ folder beside it." };
        var ship = new Option<string?>("--ship") { Description = "Also write variant (d) with its video QA heads as config.json, fp16 weights.safetensors and vocab.txt to this folder (models/small is the embedded host's default model)." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per operator (0: one per core).", DefaultValueFactory = _ => 0 };
        var jobs = new Option<int>("--jobs") { Description = "How many of the fine-tuned variants (b), (c), (d) train at once; with --threads 1 each, 3 uses three cores best (the shipped model: --jobs 3 --threads 1).", DefaultValueFactory = _ => 1 };
        var positions = new Option<string>("--positions") { Description = "Patch positions the image pre-training starts from: random (default) or sincos (2D sine-cosine code; see litevl model init --positions).", DefaultValueFactory = _ => "random" }
            .AcceptOnlyFromAmong("random", "sincos");
        var scoreOnly = new Option<bool>("--score-only") { Description = "Score and report the variants an earlier run trained in --work, without training them again (video QA heads it lacks are trained first)." };
        var temporal = new Command("temporal", "LiteVL's temporal ablation end to end: render the synthetic motion set, pre-train a small image-text BLIP, import it, fine-tune (b) no temporal branch, (c) scaling fixed at 1, (d) dynamic temporal scaling, and score (a)–(f) on the test split (R@1/5/10, MdR, twin accuracy).")
        {
            work, reduced, seed, doc, ship, threads, jobs, scoreOnly, positions,
        };
        temporal.SetAction(async (p, ct) =>
        {
            var settings = (p.GetValue(reduced) ? ExperimentSettings.Reduced : ExperimentSettings.Full) with
            {
                Seed = p.GetValue(seed), Threads = p.GetValue(threads), Jobs = p.GetValue(jobs), SinCosPositions = p.GetValue(positions) == "sincos",
            };
            if (settings.Jobs < 1)
            {
                throw new ArgumentException($"--jobs {settings.Jobs}: give at least 1 (variants trained at once).");
            }

            string? docPath = p.GetValue(doc);
            if (docPath is not null && !File.Exists(docPath))
            {
                throw new FileNotFoundException($"--doc '{docPath}' does not exist; give the Markdown file to write the table into (e.g. docs/evaluation.md).", docPath);
            }

            output.WriteLine($"LiteVL temporal ablation · setting {settings.Name} · seed {settings.Seed} · work folder {Path.GetFullPath(p.GetValue(work)!)}");
            var experiment = new TemporalExperiment(settings, p.GetValue(work)!, output);
            var report = await experiment.RunAsync(ct, p.GetValue(scoreOnly)).ConfigureAwait(false);
            output.WriteLine();
            string? ablationSvg = null, scalingSvg = null;
            if (docPath is not null)
            {
                string images = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(docPath))!, "images");
                Directory.CreateDirectory(images);
                string suffix = settings.Name == ExperimentSettings.Full.Name ? string.Empty : "-" + settings.Name;
                ablationSvg = $"images/temporal-ablation{suffix}.svg";
                scalingSvg = $"images/temporal-scaling{suffix}.svg";
                File.WriteAllText(Path.Combine(images, Path.GetFileName(ablationSvg)), report.AblationSvg());
                File.WriteAllText(Path.Combine(images, Path.GetFileName(scalingSvg)), Model.Training.ScalingChart.Svg(report.LearnedScaling, "variant (d), litevl experiment temporal"));
                File.WriteAllText(docPath, AblationReport.Splice(File.ReadAllText(docPath), report.ToMarkdown(ablationSvg, scalingSvg)));
                output.WriteLine($"wrote the table to {Path.GetFullPath(docPath)} and the charts to {images}");
            }

            output.Write(report.ToMarkdown(null, null));
            if (p.GetValue(ship) is { } shipDir)
            {
                var shipped = experiment.Ship(shipDir, report);
                output.WriteLine($"shipped variant (d){(shipped.Qa is null ? string.Empty : " with video QA heads")} ({shipped.Version}, fp16 weights) to {Path.GetFullPath(shipDir)}"
                    + (shipped.RerankByDefault == false ? "; searches do not re-rank unless asked (rerank_by_default: false), because re-ranking (e) scored below the coarse ranking (d)" : string.Empty));
            }

            return 0;
        });
        return new Command("experiment", "Reproducible experiments that measure what the model claims.") { temporal, Score(output) };
    }

    /// <summary><c>litevl experiment score</c>: one model directory on one captioned set, in-process, with twin accuracy.</summary>
    private static Command Score(TextWriter output)
    {
        var model = CliOptions.ModelDir();
        var data = new Option<string>("--data") { Description = "Captioned set (JSON lines, e.g. a litevl data synth test.jsonl); the gallery is its videos.", Required = true };
        var cache = new Option<string?>("--frame-cache") { Description = "Folder for extracted frames (default: a temporary one)." };
        var candidates = new Option<int>("--candidates") { Description = "Coarse candidates the re-ranked rows re-score per query.", DefaultValueFactory = _ => 16 };
        var cmd = new Command("score", "Score a model directory on a captioned set in-process: coarse and re-ranked (TDP, no pooling) R@1/5/10, MdR and twin accuracy (each clip against its own frames reversed).")
        {
            model, data, cache, candidates,
        };
        cmd.SetAction(async (p, ct) =>
        {
            string dir = p.GetValue(model)!;
            var config = Model.Config.ModelConfig.Load(dir);
            string? temporary = p.GetValue(cache) is null ? Directory.CreateTempSubdirectory("litevl-score-").FullName : null;
            try
            {
                using var media = new Media.MediaToolchain();
                var set = await TrainCommand.LoadAsync(output, media, p.GetValue(data)!, null, p.GetValue(cache) ?? temporary!, config, ct).ConfigureAwait(false);
                using var probe = new RetrievalProbe(dir, set);
                var families = Families(p.GetValue(data)!);
                foreach (var (name, scores) in new[]
                {
                    ("coarse", probe.Coarse()),
                    ("re-ranked, TDP", probe.Reranked(Model.Config.PoolingMode.Tdp, p.GetValue(candidates))),
                    ("re-ranked, no pooling", probe.Reranked(Model.Config.PoolingMode.None, p.GetValue(candidates))),
                })
                {
                    output.WriteLine($"{name}: {scores.Describe()} · {scores.Retrieval.Queries} queries, {set.Clips.Count} clips");
                    if (families.Count > 0)
                    {
                        output.WriteLine("  twins by family: " + string.Join(" · ", scores.TwinsBy(q => families.GetValueOrDefault(set.Examples[q].Line))
                            .Select(g => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{g.Group} {g.Accuracy:F1} % ({g.Captions})"))));
                    }
                }
            }
            finally
            {
                if (temporary is not null)
                {
                    Directory.Delete(temporary, recursive: true);        // a temporary frame cache is not left behind
                }
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>The <c>"family"</c> (horizontal, vertical, size, order) of each line of a litevl data synth or tests/foreign set, by line number; empty when the set names none.</summary>
    private static Dictionary<int, string> Families(string dataFile)
    {
        var families = new Dictionary<int, string>();
        int line = 0;
        foreach (string text in File.ReadLines(dataFile))
        {
            line++;
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("family", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.String)
                {
                    families[line] = f.GetString()!;
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // A bad line is reported by the loader, which leaves it out; it has no family here either.
            }
        }

        return families;
    }
}
