namespace LiteVL.Cli.Tests.Ingest;

/// <summary>A real temporary folder, deleted afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Root = Directory.CreateTempSubdirectory("litevl-ingest-test-").FullName;

    public string Root { get; }

    public string File(string relative, string content = "video bytes")
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
