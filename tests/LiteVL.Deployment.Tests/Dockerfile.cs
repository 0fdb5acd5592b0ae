using System.Text.RegularExpressions;

namespace LiteVL.Deployment.Tests;

/// <summary>A Dockerfile as its instructions (continuation lines joined, comments dropped).</summary>
internal sealed partial class Dockerfile
{
    public Dockerfile(string text, string origin)
    {
        Origin = origin;
        var logical = new List<string>();
        string pending = "";
        foreach (string raw in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            logical.Add(pending + line);
            pending = "";
        }

        if (pending.Length > 0)
        {
            logical.Add(pending);
        }

        Instructions = [.. logical.Where(l => l.Length > 0).Select(l =>
        {
            int space = l.IndexOf(' ', StringComparison.Ordinal);
            return space < 0 ? (l.ToUpperInvariant(), "") : (l[..space].ToUpperInvariant(), l[(space + 1)..].Trim());
        })];
    }

    public string Origin { get; }

    public List<(string Keyword, string Arguments)> Instructions { get; }

    /// <summary>ARG defaults declared before the first FROM (those FROM lines may use).</summary>
    public Dictionary<string, string> GlobalArgs =>
        Instructions.TakeWhile(i => i.Keyword != "FROM").Where(i => i.Keyword == "ARG" && i.Arguments.Contains('=', StringComparison.Ordinal))
            .ToDictionary(i => i.Arguments[..i.Arguments.IndexOf('=', StringComparison.Ordinal)], i => i.Arguments[(i.Arguments.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim('"'));

    /// <summary>Each stage's image (ARGs resolved) and name.</summary>
    public List<(string Image, string? Name)> Stages
    {
        get
        {
            var args = GlobalArgs;
            return [.. Instructions.Where(i => i.Keyword == "FROM").Select(i =>
            {
                string[] words = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToArray();
                string image = ArgReference().Replace(words[0], m => args.GetValueOrDefault(m.Groups[1].Value + m.Groups[2].Value) ?? m.Value);
                return (image, words.Length >= 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2] : (string?)null);
            })];
        }
    }

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ArgReference();

    /// <summary>Instructions of the final stage.</summary>
    public List<(string Keyword, string Arguments)> FinalStage =>
        [.. Instructions.Skip(Instructions.FindLastIndex(i => i.Keyword == "FROM"))];

    /// <summary>ENV variables (ENV A=B C=D, or the legacy ENV A B).</summary>
    public IEnumerable<EnvironmentVariable> Environment()
    {
        foreach (var (keyword, arguments) in Instructions.Where(i => i.Keyword == "ENV"))
        {
            var pairs = EnvPair().Matches(arguments);
            if (pairs.Count == 0)
            {
                int space = arguments.IndexOf(' ', StringComparison.Ordinal);
                yield return new EnvironmentVariable(space < 0 ? arguments : arguments[..space], space < 0 ? null : arguments[(space + 1)..].Trim(), $"{Origin} {keyword}");
                continue;
            }

            foreach (Match pair in pairs)
            {
                yield return new EnvironmentVariable(pair.Groups["name"].Value, pair.Groups["value"].Value.Trim('"'), $"{Origin} {keyword}");
            }
        }
    }

    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_]*)=(?<value>""[^""]*""|\S*)")]
    private static partial Regex EnvPair();
}

internal static class DockerfileChecks
{
    public static List<string> All(Dockerfile file, bool service)
    {
        var problems = new List<string>();
        var stages = file.Stages;
        var stageNames = stages.Select(s => s.Name).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (stages.Count < 2)
        {
            problems.Add($"{file.Origin}: not multi-stage (one FROM)");
        }

        foreach (var (image, _) in stages.Where(s => !stageNames.Contains(s.Image)))
        {
            if (Images.PinProblem(image) is { } problem)
            {
                problems.Add($"{file.Origin}: FROM {problem}");
            }
        }

        if (!file.Instructions.Any(i => i.Keyword == "COPY" && i.Arguments.Contains("--from=", StringComparison.Ordinal)))
        {
            problems.Add($"{file.Origin}: the final stage copies nothing from a build stage");
        }

        var final = file.FinalStage;
        string? user = final.LastOrDefault(i => i.Keyword == "USER").Arguments;
        if (user is null)
        {
            problems.Add($"{file.Origin}: the final stage sets no USER (it would run as root)");
        }
        else if (user.Split(':')[0] is "root" or "0" || user.Length == 0)
        {
            problems.Add($"{file.Origin}: USER {user} is root");
        }

        string? healthcheck = final.LastOrDefault(i => i.Keyword == "HEALTHCHECK").Arguments;
        if (healthcheck is null)
        {
            problems.Add($"{file.Origin}: no HEALTHCHECK");
        }
        else if (service && !(healthcheck.Contains("http://127.0.0.1:8080/health/ready", StringComparison.Ordinal) || healthcheck.Contains("http://127.0.0.1:8080/health/live", StringComparison.Ordinal)))
        {
            problems.Add($"{file.Origin}: HEALTHCHECK does not ask /health/ready or /health/live on port 8080 ({healthcheck})");
        }

        if (service && healthcheck is not null && !healthcheck.Contains("NONE", StringComparison.Ordinal))
        {
            // The probe's program must be in the image: installed in the final stage.
            string tool = healthcheck.Contains("wget", StringComparison.Ordinal) ? "wget" : healthcheck.Contains("curl", StringComparison.Ordinal) ? "curl" : "";
            if (tool.Length == 0 || !final.Any(i => i.Keyword == "RUN" && i.Arguments.Contains("install", StringComparison.Ordinal) && i.Arguments.Contains($" {tool}", StringComparison.Ordinal)))
            {
                problems.Add($"{file.Origin}: HEALTHCHECK uses '{tool}', which the final stage does not install");
            }
        }

        return problems;
    }
}
