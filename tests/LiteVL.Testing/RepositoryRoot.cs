namespace LiteVL.Testing;

/// <summary>The repository the tests run from: the first folder above the test binaries that holds LiteVL.Platform.sln.</summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The repository root's full path.</summary>
    /// <exception cref="InvalidOperationException">No LiteVL.Platform.sln above the test binaries.</exception>
    public static string Path => Root.Value;

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "LiteVL.Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No LiteVL.Platform.sln above {AppContext.BaseDirectory}: the tests must run from the repository's build output.");
    }
}
