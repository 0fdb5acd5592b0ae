using System.Text.RegularExpressions;

namespace LiteVL.Deployment.Tests;

/// <summary>docker-compose.yml read as docker compose reads it: YAML with merge keys, then ${VAR:-default} interpolation.</summary>
internal sealed partial class Compose
{
    public Compose(string text, string origin = "docker-compose.yml")
    {
        Origin = origin;
        Root = Yaml.Load(text) ?? throw new InvalidOperationException($"{origin} is empty.");
    }

    public string Origin { get; }

    public object Root { get; }

    public IEnumerable<KeyValuePair<string, object?>> Services => Root.At("services").Entries();

    public object? Service(string name) => Root.At("services", name);

    /// <summary>Compose's interpolation with no variable set: ${VAR:-default} and ${VAR-default} give the default, $$ a $.</summary>
    public static string Interpolate(string text) =>
        Interpolation().Replace(text, m => m.Value == "$$" ? "$" : m.Groups["default"].Success ? m.Groups["default"].Value : "");

    [GeneratedRegex(@"\$\$|\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?<default>[^}]*))?\}")]
    private static partial Regex Interpolation();

    public static IEnumerable<EnvironmentVariable> Environment(string serviceName, object? service, string origin)
    {
        var environment = service.At("environment");
        if (environment.Map() is not null)
        {
            foreach (var (name, value) in environment.Entries())
            {
                yield return new EnvironmentVariable(name, value.Str() is { } v ? Interpolate(v) : null, $"{origin} services.{serviceName}.environment");
            }
        }
        else
        {
            foreach (string item in environment.Seq().Select(i => i.Str() ?? ""))
            {
                int eq = item.IndexOf('=', StringComparison.Ordinal);
                yield return new EnvironmentVariable(eq < 0 ? item : item[..eq], eq < 0 ? null : Interpolate(item[(eq + 1)..]), $"{origin} services.{serviceName}.environment");
            }
        }
    }

    public IEnumerable<EnvironmentVariable> AllEnvironment() => Services.SelectMany(s => Environment(s.Key, s.Value, Origin));

    /// <summary>The volume mounts of a service as (source, target) pairs, short or long syntax.</summary>
    public static IEnumerable<(string Source, string Target)> Mounts(object? service)
    {
        foreach (var volume in service.At("volumes").Seq())
        {
            if (volume.Str() is { } shortSyntax)
            {
                string[] parts = shortSyntax.Split(':');
                if (parts.Length >= 2)
                {
                    yield return (parts[0], parts[1]);
                }
            }
            else
            {
                yield return (volume.At("source").Str() ?? "", volume.At("target").Str() ?? "");
            }
        }
    }
}
