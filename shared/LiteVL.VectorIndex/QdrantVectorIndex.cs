using System.Collections.Concurrent;
using System.Globalization;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using Grpc.Core;
using Qdrant.Client;
using Qdrant.Client.Grpc;
using static Qdrant.Client.Grpc.Conditions;

namespace LiteVL.VectorIndex;

/// <summary>Settings of <see cref="QdrantVectorIndex"/>.</summary>
public sealed record QdrantVectorIndexOptions
{
    /// <summary>Collections are named <c>{Prefix}_{sanitised model version}</c>, the alias <c>{Prefix}_active</c>. Default "litevl".</summary>
    public string Prefix { get; init; } = "litevl";

    /// <summary>Points per upsert request (keeps gRPC messages well under the 4 MB default limit). Default 256.</summary>
    public int UpsertBatchSize { get; init; } = 256;
}

/// <summary>
/// <see cref="IVectorIndex"/> over Qdrant (gRPC, <see cref="QdrantClient"/>): one cosine collection per model version,
/// the alias <c>{prefix}_active</c> switched atomically (delete + create in one <c>UpdateAliases</c> request), payload
/// indexes on <c>tenant_id</c> (keyword, tenant-optimised), <c>video_id</c> and <c>tags</c> (keyword) and
/// <c>uploaded_at</c> (datetime). Payload: tenant_id, video_id (UUID string), segment, start, end, title, tags,
/// uploaded_at (RFC 3339, UTC, microseconds). Every search and filtered count has a must-condition on tenant_id.
/// Writes use <c>wait=true</c>, so they are visible to the next read.
/// </summary>
public sealed class QdrantVectorIndex : IVectorIndex, IDisposable
{
    internal const string ModelVersionMetadataKey = "litevl_model_version";
    private static readonly string[] HitPayload = ["video_id", "segment", "start", "end"];

    private readonly QdrantClient _client;
    private readonly bool _ownsClient;
    private readonly QdrantVectorIndexOptions _options;
    private readonly ConcurrentDictionary<string, int> _dimensions = new(StringComparer.Ordinal);

    public QdrantVectorIndex(QdrantClient client, QdrantVectorIndexOptions? options = null, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _ownsClient = ownsClient;
        _options = options ?? new QdrantVectorIndexOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(_options.Prefix, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.UpsertBatchSize, 1, nameof(options));
        AliasName = _options.Prefix + "_active";
    }

    /// <summary>The alias of the active collection.</summary>
    public string AliasName { get; }

    /// <summary>The Qdrant collection of <paramref name="modelVersion"/>.</summary>
    public string CollectionName(string modelVersion) => _options.Prefix + "_" + ModelVersions.Sanitise(modelVersion);

