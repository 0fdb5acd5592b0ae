namespace LiteVL.VectorIndex;

/// <summary>
/// One model version's collection of the embedded index: the in-memory <see cref="EmbeddedStore"/> plus its two files,
/// <c>&lt;name&gt;.snapshot</c> and <c>&lt;name&gt;.log</c>.
/// </summary>
/// <remarks>
/// <para><b>Persistence: write-ahead log + periodic compacted snapshot.</b> Rewriting a whole snapshot per write would
/// cost O(collection) I/O for every indexed video (a 1M-segment collection is ~1 GB); appending a checksummed record
/// costs O(batch). Every mutation is appended (and flushed to disk when <see cref="EmbeddedVectorIndexOptions.Durable"/>)
/// <em>before</em> it is applied in memory and acknowledged. When the log outgrows
/// <see cref="EmbeddedVectorIndexOptions.CompactAfterLogBytes"/>, the current state is written to
/// <c>.snapshot.tmp</c>, flushed and renamed over <c>.snapshot</c> (atomic on POSIX), and a fresh log is published the
/// same way. Both files carry a generation: a snapshot of generation G+1 supersedes the log of generation G, so a crash
/// between the two renames replays nothing twice (replay would be harmless anyway: upserts by id and deletes by video
/// are idempotent).</para>
/// <para><b>Crash safety.</b> A crash mid-append leaves a short or checksum-failing last frame; replay stops there and
/// the file is truncated to the last whole record, so only the unacknowledged record is lost. A failed append is rolled
/// back (truncated) at once so that later records never follow garbage.</para>
/// <para><b>Concurrency.</b> Many readers, one writer: writers queue on a <see cref="SemaphoreSlim"/> (async, so
/// the disk append does not block readers), then apply the record in memory under the write side of a
/// <see cref="ReaderWriterLockSlim"/>; searches scan under its read side. Copy-on-write snapshots were rejected because
/// a 1M-vector collection would copy ~1 GB per upsert. Compaction reads the store under the writer semaphore only, so
/// searches continue while a snapshot is written.</para>
/// </remarks>
internal sealed class EmbeddedCollection : IDisposable
{
    private const int PointsPerRecord = 4096;

    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly EmbeddedVectorIndexOptions _options;
    private readonly string _snapshotPath;
    private readonly string _logPath;
    private readonly EmbeddedStore _store;
    private FileStream _log;
    private long _generation;
    private bool _disposed;

    private EmbeddedCollection(string modelVersion, int dimensions, string basePath, EmbeddedVectorIndexOptions options, long generation, FileStream log, EmbeddedStore store)
    {
        ModelVersion = modelVersion;
        Dimensions = dimensions;
        _options = options;
        _snapshotPath = basePath + ".snapshot";
        _logPath = basePath + ".log";
        _generation = generation;
        _log = log;
        _logBytes = log.Length;
        _store = store;
    }

    public string ModelVersion { get; }

    public int Dimensions { get; }

    public static bool Exists(string basePath) => File.Exists(basePath + ".log") || File.Exists(basePath + ".snapshot");

    /// <summary>Creates the files of a new, empty collection (published by rename, so they exist whole or not at all).</summary>
    public static EmbeddedCollection Create(string basePath, string modelVersion, int dimensions, EmbeddedVectorIndexOptions options)
    {
        var log = PublishNewLog(basePath + ".log", new EmbeddedFormat.FileHeader(dimensions, 0, modelVersion));
        return new EmbeddedCollection(modelVersion, dimensions, basePath, options, 0, log, new EmbeddedStore(dimensions));
    }

