using System.Collections.Concurrent;
using System.Text;

namespace LiteVL.VectorIndex;

/// <summary>Settings of <see cref="EmbeddedVectorIndex"/>.</summary>
public sealed record EmbeddedVectorIndexOptions
{
    /// <summary>Flush every log append to the disk (fsync) before acknowledging it. Default <c>true</c>.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>Compact (snapshot + fresh log) once a collection's log exceeds this many bytes. Default 256 MiB.</summary>
    public long CompactAfterLogBytes { get; init; } = 256L << 20;

    /// <summary>Threads one search may scan with (partitions of at least 16,384 rows each). Default 1.</summary>
    public int SearchParallelism { get; init; } = 1;
}

/// <summary>
/// The embedded mode's exact vector index: a brute-force SIMD scan (<see cref="System.Numerics.Tensors.TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>)
/// over all vectors of a collection, stored contiguously, with the filter applied during the scan and a bounded min-heap
/// for the top-k. Persisted under one directory:
/// <c>litevl_&lt;version&gt;.log</c> / <c>.snapshot</c> per model version and an <c>active</c> file naming the
/// active version (see <see cref="EmbeddedCollection"/> for the format, crash safety and locking).
/// Thread-safe: concurrent searches, writes serialised per collection.
/// </summary>
/// <remarks>A directory must be opened by one <see cref="EmbeddedVectorIndex"/> at a time (one process).</remarks>
public sealed class EmbeddedVectorIndex : IVectorIndex, IDisposable
{
    private const string FilePrefix = "litevl_";
    private const string ActiveFile = "active";

    private readonly ConcurrentDictionary<string, EmbeddedCollection> _collections = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _registry = new(1, 1);
    private readonly EmbeddedVectorIndexOptions _options;
    private bool _disposed;

