using LiteVL.Model;
using LiteVL.Testing;

namespace LiteVL.Cli.Tests;

/// <summary>The repository's shipped default model (models/small), copied to a test folder and given its fp32 graphs.</summary>
internal static class ShippedModel
{
    public static string CopyWithGraphs(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "models", "small")).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        ModelDirectory.BuildGraphs(dir, fp16: false);
        return dir;
    }
}
