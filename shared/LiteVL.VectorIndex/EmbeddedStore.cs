using System.Numerics.Tensors;

namespace LiteVL.VectorIndex;

/// <summary>
/// The in-memory rows of one embedded collection: every vector in one contiguous <c>float[]</c> (row-major, unit
/// length), payload in parallel arrays, tenant and tag strings interned to ints so filters compare integers during the
/// scan. Rows are kept dense (a delete moves the last row into the hole). Not thread-safe by itself:
/// <see cref="EmbeddedCollection"/> serialises writers and excludes readers while a mutation runs.
/// </summary>
internal sealed class EmbeddedStore
{
    private const int InitialCapacity = 1024;

    private readonly Dictionary<Guid, int> _rowOf = [];
    private readonly Dictionary<string, int> _tenantIds = new(StringComparer.Ordinal);
    private readonly List<string> _tenants = [];
    private readonly Dictionary<string, int> _tagIds = new(StringComparer.Ordinal);
    private readonly List<string> _tagNames = [];

    private float[] _vectors;
    private Guid[] _pointIds;
    private Guid[] _videoIds;
    private int[] _segments;
    private int[] _tenant;
    private double[] _starts;
    private double[] _ends;
    private string?[] _titles;
    private int[][] _tags;
    private long[] _uploaded;

    public EmbeddedStore(int dimensions)
    {
        Dimensions = dimensions;
        _vectors = new float[(long)InitialCapacity * dimensions];
        _pointIds = new Guid[InitialCapacity];
        _videoIds = new Guid[InitialCapacity];
        _segments = new int[InitialCapacity];
        _tenant = new int[InitialCapacity];
        _starts = new double[InitialCapacity];
        _ends = new double[InitialCapacity];
        _titles = new string?[InitialCapacity];
        _tags = new int[InitialCapacity][];
        _uploaded = new long[InitialCapacity];
    }

    public int Dimensions { get; }

    public int Count { get; private set; }

    public void Upsert(EmbeddedRow row)
    {
        if (!_rowOf.TryGetValue(row.PointId, out var i))
        {
            EnsureCapacity(Count + 1);
            i = Count++;
            _rowOf[row.PointId] = i;
        }

        row.Vector.AsSpan().CopyTo(_vectors.AsSpan(i * Dimensions, Dimensions));
        _pointIds[i] = row.PointId;
        _videoIds[i] = row.VideoId;
        _segments[i] = row.SegmentIndex;
        _tenant[i] = Intern(_tenantIds, _tenants, row.TenantId);
        _starts[i] = row.Start;
        _ends[i] = row.End;
        _titles[i] = row.Title;
        var tags = new int[row.Tags.Length];
        for (var t = 0; t < tags.Length; t++)
        {
            tags[t] = Intern(_tagIds, _tagNames, row.Tags[t]);
        }

        _tags[i] = tags;
        _uploaded[i] = row.UploadedUtcTicks;
    }

    public int DeleteVideo(Guid videoId)
    {
        var removed = 0;
        for (var i = Count - 1; i >= 0; i--)
        {
            if (_videoIds[i] == videoId)
            {
                RemoveAt(i);
                removed++;
            }
        }

        return removed;
    }

    public EmbeddedRow RowAt(int i)
    {
        var tags = new string[_tags[i].Length];
        for (var t = 0; t < tags.Length; t++)
        {
            tags[t] = _tagNames[_tags[i][t]];
        }

        return new EmbeddedRow(
            _pointIds[i], _videoIds[i], _segments[i], _tenants[_tenant[i]], _starts[i], _ends[i], _titles[i], tags, _uploaded[i],
            _vectors.AsSpan(i * Dimensions, Dimensions).ToArray());
    }

