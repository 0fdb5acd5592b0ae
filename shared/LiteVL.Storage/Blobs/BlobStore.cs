using System.Text.RegularExpressions;

namespace LiteVL.Storage.Blobs;

/// <summary>
/// Originals, frames, thumbnails and video tokens, addressed by relative keys such as
/// <c>frames/{video}/00003.rgb</c>. The directory implementation is the default (a shared volume in compose/k8s).
/// </summary>
public interface IBlobStore
{
    /// <summary>Writes through a temporary file and renames it into place: readers never see half a blob.</summary>
    Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken ct = default);

    /// <summary>Starts a write whose fate is decided later (streaming uploads): commit renames it, dispose deletes it.</summary>
    PendingBlob BeginWrite(string key);

    Stream OpenRead(string key);

    bool Exists(string key);

    long Length(string key);

    /// <summary>Local file path of a blob, for tools that need one (ffmpeg).</summary>
    string LocalPath(string key);

    /// <summary>Deletes a blob or, for a key ending in '/', everything under it. Returns how many files went.</summary>
    int Delete(string keyOrPrefix);
}

/// <summary>A blob being written; becomes visible only on <see cref="Commit"/>.</summary>
public sealed class PendingBlob : IAsyncDisposable, IDisposable
{
    private readonly string _tempPath;
    private readonly string _finalPath;
    private bool _committed;

    internal PendingBlob(string key, string tempPath, string finalPath)
    {
        Key = key;
        _tempPath = tempPath;
        _finalPath = finalPath;
        Stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
    }

    public string Key { get; }

    public Stream Stream { get; }

    public async Task CommitAsync()
    {
        await Stream.FlushAsync().ConfigureAwait(false);
        await Stream.DisposeAsync().ConfigureAwait(false);
        File.Move(_tempPath, _finalPath, overwrite: true);
        _committed = true;
    }

    public Task Commit() => CommitAsync();

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        Cleanup();
    }

    public void Dispose()
    {
        Stream.Dispose();
        Cleanup();
    }

    private void Cleanup()
    {
        if (!_committed && File.Exists(_tempPath))
        {
            File.Delete(_tempPath);
        }
    }
}

/// <summary>The blob store on a local (or shared, mounted) directory.</summary>
public sealed partial class DirectoryBlobStore : IBlobStore
{
    private readonly string _root;

    public DirectoryBlobStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    public string Root => _root;

    public async Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        await using var pending = BeginWrite(key);
        await write(pending.Stream, ct).ConfigureAwait(false);
        await pending.CommitAsync().ConfigureAwait(false);
    }

    public PendingBlob BeginWrite(string key)
    {
        string path = LocalPath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new PendingBlob(key, $"{path}.{Guid.NewGuid():N}.tmp", path);
    }

    public Stream OpenRead(string key) =>
        new FileStream(LocalPath(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);

    public bool Exists(string key) => File.Exists(LocalPath(key));

    public long Length(string key) => new FileInfo(LocalPath(key)).Length;

    public string LocalPath(string key)
    {
        ValidateKey(key);
        return Path.Combine(_root, key.TrimEnd('/'));
    }

    public int Delete(string keyOrPrefix)
    {
        string path = LocalPath(keyOrPrefix);
        if (keyOrPrefix.EndsWith('/'))
        {
            if (!Directory.Exists(path))
            {
                return 0;
            }

            int count = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Count();
            Directory.Delete(path, recursive: true);
            return count;
        }

        if (!File.Exists(path))
        {
            return 0;
        }

        File.Delete(path);
        return 1;
    }

    /// <summary>Keys are relative, made of safe segments: no '..', no absolute paths, no odd characters.</summary>
    private static void ValidateKey(string key)
    {
        if (string.IsNullOrEmpty(key) || !KeyPattern().IsMatch(key) || key.Split('/').Any(s => s is "." or ".."))
        {
            throw new ArgumentException($"Invalid blob key '{key}'.", nameof(key));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.\\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\\-]*)*/?$")]
    private static partial Regex KeyPattern();
}

/// <summary>The blob keys of the platform, in one place.</summary>
public static class BlobKeys
{
    public static string Original(string tenantId, Guid videoId) => $"originals/{tenantId}/{videoId:N}";

    /// <summary>Everything the frame extractor writes for a video: frames/ and thumbs/ below it.</summary>
    public static string MediaPrefix(Guid videoId) => $"media/{videoId:N}/";

    public static string FramesPrefix(Guid videoId) => MediaPrefix(videoId);

    public static string Frames(Guid videoId, int segment) => $"media/{videoId:N}/frames/{segment:D5}.rgb";

    public static string Thumbnail(Guid videoId, int segment) => $"media/{videoId:N}/thumbs/{segment:D5}.jpg";

    public static string FeaturesPrefix(Guid videoId) => $"features/{videoId:N}/";

    public static string Tokens(Guid videoId, string modelVersion, int segment) => $"features/{videoId:N}/{modelVersion}/{segment:D5}.f16";
}
