using LiteVL.Testing;

namespace LiteVL.Deployment.Tests;

/// <summary>Paths of the repository the tests run from, and how to run the external tools some tests use.</summary>
internal static class Repo
{
    public static string Root => RepositoryRoot.Path;

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

    /// <summary>The services that read the model directory: the GPU services, and the dashboard (its temporal-scaling chart).</summary>
    public static IReadOnlyList<string> ModelServices { get; } = [.. GpuServices, "dashboard"];

    /// <summary>The image template of the CPU services and the CLI (the project is the build argument PROJECT).</summary>
    public const string CpuDockerfile = "deploy/docker/Dockerfile";

    /// <summary>The image template of the GPU services.</summary>
    public const string GpuDockerfile = "deploy/docker/Dockerfile.gpu";

    /// <summary>Both image templates.</summary>
    public static IReadOnlyList<string> Dockerfiles { get; } = [CpuDockerfile, GpuDockerfile];

    /// <summary>The template a compose service (or the CLI's model-init) is built from.</summary>
    public static string DockerfileOf(string service) => GpuServices.Contains(service) ? GpuDockerfile : CpuDockerfile;

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>Runs a program in the repository root; returns its standard output, or throws with its standard error.</summary>
    public static string Run(string program, params string[] arguments) => Run(TimeSpan.FromMinutes(2), program, arguments);

    /// <inheritdoc cref="Run(string, string[])"/>
    public static string Run(TimeSpan limit, string program, params string[] arguments)
    {
        var run = Programs.Run(program, arguments, Root, limit);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {run.ExitCode}: {run.Error}");
        }

        return run.Output;
    }
}
