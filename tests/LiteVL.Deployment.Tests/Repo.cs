using System.Diagnostics;

namespace LiteVL.Deployment.Tests;

/// <summary>Paths of the repository the tests run from, and the external tools some tests use when present.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>The six services that run as their own containers (docker-compose.yml, k8s/base), by deployment name.</summary>
    public static IReadOnlyDictionary<string, string> Services { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["upload-api"] = "LiteVL.UploadApi",
        ["frame-extractor"] = "LiteVL.FrameExtractor",
        ["encoder"] = "LiteVL.Encoder",
        ["indexer"] = "LiteVL.Indexer",
        ["query-api"] = "LiteVL.QueryApi",
        ["dashboard"] = "LiteVL.Dashboard",
    };

    /// <summary>The services that run the model on a GPU.</summary>
    public static IReadOnlyList<string> GpuServices { get; } = ["encoder", "query-api"];

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LiteVL.Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No LiteVL.Platform.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs a program in the repository root; returns its standard output, or throws with its standard error.</summary>
    public static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past 2 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }
}