    public long CountMatching(VectorFilter? filter)
    {
        if (filter is null)
        {
            return Count;
        }

        var f = Compile(filter);
        if (f.Nothing)
        {
            return 0;
        }

        long n = 0;
        for (var i = 0; i < Count; i++)
        {
            if (Matches(in f, i))
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>Exact top-k by dot product over the rows matching the filter (the query must be unit length).</summary>
    public List<VectorHit> Search(ReadOnlySpan<float> query, int limit, VectorFilter filter, int parallelism)
    {
        var f = Compile(filter);
        if (f.Nothing || Count == 0)
        {
            return [];
        }

        var partitions = Math.Clamp(Math.Min(parallelism, Count / 16_384), 1, 64);
        PriorityQueue<int, float> heap;
        if (partitions == 1)
        {
            heap = new PriorityQueue<int, float>(limit + 1);
            Scan(query, limit, in f, 0, Count, heap);
        }
        else
        {
            var q = query.ToArray();
            var heaps = new PriorityQueue<int, float>[partitions];
            var chunk = (Count + partitions - 1) / partitions;
            Parallel.For(0, partitions, new ParallelOptions { MaxDegreeOfParallelism = partitions }, p =>
            {
                var h = new PriorityQueue<int, float>(limit + 1);
                Scan(q, limit, in f, p * chunk, Math.Min(Count, (p + 1) * chunk), h);
                heaps[p] = h;
            });
            heap = new PriorityQueue<int, float>(limit + 1);
            foreach (var h in heaps)
            {
                while (h.TryDequeue(out var row, out var score))
                {
                    Offer(heap, limit, row, score);
                }
            }
        }

        var hits = new List<VectorHit>(heap.Count);
        while (heap.TryDequeue(out var row, out var score))
        {
            hits.Add(new VectorHit(_pointIds[row], _videoIds[row], _segments[row], _starts[row], _ends[row], score));
        }

        // Best first; equal scores in point-id order so results are deterministic.
        hits.Sort(static (a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : a.PointId.CompareTo(b.PointId));
        return hits;
    }

    private void Scan(ReadOnlySpan<float> query, int limit, in CompiledFilter f, int from, int to, PriorityQueue<int, float> heap)
    {
        var d = Dimensions;
        var vectors = _vectors.AsSpan();
        for (var i = from; i < to; i++)
        {
            if (!Matches(in f, i))
            {
                continue;
            }

            Offer(heap, limit, i, TensorPrimitives.Dot(vectors.Slice(i * d, d), query));
        }
    }

    /// <summary>Bounded min-heap: the root is the worst of the current top-k and is replaced by anything better.</summary>
    private static void Offer(PriorityQueue<int, float> heap, int limit, int row, float score)
    {
        if (heap.Count < limit)
        {
            heap.Enqueue(row, score);
        }
        else if (heap.TryPeek(out _, out var worst) && score > worst)
        {
            heap.DequeueEnqueue(row, score);
        }
    }

    private bool Matches(in CompiledFilter f, int i)
    {
        if (_tenant[i] != f.Tenant)
        {
            return false;
        }

        if (f.Videos is not null && !f.Videos.Contains(_videoIds[i]))
        {
            return false;
        }

        var uploaded = _uploaded[i];
        if (uploaded < f.FromTicks || uploaded >= f.ToTicks)
        {
            return false;
        }

        if (f.Tags is not null)
        {
            foreach (var tag in _tags[i])
            {
                if (Array.IndexOf(f.Tags, tag) >= 0)
                {
                    return true;
                }
            }

            return false;
        }

        return true;
    }

    private CompiledFilter Compile(VectorFilter filter)
    {
        if (VectorValidation.MatchesNothing(filter) || !_tenantIds.TryGetValue(filter.TenantId, out var tenant))
        {
            return new CompiledFilter { Nothing = true };
        }

        int[]? tags = null;
        if (filter.Tags is { } wanted)
        {
            tags = [.. wanted.Select(t => _tagIds.TryGetValue(t, out var id) ? id : -1).Where(id => id >= 0).Distinct()];
            if (tags.Length == 0)
            {
                return new CompiledFilter { Nothing = true };
            }
        }

        return new CompiledFilter
        {
            Tenant = tenant,
            Tags = tags,
            Videos = filter.VideoIds is { } v ? [.. v] : null,
            FromTicks = filter.UploadedFrom?.UtcTicks ?? long.MinValue,
            ToTicks = filter.UploadedTo?.UtcTicks ?? long.MaxValue,
        };
    }

    private void RemoveAt(int i)
    {
        var last = Count - 1;
        _rowOf.Remove(_pointIds[i]);
        if (i != last)
        {
            _vectors.AsSpan(last * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(i * Dimensions, Dimensions));
            _pointIds[i] = _pointIds[last];
            _videoIds[i] = _videoIds[last];
            _segments[i] = _segments[last];
            _tenant[i] = _tenant[last];
            _starts[i] = _starts[last];
            _ends[i] = _ends[last];
            _titles[i] = _titles[last];
            _tags[i] = _tags[last];
            _uploaded[i] = _uploaded[last];
            _rowOf[_pointIds[i]] = i;
        }

        _titles[last] = null;
        _tags[last] = null!;
        Count = last;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _pointIds.Length)
        {
            return;
        }

        var capacity = (int)Math.Min(Math.Max(needed, (long)_pointIds.Length * 2), Array.MaxLength / Dimensions);
        if (capacity < needed)
        {
            throw new InvalidOperationException($"The embedded index holds at most {Array.MaxLength / Dimensions} vectors of {Dimensions} dimensions per collection.");
        }

        Array.Resize(ref _vectors, capacity * Dimensions);
        Array.Resize(ref _pointIds, capacity);
        Array.Resize(ref _videoIds, capacity);
        Array.Resize(ref _segments, capacity);
        Array.Resize(ref _tenant, capacity);
        Array.Resize(ref _starts, capacity);
        Array.Resize(ref _ends, capacity);
        Array.Resize(ref _titles, capacity);
        Array.Resize(ref _tags, capacity);
        Array.Resize(ref _uploaded, capacity);
    }

    private static int Intern(Dictionary<string, int> ids, List<string> names, string value)
    {
        if (!ids.TryGetValue(value, out var id))
        {
            id = names.Count;
            names.Add(value);
            ids[value] = id;
        }

        return id;
    }

    private struct CompiledFilter
    {
        public bool Nothing;
        public int Tenant;
        public int[]? Tags;
        public HashSet<Guid>? Videos;
        public long FromTicks;
        public long ToTicks;
    }
}
