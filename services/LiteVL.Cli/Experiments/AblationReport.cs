using System.Globalization;
using System.Text;
using System.Text.Json;
using LiteVL.Cli.Evaluation;

namespace LiteVL.Cli.Experiments;

/// <summary>One row of the ablation: a variant, how it was made and scored, and what it scored.</summary>
public sealed record AblationRow(string Key, string Variant, string Training, string Scoring, ProbeScores Scores);

/// <summary>Video QA accuracy of QA heads trained on one variant's video tokens: per question type, both modes.</summary>
public sealed record QaAblationRow(string Key, string Variant, IReadOnlyList<Commands.QaTypeScore> Scores);

/// <summary>The ablation as the paper's table (Markdown) and charts (SVG), written into docs/evaluation.md.</summary>
public sealed record AblationReport(
    string Command, string Setup, IReadOnlyList<AblationRow> Rows, IReadOnlyList<double> LearnedScaling, IReadOnlyList<string> Notes)
{
    /// <summary>The video QA table (heads trained on (a) and (d)); empty when the run had no QA data.</summary>
    public IReadOnlyList<QaAblationRow> QaRows { get; init; } = [];

    /// <summary>How the QA heads were trained and scored, for the text above the QA table.</summary>
    public string? QaSetup { get; init; }

    public const string BeginMarker = "<!-- litevl experiment temporal: begin (generated; edits between the markers are overwritten) -->";
    public const string EndMarker = "<!-- litevl experiment temporal: end -->";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public AblationRow Row(string key) => Rows.Single(r => r.Key == key);

    /// <summary>The Markdown section: command, setup, the table, the chart references and the notes.</summary>
    public string ToMarkdown(string? ablationSvg, string? scalingSvg)
    {
        var sb = new StringBuilder();
        sb.AppendLine(BeginMarker);
        sb.AppendLine();
        sb.AppendLine("```bash");
        sb.AppendLine(Command);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(Setup);
        sb.AppendLine();
        sb.AppendLine("| | variant | trained | scored by | R@1 | R@5 | R@10 | MdR | twin accuracy |");
        sb.AppendLine("|---|---|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
        {
            var s = r.Scores.Retrieval;
            string twin = string.Create(Inv, $"{r.Scores.Twin:F1} %") + (r.Scores.TwinTies > 0 ? $" ({r.Scores.TwinTies}/{r.Scores.TwinPairs} ties)" : string.Empty);
            sb.AppendLine(string.Create(Inv, $"| ({r.Key}) | {r.Variant} | {r.Training} | {r.Scoring} | {s.RecallAt1:F1} | {s.RecallAt5:F1} | {s.RecallAt10:F1} | {s.MedianRank:0.#} | {twin} |"));
        }

        sb.AppendLine();
        if (ablationSvg is not null)
        {
            sb.AppendLine($"![R@1 and twin accuracy per variant]({ablationSvg})");
            sb.AppendLine();
        }

        if (LearnedScaling.Count > 0)
        {
            sb.AppendLine("Learned dynamic temporal scaling of (d), 1 + tanh α averaged over the frame slots of each layer: "
                + string.Join(" · ", LearnedScaling.Select((v, i) => string.Create(Inv, $"layer {i}: {v:F3}"))) + ".");
            sb.AppendLine();
            if (scalingSvg is not null)
            {
                sb.AppendLine($"![Learned per-layer temporal scaling of (d)]({scalingSvg})");
                sb.AppendLine();
            }
        }

        if (QaRows.Count > 0)
        {
            sb.AppendLine("**Video QA.** " + QaSetup);
            sb.AppendLine();
            var types = QaRows[0].Scores.Select(t => t.Type).ToList();
            sb.AppendLine("| question type | questions | " + string.Join(" | ", QaRows.Select(r => $"({r.Key}) {r.Variant}: rank")) + " | " + string.Join(" | ", QaRows.Select(r => $"({r.Key}): generate")) + " |");
            sb.AppendLine("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", 2 * QaRows.Count)));
            foreach (string type in types)
            {
                var cells = QaRows.Select(r => r.Scores.Single(t => t.Type == type)).ToList();
                string name = type == "all" ? "**all**" : type;
                sb.AppendLine(string.Create(Inv, $"| {name} | {cells[0].Questions} | ") + string.Join(" | ", cells.Select(c => string.Create(Inv, $"{c.RankAccuracy:F1} %"))) + " | " + string.Join(" | ", cells.Select(c => string.Create(Inv, $"{c.GenerateAccuracy:F1} %"))) + " |");
            }

            sb.AppendLine();
        }

        foreach (var note in Notes)
        {
            sb.AppendLine("- " + note);
        }

        if (Notes.Count > 0)
        {
            sb.AppendLine();
        }

        sb.AppendLine(EndMarker);
        return sb.ToString();
    }

    /// <summary>Puts <paramref name="section"/> between the markers of <paramref name="document"/>, or appends it under a heading when they are absent.</summary>
    public static string Splice(string document, string section)
    {
        ArgumentNullException.ThrowIfNull(document);
        int begin = document.IndexOf(BeginMarker, StringComparison.Ordinal);
        int end = document.IndexOf(EndMarker, StringComparison.Ordinal);
        if (begin >= 0 && end > begin)
        {
            return document[..begin] + section.TrimEnd('\n') + document[(end + EndMarker.Length)..];
        }

        return document.TrimEnd('\n') + "\n\n## The temporal ablation (`litevl experiment temporal`)\n\n" + section;
    }

    /// <summary>Grouped bars: R@1 and twin accuracy (percent) of every variant, with the 50 % chance line of twins.</summary>
    public string AblationSvg()
    {
        const int Left = 60, Top = 40, Height = 220, GroupWidth = 90, Bar = 30;
        int width = Left + (Rows.Count * GroupWidth) + 20;
        var sb = new StringBuilder();
        sb.Append(string.Create(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{Top + Height + 70}\" viewBox=\"0 0 {width} {Top + Height + 70}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        sb.Append("<title>Temporal ablation: text-to-video R@1 and twin accuracy per variant</title>\n");
        sb.Append(string.Create(Inv, $"<text x=\"{Left}\" y=\"20\" font-size=\"14\">R@1 (blue) and twin accuracy (orange), % — test split</text>\n"));
        for (int tick = 0; tick <= 100; tick += 25)
        {
            double y = Top + Height - (tick / 100.0 * Height);
            sb.Append(string.Create(Inv, $"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{width - 20}\" y2=\"{y:F1}\" stroke=\"#ddd\"/><text x=\"{Left - 8}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{tick}</text>\n"));
        }

        double chance = Top + Height - (0.5 * Height);
        sb.Append(string.Create(Inv, $"<line x1=\"{Left}\" y1=\"{chance:F1}\" x2=\"{width - 20}\" y2=\"{chance:F1}\" stroke=\"#c60\" stroke-dasharray=\"4 3\"/>\n"));
        for (int i = 0; i < Rows.Count; i++)
        {
            var r = Rows[i];
            double x = Left + 10 + (i * GroupWidth);
            double r1 = r.Scores.Retrieval.RecallAt1, twin = r.Scores.Twin;
            sb.Append(BarRect(x, r1, "#3a6fb0", Top, Height, Bar));
            sb.Append(BarRect(x + Bar + 4, twin, "#e08a2c", Top, Height, Bar));
            sb.Append(string.Create(Inv, $"<text x=\"{x + Bar + 2:F1}\" y=\"{Top + Height + 18}\" text-anchor=\"middle\" font-weight=\"bold\">({r.Key})</text>\n"));
            sb.Append(string.Create(Inv, $"<text x=\"{x + Bar + 2:F1}\" y=\"{Top + Height + 34}\" text-anchor=\"middle\" font-size=\"10\">{Escape(Short(r.Variant))}</text>\n"));
        }

        sb.Append("</svg>\n");
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(
        new
        {
            command = Command,
            rows = Rows.Select(r => new
            {
                key = r.Key,
                variant = r.Variant,
                training = r.Training,
                scoring = r.Scoring,
                r1 = r.Scores.Retrieval.RecallAt1,
                r5 = r.Scores.Retrieval.RecallAt5,
                r10 = r.Scores.Retrieval.RecallAt10,
                mdr = r.Scores.Retrieval.MedianRank,
                queries = r.Scores.Retrieval.Queries,
                twin = r.Scores.Twin,
                twin_pairs = r.Scores.TwinPairs,
                twin_ties = r.Scores.TwinTies,
            }),
            learned_scaling = LearnedScaling,
            qa = QaRows.Select(r => new
            {
                key = r.Key,
                variant = r.Variant,
                types = r.Scores.Select(t => new { type = t.Type, questions = t.Questions, rank = t.RankAccuracy, generate = t.GenerateAccuracy }),
            }),
        },
        JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static string BarRect(double x, double percent, string colour, int top, int height, int width)
    {
        double h = Math.Clamp(percent, 0, 100) / 100.0 * height;
        return string.Create(Inv, $"<rect x=\"{x:F1}\" y=\"{top + height - h:F1}\" width=\"{width}\" height=\"{h:F1}\" fill=\"{colour}\"><title>{percent:F1} %</title></rect><text x=\"{x + (width / 2.0):F1}\" y=\"{top + height - h - 4:F1}\" text-anchor=\"middle\" font-size=\"10\">{percent:F0}</text>\n");
    }

    private static string Short(string variant) => variant.Length <= 16 ? variant : variant[..15] + "…";

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
