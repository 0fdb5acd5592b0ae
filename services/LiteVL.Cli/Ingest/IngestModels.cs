namespace LiteVL.Cli.Ingest;

/// <summary>One video to ingest: a local file (possibly extracted from an archive) with its title and tags.</summary>
/// <param name="Path">Absolute path of the file to upload.</param>
/// <param name="Title">Title sent with the upload.</param>
/// <param name="Tags">Tags sent with the upload.</param>
/// <param name="Source">How the user named it: the path, or <c>archive.zip!inner/path</c>, or <c>manifest.csv:3</c>.</param>
public sealed record IngestItem(string Path, string Title, IReadOnlyList<string> Tags, string Source);

/// <summary>Something named on the command line that will not be uploaded, with the local reason.</summary>
public sealed record LocalRejection(string Source, string Reason);

/// <summary>What happened to one item.</summary>
public enum IngestOutcomeKind
{
    /// <summary>Sent and accepted as a new video (202, duplicate: false).</summary>
    Uploaded,

    /// <summary>The server already had it (202, duplicate: true), or it appeared twice in this run.</summary>
    Duplicate,

    /// <summary>The state file says an earlier run uploaded it: not sent again.</summary>
    Resumed,

    /// <summary>Refused by the server (4xx ProblemDetails) or locally (unsafe archive entry, missing file...).</summary>
    Rejected,
}

/// <summary>The result for one item.</summary>
public sealed record IngestOutcome(string Source, IngestOutcomeKind Kind, string? VideoId, string? Sha256, long Bytes, string? Reason);

/// <summary>Everything collected from the command-line paths.</summary>
public sealed class IngestPlan : IDisposable
{
    private readonly List<string> _tempDirectories = [];

    public List<IngestItem> Items { get; } = [];

    public List<LocalRejection> Rejections { get; } = [];

    /// <summary>Temporary folders holding extracted archive entries; deleted by <see cref="Dispose"/>.</summary>
    public IReadOnlyList<string> TempDirectories => _tempDirectories;

    internal void AddTempDirectory(string path) => _tempDirectories.Add(path);

    public void Dispose()
    {
        foreach (string dir in _tempDirectories)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp folder left behind is not worth failing the run for.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        _tempDirectories.Clear();
    }
}
