namespace LiteVL.VectorIndex;

/// <summary>
/// One indexed video segment: its embedding (256-d, L2-normalised by the encoder; indexes re-normalise defensively so
/// scores are always cosines) and the payload a search filters on or returns.
/// </summary>
public sealed record VectorPoint(
    Guid VideoId,
    int SegmentIndex,
    string TenantId,
    double Start,
    double End,
    string? Title,
    IReadOnlyList<string> Tags,
    DateTimeOffset UploadedAt,
    float[] Vector);

/// <summary>
/// Search/count filter. <see cref="TenantId"/> is mandatory and always applied. The optional constraints combine with
/// AND: <c>null</c> means "no constraint"; an empty list means "any of nothing", so it matches no point.
/// </summary>
/// <param name="TenantId">Tenant whose points are searched; never empty.</param>
public sealed record VectorFilter(string TenantId)
{
    /// <summary>Match points carrying at least one of these tags (any-of).</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>Match points of any of these videos.</summary>
    public IReadOnlyList<Guid>? VideoIds { get; init; }

    /// <summary>Inclusive lower bound on <see cref="VectorPoint.UploadedAt"/>.</summary>
    public DateTimeOffset? UploadedFrom { get; init; }

    /// <summary>Exclusive upper bound on <see cref="VectorPoint.UploadedAt"/> (the range is half-open, [from, to)).</summary>
    public DateTimeOffset? UploadedTo { get; init; }
}

/// <summary>A search hit; <see cref="Score"/> is the cosine similarity between query and segment embedding.</summary>
public sealed record VectorHit(Guid PointId, Guid VideoId, int SegmentIndex, double Start, double End, float Score);

/// <summary>
/// The segment-embedding index: one collection per model version, an "active" alias that can be switched atomically,
/// idempotent upserts (point ids come from <see cref="PointIds.For"/>), and searches that are always tenant-filtered.
/// </summary>
/// <remarks>
/// Errors: a malformed model version, a vector of the wrong length or a missing tenant id throw
/// <see cref="ArgumentException"/> (the message names the expected dimension); a model version whose collection was
/// never created throws <see cref="VectorCollectionNotFoundException"/>.
/// </remarks>
public interface IVectorIndex
{
    /// <summary>Creates the collection of <paramref name="modelVersion"/> if missing; idempotent. Throws
    /// <see cref="InvalidOperationException"/> when it exists with another dimension.</summary>
    Task EnsureCollectionAsync(string modelVersion, int dimensions, CancellationToken ct = default);

    /// <summary>Atomically points the active alias at the collection of <paramref name="modelVersion"/>.</summary>
    Task ActivateAsync(string modelVersion, CancellationToken ct = default);

    /// <summary>The model version the active alias points at, or <c>null</c> when none was activated.</summary>
    Task<string?> GetActiveVersionAsync(CancellationToken ct = default);

    /// <summary>Inserts or replaces points; the id of a point is <see cref="PointIds.For"/>, so a re-delivery replaces
    /// rather than duplicates.</summary>
    Task UpsertAsync(string modelVersion, IReadOnlyList<VectorPoint> points, CancellationToken ct = default);

    /// <summary>Top-<paramref name="limit"/> points by cosine similarity among those matching <paramref name="filter"/>
    /// (the tenant condition is always applied), best first.</summary>
    Task<IReadOnlyList<VectorHit>> SearchAsync(string modelVersion, ReadOnlyMemory<float> query, int limit, VectorFilter filter, CancellationToken ct = default);

    /// <summary>Removes every point of <paramref name="videoId"/>. Returns how many were removed; the Qdrant
    /// implementation counts before deleting (Qdrant's delete does not report a count), so under concurrent writes to
    /// the same video that number is best-effort. Implementations return -1 only when the count is unknown.</summary>
    Task<int> DeleteVideoAsync(string modelVersion, Guid videoId, CancellationToken ct = default);

    /// <summary>Number of points matching <paramref name="filter"/>; all points of the collection (every tenant) when
    /// <paramref name="filter"/> is <c>null</c>.</summary>
    Task<long> CountAsync(string modelVersion, VectorFilter? filter = null, CancellationToken ct = default);
}

/// <summary>Thrown when a model version has no collection (call <see cref="IVectorIndex.EnsureCollectionAsync"/> first).</summary>
public sealed class VectorCollectionNotFoundException : InvalidOperationException
{
    public VectorCollectionNotFoundException()
        : base("The vector collection does not exist.")
    {
    }

    public VectorCollectionNotFoundException(string message)
        : base(message)
    {
    }

    public VectorCollectionNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The model version whose collection is missing.</summary>
    public string? ModelVersion { get; private init; }

    internal static VectorCollectionNotFoundException For(string modelVersion, Exception? inner = null)
    {
        var message = $"No vector collection exists for model version '{modelVersion}'; call EnsureCollectionAsync first.";
        return inner is null
            ? new VectorCollectionNotFoundException(message) { ModelVersion = modelVersion }
            : new VectorCollectionNotFoundException(message, inner) { ModelVersion = modelVersion };
    }
}
