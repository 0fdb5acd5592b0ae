namespace LiteVL.Deployment.Tests;

/// <summary>An environment variable a deployment file sets, with its value where the file holds one, and where it is.</summary>
internal sealed record EnvironmentVariable(string Name, string? Value, string Origin)
{
    public bool IsLiteVL => Name.StartsWith("LiteVL__", StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with every LiteVL__ variable of the list (empty when all bind).</summary>
    public static List<string> Problems(IEnumerable<EnvironmentVariable> variables) =>
        [.. variables.Where(v => v.IsLiteVL)
            .Select(v => ConfigurationBinding.Check(v.Name, v.Value) is { } problem ? $"{v.Origin}: {problem}" : null)
            .OfType<string>()];
}