    /// <summary>Opens (creating if needed) the index stored in <paramref name="directory"/>. Collections load lazily, on first use.</summary>
    public EmbeddedVectorIndex(string directory, EmbeddedVectorIndexOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
        _options = options ?? new EmbeddedVectorIndexOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.SearchParallelism, 1, nameof(options));
        System.IO.Directory.CreateDirectory(Directory);
        File.Delete(Path.Combine(Directory, ActiveFile + ".tmp"));
    }

    /// <summary>The index directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>Opens the index stored in <paramref name="directory"/>.</summary>
    public static EmbeddedVectorIndex Open(string directory, EmbeddedVectorIndexOptions? options = null) => new(directory, options);

    public async Task EnsureCollectionAsync(string modelVersion, int dimensions, CancellationToken ct = default)
    {
        ModelVersions.Validate(modelVersion);
        VectorValidation.Dimensions(dimensions);
        var existing = await FindAsync(modelVersion, ct).ConfigureAwait(false);
        if (existing is null)
        {
            await _registry.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                existing = await FindAsync(modelVersion, ct, registryHeld: true).ConfigureAwait(false);
                if (existing is null)
                {
                    var created = EmbeddedCollection.Create(BasePath(modelVersion), modelVersion, dimensions, _options);
                    _collections[ModelVersions.Sanitise(modelVersion)] = created;
                    return;
                }
            }
            finally
            {
                _registry.Release();
            }
        }

        if (existing.Dimensions != dimensions)
        {
            throw new InvalidOperationException(
                $"The collection of model version '{modelVersion}' exists with {existing.Dimensions} dimensions, not {dimensions}.");
        }
    }

    public async Task ActivateAsync(string modelVersion, CancellationToken ct = default)
    {
        _ = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        await _registry.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // temp + fsync + rename: the switch is atomic, readers see the old or the new version, never a torn name.
            var path = Path.Combine(Directory, ActiveFile);
            var tmp = path + ".tmp";
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fs.Write(Encoding.UTF8.GetBytes(modelVersion));
                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            _registry.Release();
        }
    }

    public async Task<string?> GetActiveVersionAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var path = Path.Combine(Directory, ActiveFile);
        try
        {
            var text = await File.ReadAllTextAsync(path, Encoding.UTF8, ct).ConfigureAwait(false);
            return text.Length == 0 ? null : text;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public async Task UpsertAsync(string modelVersion, IReadOnlyList<VectorPoint> points, CancellationToken ct = default)
    {
        var collection = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        VectorValidation.Points(points, collection.Dimensions, modelVersion);
        if (points.Count == 0)
        {
            return;
        }

        var rows = new EmbeddedRow[points.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var p = points[i];
            rows[i] = new EmbeddedRow(
                PointIds.For(p.VideoId, p.SegmentIndex, modelVersion), p.VideoId, p.SegmentIndex, p.TenantId, p.Start, p.End, p.Title,
                p.Tags is null ? [] : [.. p.Tags], UploadedTicks(p.UploadedAt), VectorValidation.Normalised(p.Vector));
        }

        await collection.UpsertAsync(rows, ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<VectorHit>> SearchAsync(string modelVersion, ReadOnlyMemory<float> query, int limit, VectorFilter filter, CancellationToken ct = default)
    {
        var collection = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        return Search(collection, query.Span, limit, filter);
    }

    /// <summary>Synchronous search (the scan is CPU-bound): for hot paths and benchmarks.</summary>
    public IReadOnlyList<VectorHit> Search(string modelVersion, ReadOnlySpan<float> query, int limit, VectorFilter filter)
    {
        ModelVersions.Validate(modelVersion);
        var collection = FindLoaded(modelVersion) ?? GetAsync(modelVersion, CancellationToken.None).GetAwaiter().GetResult();
        return Search(collection, query, limit, filter);
    }

    public async Task<int> DeleteVideoAsync(string modelVersion, Guid videoId, CancellationToken ct = default)
    {
        var collection = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        return await collection.DeleteVideoAsync(videoId, ct).ConfigureAwait(false);
    }

    public async Task<long> CountAsync(string modelVersion, VectorFilter? filter = null, CancellationToken ct = default)
    {
        var collection = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        if (filter is not null)
        {
            VectorValidation.Filter(filter);
        }

        return collection.CountMatching(filter);
    }

    /// <summary>Writes a snapshot of <paramref name="modelVersion"/>'s collection and starts a fresh log now.</summary>
    public async Task CompactAsync(string modelVersion, CancellationToken ct = default)
    {
        var collection = await GetAsync(modelVersion, ct).ConfigureAwait(false);
        await collection.CompactAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Current size of <paramref name="modelVersion"/>'s write-ahead log in bytes (header included).</summary>
    public async Task<long> GetLogBytesAsync(string modelVersion, CancellationToken ct = default) =>
        (await GetAsync(modelVersion, ct).ConfigureAwait(false)).LogBytes;

    /// <summary>Base path (without extension) of the files of <paramref name="modelVersion"/>'s collection.</summary>
    public string GetCollectionBasePath(string modelVersion) => BasePath(modelVersion);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var c in _collections.Values)
        {
            c.Dispose();
        }

        _collections.Clear();
        _registry.Dispose();
    }

    private static List<VectorHit> Search(EmbeddedCollection collection, ReadOnlySpan<float> query, int limit, VectorFilter filter)
    {
        VectorValidation.Limit(limit);
        VectorValidation.Filter(filter);
        VectorValidation.Query(query, collection.Dimensions, collection.ModelVersion);
        Span<float> unit = query.Length <= 4096 ? stackalloc float[query.Length] : new float[query.Length];
        VectorValidation.Normalise(query, unit);
        return collection.Search(unit, limit, filter);
    }

    /// <summary>UTC ticks truncated to whole microseconds: the precision Qdrant keeps for datetimes, so both
    /// implementations agree on range boundaries.</summary>
    internal static long UploadedTicks(DateTimeOffset uploadedAt) => uploadedAt.UtcTicks - (uploadedAt.UtcTicks % 10);

    private string BasePath(string modelVersion) => Path.Combine(Directory, FilePrefix + ModelVersions.Sanitise(modelVersion));

    private EmbeddedCollection? FindLoaded(string modelVersion) =>
        _collections.TryGetValue(ModelVersions.Sanitise(modelVersion), out var c) ? c : null;

    private async Task<EmbeddedCollection> GetAsync(string modelVersion, CancellationToken ct) =>
        await FindAsync(modelVersion, ct).ConfigureAwait(false) ?? throw VectorCollectionNotFoundException.For(modelVersion);

    /// <summary>The loaded collection, loading it from disk on first use; <c>null</c> when it does not exist.</summary>
    private async Task<EmbeddedCollection?> FindAsync(string modelVersion, CancellationToken ct, bool registryHeld = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ModelVersions.Validate(modelVersion);
        var key = ModelVersions.Sanitise(modelVersion);
        if (_collections.TryGetValue(key, out var loaded))
        {
            return loaded;
        }

        var basePath = BasePath(modelVersion);
        if (!EmbeddedCollection.Exists(basePath))
        {
            return null;
        }

        if (!registryHeld)
        {
            await _registry.WaitAsync(ct).ConfigureAwait(false);
        }

        try
        {
            if (_collections.TryGetValue(key, out loaded))
            {
                return loaded;
            }

            var collection = EmbeddedCollection.Load(basePath, modelVersion, _options);
            _collections[key] = collection;
            return collection;
        }
        finally
        {
            if (!registryHeld)
            {
                _registry.Release();
            }
        }
    }
}
