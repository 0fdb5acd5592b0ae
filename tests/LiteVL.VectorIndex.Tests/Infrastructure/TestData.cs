namespace LiteVL.VectorIndex.Tests.Infrastructure;

/// <summary>Deterministic random points and a brute-force reference search.</summary>
internal static class TestData
{
    public const int Dimensions = 256;

    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static float[] UnitVector(Random rng, int dimensions = Dimensions)
    {
        var v = new float[dimensions];
        double norm = 0;
        for (var i = 0; i < v.Length; i++)
        {
            // Box-Muller: Gaussian components give directions uniform on the sphere.
            var g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            v[i] = (float)g;
            norm += g * g;
        }

        var n = (float)Math.Sqrt(norm);
        for (var i = 0; i < v.Length; i++)
        {
            v[i] /= n;
        }

        return v;
    }

    /// <summary><paramref name="videos"/> videos of <paramref name="segments"/> segments each.</summary>
    public static List<VectorPoint> Video(Random rng, string tenant, int videos, int segments, Func<int, string[]>? tags = null, Func<int, DateTimeOffset>? uploaded = null, int dimensions = Dimensions)
    {
        var points = new List<VectorPoint>(videos * segments);
        for (var v = 0; v < videos; v++)
        {
            var id = NewGuid(rng);
            for (var s = 0; s < segments; s++)
            {
                points.Add(new VectorPoint(id, s, tenant, s * 2.0, s * 2.0 + 2.0, $"video {v}", tags?.Invoke(v) ?? [], uploaded?.Invoke(v) ?? Epoch.AddHours(v), UnitVector(rng, dimensions)));
            }
        }

        return points;
    }

    public static Guid NewGuid(Random rng)
    {
        var bytes = new byte[16];
        rng.NextBytes(bytes);
        return new Guid(bytes);
    }

    /// <summary>The exact top-k by cosine, in double precision.</summary>
    public static List<(Guid PointId, double Score)> BruteForce(IEnumerable<VectorPoint> points, float[] query, int k, string modelVersion)
    {
        var q = Normalise(query);
        return [.. points
            .Select(p => (PointId: PointIds.For(p.VideoId, p.SegmentIndex, modelVersion), Score: Dot(Normalise(p.Vector), q)))
            .OrderByDescending(x => x.Score)
            .Take(k)];
    }

    public static double Cosine(float[] a, float[] b) => Dot(Normalise(a), Normalise(b));

    private static double[] Normalise(float[] v)
    {
        var n = Math.Sqrt(v.Sum(x => (double)x * x));
        return [.. v.Select(x => x / n)];
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }
}
