using System.Globalization;
using System.Numerics.Tensors;
using Google.Protobuf.Collections;
using Grpc.Core;
using Qdrant.Client.Grpc;

namespace LiteVL.VectorIndex.Tests.QdrantServer;

/// <summary>
/// The state and semantics behind the in-process Qdrant test server: collections (single unnamed dense vector;
/// cosine, dot or euclid), aliases, points with JSON-like payloads, payload-index bookkeeping, and Qdrant's filter
/// language for the conditions LiteVL uses (must / should / must_not / nested filters; match keyword, keywords (any),
/// except, integer, boolean; range; datetime_range; has_id; is_empty; is_null). Anything else is answered with
/// UNIMPLEMENTED rather than silently ignored, so the double can never pass a test the real server would fail.
/// Errors use Qdrant's status codes: NOT_FOUND for a missing collection or alias, INVALID_ARGUMENT for bad input.
/// One lock: this is a protocol double, not a database.
/// </summary>
public sealed class InMemoryQdrant
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Collection> _collections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    private ulong _operationId;

    /// <summary>Every RPC the server answered, by method name (lets tests prove which protocol calls an adapter made).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Calls { get; } = new();

    public sealed class Collection(string name, VectorParams vectors, MapField<string, Value> metadata)
    {
        public string Name { get; } = name;
        public VectorParams Vectors { get; } = vectors;
        public MapField<string, Value> Metadata { get; } = metadata;
        public Dictionary<string, PayloadSchemaInfo> PayloadSchema { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, StoredPoint> Points { get; } = new(StringComparer.Ordinal);
    }

    public sealed record StoredPoint(PointId Id, float[] Vector, MapField<string, Value> Payload, ulong Version);

    // ---- collections -------------------------------------------------------------------------------------------

    public void CreateCollection(CreateCollection request)
    {
        ValidateName(request.CollectionName);
        if (request.VectorsConfig?.ConfigCase != VectorsConfig.ConfigOneofCase.Params)
        {
            throw Unimplemented("only a single unnamed dense vector (vectors_config.params) is supported");
        }

        var p = request.VectorsConfig.Params;
        if (p.Size == 0 || p.Size > 65_536)
        {
            throw InvalidArgument($"Validation error in JSON body: [vectors.size: value {p.Size} invalid, must be from 1 to 65536]");
        }

        if (p.Distance is not (Distance.Cosine or Distance.Dot or Distance.Euclid))
        {
            throw Unimplemented($"distance {p.Distance}");
        }

        lock (_lock)
        {
            if (_collections.ContainsKey(request.CollectionName) || _aliases.ContainsKey(request.CollectionName))
            {
                throw InvalidArgument($"Wrong input: Collection `{request.CollectionName}` already exists!");
            }

            var metadata = new MapField<string, Value>();
            metadata.Add(request.Metadata);
            _collections[request.CollectionName] = new Collection(request.CollectionName, p.Clone(), metadata);
        }
    }

    public bool DeleteCollection(string name)
    {
        lock (_lock)
        {
            if (!_collections.Remove(name))
            {
                return false;
            }

            foreach (var alias in _aliases.Where(a => a.Value == name).Select(a => a.Key).ToList())
            {
                _aliases.Remove(alias);
            }

            return true;
        }
    }

    public bool CollectionExists(string name)
    {
        lock (_lock)
        {
            return _collections.ContainsKey(name) || _aliases.ContainsKey(name);
        }
    }

    public IReadOnlyList<string> ListCollections()
    {
        lock (_lock)
        {
            return [.. _collections.Keys.Order(StringComparer.Ordinal)];
        }
    }

    public CollectionInfo GetInfo(string name)
    {
        lock (_lock)
        {
            var c = Resolve(name);
            var info = new CollectionInfo
            {
                Status = CollectionStatus.Green,
                OptimizerStatus = new OptimizerStatus { Ok = true },
                SegmentsCount = 1,
                PointsCount = (ulong)c.Points.Count,
                IndexedVectorsCount = 0,
                Config = new CollectionConfig
                {
                    Params = new CollectionParams { ShardNumber = 1, ReplicationFactor = 1, WriteConsistencyFactor = 1, VectorsConfig = new VectorsConfig { Params = c.Vectors.Clone() } },
                    HnswConfig = new HnswConfigDiff { M = 16, EfConstruct = 100, FullScanThreshold = 10_000 },
                    OptimizerConfig = new OptimizersConfigDiff(),
                    WalConfig = new WalConfigDiff { WalCapacityMb = 32, WalSegmentsAhead = 0 },
                },
            };
            info.Config.Metadata.Add(c.Metadata);
            foreach (var (field, schema) in c.PayloadSchema)
            {
                var s = schema.Clone();
                s.Points = (ulong)c.Points.Values.Count(p => p.Payload.ContainsKey(field));
                info.PayloadSchema[field] = s;
            }

            return info;
        }
    }

    /// <summary>A copy of a collection's points (for assertions).</summary>
    public IReadOnlyList<StoredPoint> Snapshot(string collection)
    {
        lock (_lock)
        {
            return [.. Resolve(collection).Points.Values];
        }
    }

    public IReadOnlyList<AliasDescription> ListAliases(string? collection = null)
    {
        lock (_lock)
        {
            if (collection is not null)
            {
                _ = Resolve(collection);
            }

            return [.. _aliases.Where(a => collection is null || a.Value == collection)
                .OrderBy(a => a.Key, StringComparer.Ordinal)
                .Select(a => new AliasDescription { AliasName = a.Key, CollectionName = a.Value })];
        }
    }

    /// <summary>All actions or none (Qdrant applies an alias batch atomically).</summary>
    public void UpdateAliases(ChangeAliases request)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, string>(_aliases, StringComparer.Ordinal);
            foreach (var action in request.Actions)
            {
                switch (action.ActionCase)
                {
                    case AliasOperations.ActionOneofCase.CreateAlias:
                        var create = action.CreateAlias;
                        ValidateName(create.AliasName);
                        if (!_collections.ContainsKey(create.CollectionName))
                        {
                            throw NotFound($"Not found: Collection `{create.CollectionName}` doesn't exist!");
                        }

                        if (_collections.ContainsKey(create.AliasName))
                        {
                            throw InvalidArgument($"Wrong input: Collection `{create.AliasName}` already exists!");
                        }

                        next[create.AliasName] = create.CollectionName;
                        break;
                    case AliasOperations.ActionOneofCase.DeleteAlias:
                        if (!next.Remove(action.DeleteAlias.AliasName))
                        {
                            throw NotFound($"Not found: Alias {action.DeleteAlias.AliasName} does not exist!");
                        }

                        break;
                    case AliasOperations.ActionOneofCase.RenameAlias:
                        var rename = action.RenameAlias;
                        if (!next.Remove(rename.OldAliasName, out var target))
                        {
                            throw NotFound($"Not found: Alias {rename.OldAliasName} does not exist!");
                        }

                        next[rename.NewAliasName] = target;
                        break;
                    default:
                        throw InvalidArgument("empty alias action");
                }
            }

            _aliases.Clear();
            foreach (var (alias, target) in next)
            {
                _aliases[alias] = target;
            }
        }
    }

    // ---- points ------------------------------------------------------------------------------------------------

    public UpdateResult Upsert(UpsertPoints request)
    {
        if (request.UpdateFilter is not null)
        {
            throw Unimplemented("conditional upsert (update_filter)");
        }

        lock (_lock)
        {
            var c = Resolve(request.CollectionName);
            var prepared = request.Points.Select(p => (Key: Key(p.Id), Point: p, Vector: DenseOf(p, c))).ToList();
            var version = ++_operationId;
            foreach (var (key, point, vector) in prepared)
            {
                var payload = new MapField<string, Value>();
                payload.Add(point.Payload);
                c.Points[key] = new StoredPoint(point.Id.Clone(), vector, payload, version);
            }

            return Completed(version);
        }
    }

    public UpdateResult Delete(DeletePoints request)
    {
        lock (_lock)
        {
            var c = Resolve(request.CollectionName);
            var selector = request.Points ?? throw InvalidArgument("points selector is required");
            List<string> keys = selector.PointsSelectorOneOfCase switch
            {
                PointsSelector.PointsSelectorOneOfOneofCase.Points => [.. selector.Points.Ids.Select(Key)],
                PointsSelector.PointsSelectorOneOfOneofCase.Filter => [.. c.Points.Where(p => Matches(selector.Filter, p.Value)).Select(p => p.Key)],
                _ => throw InvalidArgument("empty points selector"),
            };
            foreach (var key in keys)
            {
                c.Points.Remove(key);
            }

            return Completed(++_operationId);
        }
    }

    public ulong Count(CountPoints request)
    {
        lock (_lock)
        {
            var c = Resolve(request.CollectionName);
            return (ulong)c.Points.Values.Count(p => request.Filter is null || Matches(request.Filter, p));
        }
    }

    public UpdateResult CreateFieldIndex(CreateFieldIndexCollection request)
    {
        if (!request.HasFieldType)
        {
            throw InvalidArgument("field_type is required");
        }

        lock (_lock)
        {
            var c = Resolve(request.CollectionName);
            var schema = new PayloadSchemaInfo { DataType = Enum.Parse<PayloadSchemaType>(request.FieldType.ToString()) };
            if (request.FieldIndexParams is not null)
            {
                schema.Params = request.FieldIndexParams.Clone();
            }

            c.PayloadSchema[request.FieldName] = schema;
            return Completed(++_operationId);
        }
    }

    public IReadOnlyList<ScoredPoint> Search(SearchPoints request)
    {
        if (request.HasVectorName && request.VectorName.Length > 0)
        {
            throw Unimplemented("named vectors");
        }

#pragma warning disable CS0612, CS0618 // sparse_indices is deprecated in the protocol; refuse it rather than ignore it
        if (request.SparseIndices is not null)
        {
            throw Unimplemented("sparse search");
        }
#pragma warning restore CS0612, CS0618

        return Nearest(request.CollectionName, [.. request.Vector], request.Filter, request.Limit, request.HasOffset ? request.Offset : 0,
            request.HasScoreThreshold ? request.ScoreThreshold : null, request.WithPayload, request.WithVectors);
    }

    public IReadOnlyList<ScoredPoint> Query(QueryPoints request)
    {
        if (request.Prefetch.Count > 0 || request.HasUsing || request.LookupFrom is not null)
        {
            throw Unimplemented("prefetch / using / lookup_from");
        }

        if (request.Query?.VariantCase != global::Qdrant.Client.Grpc.Query.VariantOneofCase.Nearest)
        {
            throw Unimplemented($"query variant {request.Query?.VariantCase}");
        }

        var input = request.Query.Nearest;
        float[] vector;
        switch (input.VariantCase)
        {
            case VectorInput.VariantOneofCase.Dense:
                vector = [.. input.Dense.Data];
                break;
            default:
                throw Unimplemented($"nearest input {input.VariantCase}");
        }

        return Nearest(request.CollectionName, vector, request.Filter, request.HasLimit ? request.Limit : 10, request.HasOffset ? request.Offset : 0,
            request.HasScoreThreshold ? request.ScoreThreshold : null, request.WithPayload, request.WithVectors);
    }

    private List<ScoredPoint> Nearest(string collection, float[] query, Filter? filter, ulong limit, ulong offset, float? threshold, WithPayloadSelector? withPayload, WithVectorsSelector? withVectors)
    {
        if (withVectors is { SelectorOptionsCase: WithVectorsSelector.SelectorOptionsOneofCase.Enable, Enable: true })
        {
            throw Unimplemented("with_vectors");
        }

        lock (_lock)
        {
            var c = Resolve(collection);
            if (query.Length != (int)c.Vectors.Size)
            {
                throw InvalidArgument($"Wrong input: Vector dimension error: expected dim: {c.Vectors.Size}, got {query.Length}");
            }

            var q = Prepare(query, c.Vectors.Distance);
            var scored = c.Points.Values
                .Where(p => filter is null || Matches(filter, p))
                .Select(p => (Point: p, Score: Score(q, p.Vector, c.Vectors.Distance)))
                .Where(s => threshold is null || (c.Vectors.Distance == Distance.Euclid ? s.Score <= threshold : s.Score >= threshold))
                .OrderBy(s => c.Vectors.Distance == Distance.Euclid ? s.Score : -s.Score)
                .ThenBy(s => Key(s.Point.Id), StringComparer.Ordinal)
                .Skip((int)Math.Min(offset, int.MaxValue))
                .Take((int)Math.Min(limit, int.MaxValue));
            return [.. scored.Select(s =>
            {
                var hit = new ScoredPoint { Id = s.Point.Id.Clone(), Score = s.Score, Version = s.Point.Version };
                hit.Payload.Add(SelectPayload(s.Point.Payload, withPayload));
                return hit;
            })];
        }
    }

    // ---- semantics ---------------------------------------------------------------------------------------------

    private static float[] Prepare(float[] vector, Distance distance)
    {
        if (distance != Distance.Cosine)
        {
            return vector;
        }

        // Qdrant normalises vectors of cosine collections on the way in; a cosine is then a dot product.
        var norm = TensorPrimitives.Norm(vector);
        return norm == 0 ? vector : [.. vector.Select(x => x / norm)];
    }

    private static float Score(float[] q, float[] v, Distance distance) =>
        distance == Distance.Euclid ? TensorPrimitives.Distance(q, v) : TensorPrimitives.Dot(q, v);

    private static float[] DenseOf(PointStruct point, Collection c)
    {
        if (point.Vectors?.VectorsOptionsCase != Vectors.VectorsOptionsOneofCase.Vector)
        {
            throw Unimplemented("named vectors (only a single unnamed dense vector is supported)");
        }

        var v = point.Vectors.Vector;
        float[] data;
#pragma warning disable CS0612, CS0618 // Vector.data is the deprecated encoding older clients still send; accept both
        if (v.Dense is { } dense)
        {
            data = [.. dense.Data];
        }
        else if (v.Sparse is null && v.MultiDense is null && v.Indices is null)
        {
            data = [.. v.Data];
        }
        else
        {
            throw Unimplemented("sparse / multi-dense vectors");
        }
#pragma warning restore CS0612, CS0618

        if (data.Length != (int)c.Vectors.Size)
        {
            throw InvalidArgument($"Wrong input: Vector dimension error: expected dim: {c.Vectors.Size}, got {data.Length}");
        }

        return Prepare(data, c.Vectors.Distance);
    }

    private static MapField<string, Value> SelectPayload(MapField<string, Value> payload, WithPayloadSelector? selector)
    {
        var result = new MapField<string, Value>();
        switch (selector?.SelectorOptionsCase)
        {
            case WithPayloadSelector.SelectorOptionsOneofCase.Enable when selector.Enable:
                result.Add(payload);
                break;
            case WithPayloadSelector.SelectorOptionsOneofCase.Include:
                foreach (var field in selector.Include.Fields)
                {
                    if (payload.TryGetValue(field, out var v))
                    {
                        result[field] = v.Clone();
                    }
                }

                break;
            case WithPayloadSelector.SelectorOptionsOneofCase.Exclude:
                foreach (var (k, v) in payload)
                {
                    if (!selector.Exclude.Fields.Contains(k))
                    {
                        result[k] = v.Clone();
                    }
                }

                break;
        }

        return result;
    }

    internal static bool Matches(Filter filter, StoredPoint point)
    {
        if (filter.Must.Any(c => !Matches(c, point)))
        {
            return false;
        }

        if (filter.MustNot.Any(c => Matches(c, point)))
        {
            return false;
        }

        if (filter.Should.Count > 0 && !filter.Should.Any(c => Matches(c, point)))
        {
            return false;
        }

        if (filter.MinShould is { } min && min.Conditions.Count(c => Matches(c, point)) < (int)min.MinCount)
        {
            return false;
        }

        return true;
    }

    private static bool Matches(Condition condition, StoredPoint point) => condition.ConditionOneOfCase switch
    {
        Condition.ConditionOneOfOneofCase.Field => Matches(condition.Field, point.Payload),
        Condition.ConditionOneOfOneofCase.Filter => Matches(condition.Filter, point),
        Condition.ConditionOneOfOneofCase.HasId => condition.HasId.HasId.Any(id => Key(id) == Key(point.Id)),
        Condition.ConditionOneOfOneofCase.IsEmpty => Values(point.Payload, condition.IsEmpty.Key).All(v => v.KindCase == Value.KindOneofCase.NullValue),
        Condition.ConditionOneOfOneofCase.IsNull => point.Payload.TryGetValue(condition.IsNull.Key, out var v) && v.KindCase == Value.KindOneofCase.NullValue,
        _ => throw Unimplemented($"condition {condition.ConditionOneOfCase}"),
    };

    private static bool Matches(FieldCondition field, MapField<string, Value> payload)
    {
        var values = Values(payload, field.Key);
        var tested = false;
        if (field.Match is { } match)
        {
            tested = true;
            if (!MatchesAny(match, values))
            {
                return false;
            }
        }

        if (field.Range is { } range)
        {
            tested = true;
            if (!values.Any(v => Number(v) is { } x
                                 && (!range.HasLt || x < range.Lt) && (!range.HasLte || x <= range.Lte)
                                 && (!range.HasGt || x > range.Gt) && (!range.HasGte || x >= range.Gte)))
            {
                return false;
            }
        }

        if (field.DatetimeRange is { } dt)
        {
            tested = true;
            if (!values.Any(v => Datetime(v) is { } t
                                 && (dt.Lt is null || t < dt.Lt.ToDateTimeOffset()) && (dt.Lte is null || t <= dt.Lte.ToDateTimeOffset())
                                 && (dt.Gt is null || t > dt.Gt.ToDateTimeOffset()) && (dt.Gte is null || t >= dt.Gte.ToDateTimeOffset())))
            {
                return false;
            }
        }

        if (field.GeoBoundingBox is not null || field.GeoRadius is not null || field.GeoPolygon is not null || field.ValuesCount is not null
            || field.HasIsEmpty || field.HasIsNull)
        {
            throw Unimplemented("geo / values_count / is_empty / is_null field conditions");
        }

        return tested ? true : throw InvalidArgument($"Field condition on {field.Key} has no condition");
    }

    private static bool MatchesAny(Match match, List<Value> values) => match.MatchValueCase switch
    {
        Match.MatchValueOneofCase.Keyword => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && v.StringValue == match.Keyword),
        Match.MatchValueOneofCase.Keywords => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && match.Keywords.Strings.Contains(v.StringValue)),
        Match.MatchValueOneofCase.ExceptKeywords => !values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && match.ExceptKeywords.Strings.Contains(v.StringValue)),
        Match.MatchValueOneofCase.Integer => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && v.IntegerValue == match.Integer),
        Match.MatchValueOneofCase.Integers => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && match.Integers.Integers.Contains(v.IntegerValue)),
        Match.MatchValueOneofCase.ExceptIntegers => !values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && match.ExceptIntegers.Integers.Contains(v.IntegerValue)),
        Match.MatchValueOneofCase.Boolean => values.Any(v => v.KindCase == Value.KindOneofCase.BoolValue && v.BoolValue == match.Boolean),
        _ => throw Unimplemented($"match {match.MatchValueCase}"),
    };

    /// <summary>The values under a top-level key; arrays are flattened (a condition on an array matches any element).</summary>
    private static List<Value> Values(MapField<string, Value> payload, string key)
    {
        if (key.Contains('.', StringComparison.Ordinal) || key.Contains('[', StringComparison.Ordinal))
        {
            throw Unimplemented($"nested payload keys ({key})");
        }

        if (!payload.TryGetValue(key, out var value))
        {
            return [];
        }

        return value.KindCase == Value.KindOneofCase.ListValue ? [.. value.ListValue.Values] : [value];
    }

    private static double? Number(Value v) => v.KindCase switch
    {
        Value.KindOneofCase.DoubleValue => v.DoubleValue,
        Value.KindOneofCase.IntegerValue => v.IntegerValue,
        _ => null,
    };

    private static DateTimeOffset? Datetime(Value v) =>
        v.KindCase == Value.KindOneofCase.StringValue
        && DateTimeOffset.TryParse(v.StringValue, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : null;

    private static string Key(PointId id) => id.PointIdOptionsCase switch
    {
        PointId.PointIdOptionsOneofCase.Uuid => Guid.TryParse(id.Uuid, out var g) ? g.ToString("D") : throw InvalidArgument($"Unable to parse UUID: {id.Uuid}"),
        PointId.PointIdOptionsOneofCase.Num => id.Num.ToString(CultureInfo.InvariantCulture),
        _ => throw InvalidArgument("empty point id"),
    };

    private Collection Resolve(string name)
    {
        if (_aliases.TryGetValue(name, out var target))
        {
            name = target;
        }

        return _collections.TryGetValue(name, out var c) ? c : throw NotFound($"Not found: Collection `{name}` doesn't exist!");
    }

    private static UpdateResult Completed(ulong operationId) => new() { OperationId = operationId, Status = UpdateStatus.Completed };

    private static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 255 || name.IndexOfAny(['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0']) >= 0)
        {
            throw InvalidArgument($"Validation error in JSON body: [collection_name: value {name} invalid]");
        }
    }

    private static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    private static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static RpcException Unimplemented(string what) => new(new Status(StatusCode.Unimplemented, $"In-process Qdrant test server does not implement {what}."));
}
