using System.Xml.Linq;

namespace LiteVL.Deployment.Tests;

/// <summary>
/// The project graph of docs/architecture: services share code through shared/ libraries, never through each other,
/// and the service defaults stay generic plumbing, so a service that does not run the model does not load ONNX Runtime.
/// </summary>
public class ArchitectureTests
{
    /// <summary>The all-in-one host composes the services; it is the one project under services/ that may reference them.</summary>
    private const string Host = "services/LiteVL.Host/LiteVL.Host.csproj";

    public static TheoryData<string> ServiceProjects() => [.. ServiceProjectPaths()];

    [Theory]
    [MemberData(nameof(ServiceProjects))]
    public void A_service_references_no_other_service(string project)
    {
        var services = References(project).Where(r => r.StartsWith("services/", StringComparison.Ordinal)).ToList();
        Assert.True(services.Count == 0, $"{project} references {string.Join(", ", services)}: move the shared code into a library under shared/.");
    }

    [Fact]
    public void Every_service_is_covered()
    {
        // Found by listing services/, so a new service is checked as soon as it exists; these must be among them.
        var found = ServiceProjectPaths().Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.All(Repo.Services.Values.Append("LiteVL.Cli"), s => Assert.Contains(s, found));
    }

    [Fact]
    public void The_service_defaults_reference_no_model_vector_index_or_pipeline_code()
    {
        const string defaults = "shared/LiteVL.ServiceDefaults/LiteVL.ServiceDefaults.csproj";
        var closure = Closure(defaults);
        var forbidden = closure.Where(p => Path.GetFileNameWithoutExtension(p) is var name
            && (name.StartsWith("LiteVL.Model", StringComparison.Ordinal) || name.StartsWith("LiteVL.VectorIndex", StringComparison.Ordinal) || name == "LiteVL.Pipeline")).ToList();
        Assert.True(forbidden.Count == 0, $"{defaults} reaches {string.Join(", ", forbidden)}: keep it to generic plumbing (health, auth, telemetry, logging, messaging).");
        Assert.DoesNotContain(closure.SelectMany(PackageReferences), p => p.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal));
    }

    /// <summary>Every project under services/ but the host, found by listing the folder.</summary>
    private static IEnumerable<string> ServiceProjectPaths() =>
        Directory.GetDirectories(Repo.PathOf("services")).Select(d => $"services/{Path.GetFileName(d)}/{Path.GetFileName(d)}.csproj")
            .Where(p => File.Exists(Repo.PathOf(p)) && p != Host).Order(StringComparer.Ordinal);

    /// <summary>The repository-relative paths of the projects <paramref name="project"/> references directly.</summary>
    private static List<string> References(string project) =>
        [.. XDocument.Parse(Repo.Read(project)).Descendants("ProjectReference").Select(r =>
        {
            string include = ((string?)r.Attribute("Include") ?? "").Replace('\\', '/');
            string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Repo.PathOf(project))!, include));
            return Path.GetRelativePath(Repo.Root, full).Replace('\\', '/');
        })];

    private static IEnumerable<string> PackageReferences(string project) =>
        XDocument.Parse(Repo.Read(project)).Descendants("PackageReference").Select(r => (string?)r.Attribute("Include") ?? "");

    /// <summary>The project and everything it references, transitively.</summary>
    private static HashSet<string> Closure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>([project]);
        while (pending.TryDequeue(out string? current))
        {
            if (seen.Add(current))
            {
                References(current).ForEach(pending.Enqueue);
            }
        }

        return seen;
    }
}