    public async Task EnsureCollectionAsync(string modelVersion, int dimensions, CancellationToken ct = default)
    {
        VectorValidation.Dimensions(dimensions);
        var name = CollectionName(modelVersion);
        if (!await _client.CollectionExistsAsync(name, ct).ConfigureAwait(false))
        {
            var create = new CreateCollection
            {
                CollectionName = name,
                VectorsConfig = new VectorsConfig { Params = new VectorParams { Size = (ulong)dimensions, Distance = Distance.Cosine } },
            };
            create.Metadata[ModelVersionMetadataKey] = modelVersion;
            try
            {
                await _client.CreateCollectionAsync(create, ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.AlreadyExists or StatusCode.InvalidArgument)
            {
                // Lost a creation race with another indexer: fine (the checks below still apply); anything else rethrows.
                if (!await _client.CollectionExistsAsync(name, ct).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }

        var info = await GetInfoAsync(modelVersion, name, ct).ConfigureAwait(false);
        var existing = DimensionsOf(info, name);
        if (existing != dimensions)
        {
            throw new InvalidOperationException($"The collection of model version '{modelVersion}' ({name}) exists with {existing} dimensions, not {dimensions}.");
        }

        _dimensions[name] = existing;
        await EnsureIndexAsync(name, info, "tenant_id", PayloadSchemaType.Keyword, new PayloadIndexParams { KeywordIndexParams = new KeywordIndexParams { IsTenant = true } }, ct).ConfigureAwait(false);
        await EnsureIndexAsync(name, info, "video_id", PayloadSchemaType.Keyword, null, ct).ConfigureAwait(false);
        await EnsureIndexAsync(name, info, "tags", PayloadSchemaType.Keyword, null, ct).ConfigureAwait(false);
        await EnsureIndexAsync(name, info, "uploaded_at", PayloadSchemaType.Datetime, null, ct).ConfigureAwait(false);
    }

    public async Task ActivateAsync(string modelVersion, CancellationToken ct = default)
    {
        var name = CollectionName(modelVersion);
        _ = await GetDimensionsAsync(modelVersion, name, ct, refresh: true).ConfigureAwait(false);
        var aliases = await _client.ListAliasesAsync(ct).ConfigureAwait(false);
        var operations = new List<AliasOperations>(2);
        if (aliases.Any(a => a.AliasName == AliasName))
        {
            operations.Add(new AliasOperations { DeleteAlias = new DeleteAlias { AliasName = AliasName } });
        }

        operations.Add(new AliasOperations { CreateAlias = new CreateAlias { AliasName = AliasName, CollectionName = name } });

        // One request: Qdrant applies the alias actions atomically, so searches never see the alias missing.
        await _client.UpdateAliasesAsync(operations, cancellationToken: ct).ConfigureAwait(false);
    }

    public async Task<string?> GetActiveVersionAsync(CancellationToken ct = default)
    {
        var aliases = await _client.ListAliasesAsync(ct).ConfigureAwait(false);
        var collection = aliases.FirstOrDefault(a => a.AliasName == AliasName)?.CollectionName;
        if (collection is null)
        {
            return null;
        }

        var info = await _client.GetCollectionInfoAsync(collection, ct).ConfigureAwait(false);
        if (info.Config?.Metadata is { } metadata && metadata.TryGetValue(ModelVersionMetadataKey, out var v) && v.KindCase == Value.KindOneofCase.StringValue)
        {
            return v.StringValue;
        }

        // Servers older than collection metadata (Qdrant < 1.16): the name is the version when it needed no sanitising.
        return collection.StartsWith(_options.Prefix + "_", StringComparison.Ordinal) ? collection[(_options.Prefix.Length + 1)..] : collection;
    }

    public async Task UpsertAsync(string modelVersion, IReadOnlyList<VectorPoint> points, CancellationToken ct = default)
    {
        var name = CollectionName(modelVersion);
        var dimensions = await GetDimensionsAsync(modelVersion, name, ct).ConfigureAwait(false);
        VectorValidation.Points(points, dimensions, modelVersion);
        for (var start = 0; start < points.Count; start += _options.UpsertBatchSize)
        {
            var batch = new List<PointStruct>(Math.Min(_options.UpsertBatchSize, points.Count - start));
            for (var i = start; i < Math.Min(points.Count, start + _options.UpsertBatchSize); i++)
            {
                batch.Add(ToPoint(points[i], modelVersion));
            }

            await CallAsync(modelVersion, () => _client.UpsertAsync(name, batch, wait: true, cancellationToken: ct)).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<VectorHit>> SearchAsync(string modelVersion, ReadOnlyMemory<float> query, int limit, VectorFilter filter, CancellationToken ct = default)
    {
        var name = CollectionName(modelVersion);
        VectorValidation.Limit(limit);
        VectorValidation.Filter(filter);
        var dimensions = await GetDimensionsAsync(modelVersion, name, ct).ConfigureAwait(false);
        VectorValidation.Query(query.Span, dimensions, modelVersion);
        if (VectorValidation.MatchesNothing(filter))
        {
            return [];
        }

        var unit = VectorValidation.Normalised(query.Span);
        var points = await CallAsync(modelVersion, () => _client.QueryAsync(
            name,
            query: unit,
            filter: ToFilter(filter),
            limit: (ulong)limit,
            payloadSelector: new WithPayloadSelector { Include = new PayloadIncludeSelector { Fields = { HitPayload } } },
            vectorsSelector: false,
            cancellationToken: ct)).ConfigureAwait(false);
        var hits = new List<VectorHit>(points.Count);
        foreach (var p in points)
        {
            hits.Add(new VectorHit(
                Guid.Parse(p.Id.Uuid),
                Guid.Parse(p.Payload["video_id"].StringValue),
                (int)Number(p.Payload["segment"]),
                Number(p.Payload["start"]),
                Number(p.Payload["end"]),
                p.Score));
        }

        return hits;
    }

    /// <remarks>Qdrant's delete reports no count: this counts the video's points (exact count) first, then deletes by
    /// filter, and returns that count. Points of the same video written concurrently may make it off by those.</remarks>
    public async Task<int> DeleteVideoAsync(string modelVersion, Guid videoId, CancellationToken ct = default)
    {
        var name = CollectionName(modelVersion);
        var byVideo = new Filter { Must = { MatchKeyword("video_id", videoId.ToString("D")) } };
        var count = await CallAsync(modelVersion, () => _client.CountAsync(name, byVideo, exact: true, cancellationToken: ct)).ConfigureAwait(false);
        await CallAsync(modelVersion, () => _client.DeleteAsync(name, byVideo, wait: true, cancellationToken: ct)).ConfigureAwait(false);
        return checked((int)count);
    }

    public async Task<long> CountAsync(string modelVersion, VectorFilter? filter = null, CancellationToken ct = default)
    {
        var name = CollectionName(modelVersion);
        if (filter is not null)
        {
            VectorValidation.Filter(filter);
            if (VectorValidation.MatchesNothing(filter))
            {
                _ = await GetDimensionsAsync(modelVersion, name, ct).ConfigureAwait(false);
                return 0;
            }
        }

        var count = await CallAsync(modelVersion, () => _client.CountAsync(name, filter is null ? null : ToFilter(filter), exact: true, cancellationToken: ct)).ConfigureAwait(false);
        return (long)count;
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    internal static PointStruct ToPoint(VectorPoint p, string modelVersion)
    {
        var point = new PointStruct
        {
            Id = PointIds.For(p.VideoId, p.SegmentIndex, modelVersion),
            Vectors = VectorValidation.Normalised(p.Vector),
        };
        point.Payload["tenant_id"] = p.TenantId;
        point.Payload["video_id"] = p.VideoId.ToString("D");
        point.Payload["segment"] = p.SegmentIndex;
        point.Payload["start"] = p.Start;
        point.Payload["end"] = p.End;
        point.Payload["title"] = p.Title is null ? new Value { NullValue = NullValue.NullValue } : p.Title;
        point.Payload["tags"] = p.Tags is null ? Array.Empty<string>() : p.Tags.ToArray();
        point.Payload["uploaded_at"] = FormatTimestamp(p.UploadedAt);
        return point;
    }

    /// <summary>RFC 3339, UTC, microseconds (Qdrant's datetime precision).</summary>
    internal static string FormatTimestamp(DateTimeOffset t) =>
        new DateTimeOffset(EmbeddedVectorIndex.UploadedTicks(t), TimeSpan.Zero).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    internal static Filter ToFilter(VectorFilter filter)
    {
        var f = new Filter { Must = { MatchKeyword("tenant_id", filter.TenantId) } };
        if (filter.Tags is { } tags)
        {
            f.Must.Add(Match("tags", tags.Distinct().ToList()));
        }

        if (filter.VideoIds is { } videos)
        {
            f.Must.Add(Match("video_id", videos.Distinct().Select(v => v.ToString("D")).ToList()));
        }

        if (filter.UploadedFrom is not null || filter.UploadedTo is not null)
        {
            var range = new DatetimeRange();
            if (filter.UploadedFrom is { } from)
            {
                range.Gte = Timestamp.FromDateTimeOffset(from);
            }

            if (filter.UploadedTo is { } to)
            {
                range.Lt = Timestamp.FromDateTimeOffset(to);
            }

            f.Must.Add(new Condition { Field = new FieldCondition { Key = "uploaded_at", DatetimeRange = range } });
        }

        return f;
    }

    private static double Number(Value v) => v.KindCase switch
    {
        Value.KindOneofCase.DoubleValue => v.DoubleValue,
        Value.KindOneofCase.IntegerValue => v.IntegerValue,
        _ => throw new InvalidOperationException($"Expected a number in the point payload, got {v.KindCase}."),
    };

    private static int DimensionsOf(CollectionInfo info, string name) =>
        info.Config?.Params?.VectorsConfig?.Params is { } p
            ? checked((int)p.Size)
            : throw new InvalidOperationException($"Collection {name} has no single unnamed vector; it was not created by LiteVL.");

    private async Task EnsureIndexAsync(string name, CollectionInfo info, string field, PayloadSchemaType type, PayloadIndexParams? indexParams, CancellationToken ct)
    {
        if (!info.PayloadSchema.ContainsKey(field))
        {
            await _client.CreatePayloadIndexAsync(name, field, type, indexParams, wait: true, cancellationToken: ct).ConfigureAwait(false);
        }
    }

    private async Task<CollectionInfo> GetInfoAsync(string modelVersion, string name, CancellationToken ct) =>
        await CallAsync(modelVersion, () => _client.GetCollectionInfoAsync(name, ct)).ConfigureAwait(false);

    private async Task<int> GetDimensionsAsync(string modelVersion, string name, CancellationToken ct, bool refresh = false)
    {
        if (!refresh && _dimensions.TryGetValue(name, out var d))
        {
            return d;
        }

        var info = await GetInfoAsync(modelVersion, name, ct).ConfigureAwait(false);
        return _dimensions[name] = DimensionsOf(info, name);
    }

    /// <summary>Maps Qdrant's "collection not found" to <see cref="VectorCollectionNotFoundException"/>.</summary>
    private async Task<T> CallAsync<T>(string modelVersion, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            _dimensions.TryRemove(CollectionName(modelVersion), out _);
            throw VectorCollectionNotFoundException.For(modelVersion, e);
        }
    }
}
