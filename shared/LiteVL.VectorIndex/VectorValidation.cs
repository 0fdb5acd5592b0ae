using System.Numerics.Tensors;

namespace LiteVL.VectorIndex;

/// <summary>Argument checks shared by every <see cref="IVectorIndex"/> implementation, so they fail alike.</summary>
internal static class VectorValidation
{
    public static void Dimensions(int dimensions)
    {
        if (dimensions is < 1 or > 65_536)
        {
            throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "Vector dimension must be between 1 and 65536.");
        }
    }

    public static void Limit(int limit)
    {
        if (limit is < 1 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "Search limit must be between 1 and 100000.");
        }
    }

    public static void Filter(VectorFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (string.IsNullOrWhiteSpace(filter.TenantId))
        {
            throw new ArgumentException("A tenant id is required: every search and count is filtered by tenant.", nameof(filter));
        }

        if (filter.Tags is { } tags && tags.Any(t => t is null))
        {
            throw new ArgumentException("Filter tags must not contain null.", nameof(filter));
        }
    }

    /// <summary>True when the filter can match nothing (an empty any-of list, or an empty time range).</summary>
    public static bool MatchesNothing(VectorFilter filter) =>
        filter.Tags is { Count: 0 }
        || filter.VideoIds is { Count: 0 }
        || (filter.UploadedFrom is { } from && filter.UploadedTo is { } to && to <= from);

    public static void Points(IReadOnlyList<VectorPoint> points, int dimensions, string modelVersion)
    {
        ArgumentNullException.ThrowIfNull(points);
        for (var i = 0; i < points.Count; i++)
        {
            var p = points[i] ?? throw new ArgumentException($"Point {i} is null.", nameof(points));
            if (string.IsNullOrWhiteSpace(p.TenantId))
            {
                throw new ArgumentException($"Point {i} (video {p.VideoId}, segment {p.SegmentIndex}) has no tenant id; a tenant id is required.", nameof(points));
            }

            if (p.SegmentIndex < 0)
            {
                throw new ArgumentException($"Point {i} (video {p.VideoId}) has a negative segment index {p.SegmentIndex}.", nameof(points));
            }

            if (!double.IsFinite(p.Start) || !double.IsFinite(p.End))
            {
                throw new ArgumentException($"Point {i} (video {p.VideoId}, segment {p.SegmentIndex}) has a non-finite start or end.", nameof(points));
            }

            if (p.Tags is not null && p.Tags.Any(t => t is null))
            {
                throw new ArgumentException($"Point {i} (video {p.VideoId}, segment {p.SegmentIndex}) has a null tag.", nameof(points));
            }

            if (p.Vector is null || p.Vector.Length != dimensions)
            {
                throw new ArgumentException(
                    $"Point {i} (video {p.VideoId}, segment {p.SegmentIndex}) has a vector of length {p.Vector?.Length ?? 0}; " +
                    $"the collection of model version '{modelVersion}' expects {dimensions} dimensions.",
                    nameof(points));
            }

            Usable(p.Vector, nameof(points), $"Point {i} (video {p.VideoId}, segment {p.SegmentIndex})");
        }
    }

    public static void Query(ReadOnlySpan<float> query, int dimensions, string modelVersion)
    {
        if (query.Length != dimensions)
        {
            throw new ArgumentException(
                $"Query vector has length {query.Length}; the collection of model version '{modelVersion}' expects {dimensions} dimensions.",
                nameof(query));
        }

        Usable(query, nameof(query), "Query vector");
    }

    private static void Usable(ReadOnlySpan<float> vector, string paramName, string what)
    {
        for (var i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i]))
            {
                throw new ArgumentException($"{what} has a non-finite component at {i}.", paramName);
            }
        }

        if (TensorPrimitives.Norm(vector) == 0f)
        {
            throw new ArgumentException($"{what} is the zero vector; a cosine needs a non-zero vector.", paramName);
        }
    }

    /// <summary>A unit-length copy of <paramref name="vector"/> (cosine distance is a dot product of unit vectors).</summary>
    public static float[] Normalised(ReadOnlySpan<float> vector)
    {
        var result = new float[vector.Length];
        Normalise(vector, result);
        return result;
    }

    public static void Normalise(ReadOnlySpan<float> vector, Span<float> destination)
    {
        var norm = TensorPrimitives.Norm(vector);
        TensorPrimitives.Divide(vector, norm, destination);
    }
}