    /// <summary>Loads snapshot + log; truncates a torn log tail.</summary>
    public static EmbeddedCollection Load(string basePath, string modelVersion, EmbeddedVectorIndexOptions options)
    {
        var snapshotPath = basePath + ".snapshot";
        var logPath = basePath + ".log";
        File.Delete(snapshotPath + ".tmp");
        File.Delete(logPath + ".tmp");

        EmbeddedStore? store = null;
        EmbeddedFormat.FileHeader? snapshotHeader = null;
        if (File.Exists(snapshotPath))
        {
            (snapshotHeader, store) = ReadSnapshot(snapshotPath);
            CheckVersion(snapshotHeader, modelVersion, snapshotPath);
        }

        FileStream? log = null;
        try
        {
            if (File.Exists(logPath))
            {
                log = new FileStream(logPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                var header = ReadHeader(log, EmbeddedFormat.LogMagic, logPath);
                if (header is null && snapshotHeader is null)
                {
                    throw new InvalidDataException($"{logPath}: the log header is damaged and there is no snapshot.");
                }

                if (header is not null && snapshotHeader is null && header.Generation != 0)
                {
                    throw new InvalidDataException($"{logPath}: log generation {header.Generation} has no snapshot to continue.");
                }

                if (header is not null && snapshotHeader is not null && header.Generation > snapshotHeader.Generation)
                {
                    throw new InvalidDataException($"{logPath}: log generation {header.Generation} is newer than the snapshot's {snapshotHeader.Generation}.");
                }

                if (header is not null && (snapshotHeader is null || header.Generation == snapshotHeader.Generation))
                {
                    CheckVersion(header, modelVersion, logPath);
                    store ??= new EmbeddedStore(header.Dimensions);
                    Replay(log, store, logPath);
                    return new EmbeddedCollection(header.ModelVersion, header.Dimensions, basePath, options, header.Generation, log, store);
                }

                // Superseded (a crash between publishing the snapshot and the fresh log) or unreadable: start a new log.
                log.Dispose();
                log = null;
            }

            if (snapshotHeader is null || store is null)
            {
                throw new InvalidDataException($"{basePath}: neither a snapshot nor a log was found.");
            }

            CheckVersion(snapshotHeader, modelVersion, snapshotPath);
            log = PublishNewLog(logPath, snapshotHeader);
            return new EmbeddedCollection(snapshotHeader.ModelVersion, snapshotHeader.Dimensions, basePath, options, snapshotHeader.Generation, log, store);
        }
        catch
        {
            log?.Dispose();
            throw;
        }
    }

    public int Count
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _store.Count;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    public long LogBytes => Volatile.Read(ref _logBytes);

    private long _logBytes;

    public List<VectorHit> Search(ReadOnlySpan<float> unitQuery, int limit, VectorFilter filter)
    {
        _lock.EnterReadLock();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _store.Search(unitQuery, limit, filter, _options.SearchParallelism);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public long CountMatching(VectorFilter? filter)
    {
        _lock.EnterReadLock();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _store.CountMatching(filter);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public async Task UpsertAsync(IReadOnlyList<EmbeddedRow> rows, CancellationToken ct)
    {
        await _writer.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (var start = 0; start < rows.Count; start += PointsPerRecord)
            {
                var count = Math.Min(PointsPerRecord, rows.Count - start);
                Append(EmbeddedFormat.EncodeUpsert(rows, start, count));
                Apply(() =>
                {
                    for (var i = start; i < start + count; i++)
                    {
                        _store.Upsert(rows[i]);
                    }

                    return 0;
                });
            }

            CompactIfDue();
        }
        finally
        {
            _writer.Release();
        }
    }

    public async Task<int> DeleteVideoAsync(Guid videoId, CancellationToken ct)
    {
        await _writer.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Append(EmbeddedFormat.EncodeDeleteVideo(videoId));
            var removed = Apply(() => _store.DeleteVideo(videoId));
            CompactIfDue();
            return removed;
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>Writes a snapshot of the current state and starts a new, empty log (normally triggered by size).</summary>
    public async Task CompactAsync(CancellationToken ct)
    {
        await _writer.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Compact();
        }
        finally
        {
            _writer.Release();
        }
    }

    public void Dispose()
    {
        _writer.Wait();
        try
        {
            _lock.EnterWriteLock();
            try
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _log.Dispose();
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
        finally
        {
            _writer.Release();
        }
    }

    private T Apply<T>(Func<T> mutation)
    {
        _lock.EnterWriteLock();
        try
        {
            return mutation();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void Append(byte[] payload)
    {
        var frame = EmbeddedFormat.Frame(payload);
        var before = _log.Length;
        try
        {
            _log.Seek(before, SeekOrigin.Begin);
            _log.Write(frame);
            _log.Flush(flushToDisk: _options.Durable);
            Volatile.Write(ref _logBytes, _log.Length);
        }
        catch
        {
            // Never leave a partial record in front of later ones.
            _log.SetLength(before);
            throw;
        }
    }

    private void CompactIfDue()
    {
        if (_log.Length > _options.CompactAfterLogBytes)
        {
            Compact();
        }
    }

    private void Compact()
    {
        var next = _generation + 1;
        var header = new EmbeddedFormat.FileHeader(Dimensions, next, ModelVersion);
        var tmp = _snapshotPath + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            fs.Write(EmbeddedFormat.SnapshotMagic);
            fs.Write(EmbeddedFormat.Frame(EmbeddedFormat.EncodeHeader(header)));

            // Only this writer mutates the store, and it is here: reading without the read lock is safe.
            var total = _store.Count;
            var batch = new List<EmbeddedRow>(PointsPerRecord);
            for (var i = 0; i < total; i++)
            {
                batch.Add(_store.RowAt(i));
                if (batch.Count == PointsPerRecord || i == total - 1)
                {
                    fs.Write(EmbeddedFormat.Frame(EmbeddedFormat.EncodeUpsert(batch, 0, batch.Count)));
                    batch.Clear();
                }
            }

            fs.Write(EmbeddedFormat.Frame(EmbeddedFormat.EncodeSnapshotEnd(total)));
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, _snapshotPath, overwrite: true);
        var log = PublishNewLog(_logPath, header);
        _log.Dispose();
        _log = log;
        _generation = next;
        Volatile.Write(ref _logBytes, _log.Length);
    }

    private static FileStream PublishNewLog(string logPath, EmbeddedFormat.FileHeader header)
    {
        var tmp = logPath + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fs.Write(EmbeddedFormat.LogMagic);
            fs.Write(EmbeddedFormat.Frame(EmbeddedFormat.EncodeHeader(header)));
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, logPath, overwrite: true);
        var log = new FileStream(logPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        log.Seek(0, SeekOrigin.End);
        return log;
    }

    private static EmbeddedFormat.FileHeader? ReadHeader(Stream stream, ReadOnlySpan<byte> magic, string path)
    {
        Span<byte> got = stackalloc byte[magic.Length];
        if (stream.Read(got) != magic.Length || !got.SequenceEqual(magic))
        {
            return null;
        }

        return EmbeddedFormat.ReadFrame(stream, out var payload) == FrameStatus.Ok ? EmbeddedFormat.DecodeHeader(payload, path) : null;
    }

    private static (EmbeddedFormat.FileHeader Header, EmbeddedStore Store) ReadSnapshot(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var header = ReadHeader(fs, EmbeddedFormat.SnapshotMagic, path)
            ?? throw new InvalidDataException($"{path}: not a LiteVL vector snapshot, or its header is damaged.");
        var store = new EmbeddedStore(header.Dimensions);
        while (true)
        {
            if (EmbeddedFormat.ReadFrame(fs, out var payload) != FrameStatus.Ok)
            {
                throw new InvalidDataException($"{path}: the snapshot is truncated or damaged at byte {fs.Position}.");
            }

            var (type, rows, _, count) = EmbeddedFormat.Decode(payload, header.Dimensions, path);
            if (type == RecordType.SnapshotEnd)
            {
                if (count != store.Count)
                {
                    throw new InvalidDataException($"{path}: the snapshot declares {count} points but holds {store.Count}.");
                }

                return (header, store);
            }

            if (type != RecordType.Upsert || rows is null)
            {
                throw new InvalidDataException($"{path}: unexpected record {type} in a snapshot.");
            }

            foreach (var row in rows)
            {
                store.Upsert(row);
            }
        }
    }

    private static void Replay(FileStream log, EmbeddedStore store, string path)
    {
        while (true)
        {
            var good = log.Position;
            var status = EmbeddedFormat.ReadFrame(log, out var payload);
            if (status == FrameStatus.EndOfFile)
            {
                return;
            }

            if (status == FrameStatus.Torn)
            {
                // A write cut short by a crash: drop it (it was never acknowledged) so appends continue from here.
                log.SetLength(good);
                log.Seek(good, SeekOrigin.Begin);
                log.Flush(flushToDisk: true);
                return;
            }

            var (type, rows, videoId, _) = EmbeddedFormat.Decode(payload, store.Dimensions, path);
            switch (type)
            {
                case RecordType.Upsert when rows is not null:
                    foreach (var row in rows)
                    {
                        store.Upsert(row);
                    }

                    break;
                case RecordType.DeleteVideo:
                    store.DeleteVideo(videoId);
                    break;
                default:
                    throw new InvalidDataException($"{path}: unexpected record {type} in a log.");
            }
        }
    }

    private static void CheckVersion(EmbeddedFormat.FileHeader header, string modelVersion, string path)
    {
        if (!string.Equals(header.ModelVersion, modelVersion, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path} belongs to model version '{header.ModelVersion}', not '{modelVersion}'.");
        }
    }
}
