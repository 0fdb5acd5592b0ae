using LiteVL.VectorIndex.Tests.Infrastructure;
using static LiteVL.VectorIndex.Tests.Infrastructure.TestData;

namespace LiteVL.VectorIndex.Tests;

/// <summary>
/// The behaviour every <see cref="IVectorIndex"/> must have. Concrete subclasses provide the index; each test gets a
/// fresh, empty one (its own directory, or its own collection prefix on a shared Qdrant). The tests are
/// [SkippableFact]s so that a subclass whose index needs a server can require it in <see cref="CreateIndexAsync"/>
/// (LiteVL.Testing's <c>Servers.Require</c>): every inherited test of that class is then skipped with the policy's message.
/// </summary>
public abstract class VectorIndexConformanceTests : IAsyncLifetime
{
    protected const string V1 = "v1";
    protected const string V2 = "v2";

    private IVectorIndex? _index;

    protected IVectorIndex Index => _index ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>A new, empty index.</summary>
    protected abstract Task<IVectorIndex> CreateIndexAsync();

    /// <summary>Releases the index and whatever it stored.</summary>
    protected abstract Task DestroyIndexAsync(IVectorIndex index);

    public async Task InitializeAsync() => _index = await CreateIndexAsync();

    public async Task DisposeAsync()
    {
        if (_index is not null)
        {
            await DestroyIndexAsync(_index);
        }
    }

    protected async Task<List<VectorPoint>> SeedAsync(string version, List<VectorPoint> points, int dimensions = Dimensions)
    {
        await Index.EnsureCollectionAsync(version, dimensions);
        await Index.UpsertAsync(version, points);
        return points;
    }

    private static void AssertWellFormed(IReadOnlyList<VectorHit> hits, IEnumerable<VectorPoint> candidates, string version, int limit)
    {
        Assert.True(hits.Count <= limit);
        var byId = candidates.ToDictionary(p => PointIds.For(p.VideoId, p.SegmentIndex, version));
        Assert.Equal(hits.Count, hits.Select(h => h.PointId).Distinct().Count());
        for (var i = 0; i < hits.Count; i++)
        {
            var h = hits[i];
            Assert.True(byId.TryGetValue(h.PointId, out var p), $"hit {h.PointId} is not among the points that may match");
            Assert.Equal(p.VideoId, h.VideoId);
            Assert.Equal(p.SegmentIndex, h.SegmentIndex);
            Assert.Equal(p.Start, h.Start);
            Assert.Equal(p.End, h.End);
            Assert.InRange(h.Score, -1.0001f, 1.0001f);
            if (i > 0)
            {
                Assert.True(hits[i - 1].Score >= h.Score, "hits are not sorted best first");
            }
        }
    }

    [SkippableFact]
    public async Task Search_is_the_exact_top_k_of_a_brute_force_scan()
    {
        var rng = new Random(1234);
        var mine = Video(rng, "t1", videos: 90, segments: 20);        // 1,800
        var others = Video(rng, "t2", videos: 10, segments: 20);      // 200
        await SeedAsync(V1, [.. mine, .. others]);
        Assert.Equal(2_000, await Index.CountAsync(V1));

        var queries = Enumerable.Range(0, 6).Select(_ => UnitVector(rng)).Concat([mine[17].Vector, others[3].Vector]).ToList();
        foreach (var (query, limit) in queries.Select((q, i) => (q, i % 2 == 0 ? 10 : 57)))
        {
            var expected = BruteForce(mine, query, limit, V1);
            var hits = await Index.SearchAsync(V1, query, limit, new VectorFilter("t1"));
            Assert.Equal(limit, hits.Count);
            Assert.Equal(expected.Select(e => e.PointId), hits.Select(h => h.PointId));
            for (var i = 0; i < limit; i++)
            {
                Assert.Equal(expected[i].Score, hits[i].Score, 1e-4);
            }

            AssertWellFormed(hits, mine, V1, limit);
        }

        // A stored vector finds itself first, with cosine 1.
        var self = await Index.SearchAsync(V1, mine[17].Vector, 1, new VectorFilter("t1"));
        Assert.Equal(PointIds.For(mine[17].VideoId, 17 % 20, V1), self[0].PointId);
        Assert.Equal(1.0, self[0].Score, 1e-4);
    }

    [SkippableFact]
    public async Task Search_never_returns_another_tenants_points_whatever_the_other_filters_say()
    {
        var rng = new Random(7);
        var a = Video(rng, "tenant-a", videos: 3, segments: 5, tags: _ => ["shared", "a-only"]);
        var b = Video(rng, "tenant-b", videos: 3, segments: 5, tags: _ => ["shared", "b-only"]);

        // Tenant B owns exact copies of A's vectors: only the filter can tell them apart.
        b = [.. b.Select((p, i) => p with { Vector = a[i].Vector })];
        await SeedAsync(V1, [.. a, .. b]);

        var bVideos = b.Select(p => p.VideoId).Distinct().ToList();
        var filters = new[]
        {
            new VectorFilter("tenant-a"),
            new VectorFilter("tenant-a") { Tags = ["shared", "b-only"] },
            new VectorFilter("tenant-a") { VideoIds = [.. bVideos, a[0].VideoId] },
            new VectorFilter("tenant-a") { UploadedFrom = Epoch.AddYears(-10), UploadedTo = Epoch.AddYears(10) },
        };
        foreach (var filter in filters)
        {
            foreach (var query in b.Take(5).Select(p => p.Vector))
            {
                var hits = await Index.SearchAsync(V1, query, 100, filter);
                Assert.NotEmpty(hits);
                Assert.All(hits, h => Assert.DoesNotContain(h.VideoId, bVideos));
                AssertWellFormed(hits, a, V1, 100);
            }
        }

        Assert.Empty(await Index.SearchAsync(V1, a[0].Vector, 10, new VectorFilter("tenant-a") { VideoIds = bVideos }));
        Assert.Empty(await Index.SearchAsync(V1, a[0].Vector, 10, new VectorFilter("tenant-a") { Tags = ["b-only"] }));
        Assert.Empty(await Index.SearchAsync(V1, a[0].Vector, 10, new VectorFilter("tenant-c")));
        Assert.Equal(15, (await Index.SearchAsync(V1, a[0].Vector, 100, new VectorFilter("tenant-b"))).Count);
        Assert.Equal(15, await Index.CountAsync(V1, new VectorFilter("tenant-a")));
        Assert.Equal(0, await Index.CountAsync(V1, new VectorFilter("tenant-a") { VideoIds = bVideos }));
        Assert.Equal(30, await Index.CountAsync(V1));
    }

    [SkippableFact]
    public async Task Tag_filter_matches_points_with_any_of_the_tags()
    {
        var rng = new Random(11);
        string[][] tagSets = [["cat"], ["dog"], ["cat", "dog"], ["bird"], [], ["Cat"]];
        var points = Video(rng, "t1", videos: tagSets.Length, segments: 4, tags: v => tagSets[v]);
        await SeedAsync(V1, points);

        async Task Check(string[] tags)
        {
            var filter = new VectorFilter("t1") { Tags = tags };
            var expected = points.Where(p => p.Tags.Intersect(tags, StringComparer.Ordinal).Any()).Select(p => PointIds.For(p.VideoId, p.SegmentIndex, V1)).Order().ToList();
            var hits = await Index.SearchAsync(V1, UnitVector(rng), 1_000, filter);
            Assert.Equal(expected, hits.Select(h => h.PointId).Order());
            Assert.Equal(expected.Count, await Index.CountAsync(V1, filter));
        }

        await Check(["cat"]);                 // 2 videos (case-sensitive: "Cat" is another tag)
        await Check(["cat", "bird"]);         // 3 videos
        await Check(["dog", "nothing"]);      // 2 videos
        await Check(["nothing"]);             // none
        Assert.Empty(await Index.SearchAsync(V1, UnitVector(rng), 10, new VectorFilter("t1") { Tags = [] }));
    }

    [SkippableFact]
    public async Task Video_filter_matches_exactly_those_videos()
    {
        var rng = new Random(12);
        var points = Video(rng, "t1", videos: 8, segments: 6);
        await SeedAsync(V1, points);
        var wanted = new[] { points[0].VideoId, points[30].VideoId, NewGuid(rng) };
        var filter = new VectorFilter("t1") { VideoIds = wanted };
        var hits = await Index.SearchAsync(V1, UnitVector(rng), 1_000, filter);
        Assert.Equal(12, hits.Count);
        Assert.All(hits, h => Assert.Contains(h.VideoId, wanted));
        AssertWellFormed(hits, points.Where(p => wanted.Contains(p.VideoId)), V1, 1_000);
        Assert.Equal(12, await Index.CountAsync(V1, filter));

        // Combined with a tenant that does not own them: nothing.
        Assert.Empty(await Index.SearchAsync(V1, UnitVector(rng), 10, new VectorFilter("t2") { VideoIds = wanted }));
        Assert.Empty(await Index.SearchAsync(V1, UnitVector(rng), 10, new VectorFilter("t1") { VideoIds = [] }));
    }

    [SkippableFact]
    public async Task Upload_time_range_is_half_open_from_inclusive_to_exclusive()
    {
        var rng = new Random(13);
        // Video v uploaded at Epoch + v hours (v = 0..9), with a sub-second offset that must survive the round trip.
        var points = Video(rng, "t1", videos: 10, segments: 3, uploaded: v => Epoch.AddHours(v).AddMilliseconds(250));
        await SeedAsync(V1, points);

        async Task Check(DateTimeOffset? from, DateTimeOffset? to, int expectedVideos)
        {
            var filter = new VectorFilter("t1") { UploadedFrom = from, UploadedTo = to };
            var expected = points.Where(p => (from is null || p.UploadedAt >= from) && (to is null || p.UploadedAt < to)).ToList();
            Assert.Equal(expectedVideos * 3, expected.Count);
            var hits = await Index.SearchAsync(V1, UnitVector(rng), 1_000, filter);
            Assert.Equal(expected.Select(p => PointIds.For(p.VideoId, p.SegmentIndex, V1)).Order(), hits.Select(h => h.PointId).Order());
            Assert.Equal(expected.Count, await Index.CountAsync(V1, filter));
        }

        var at = (int h) => Epoch.AddHours(h).AddMilliseconds(250);
        await Check(at(2), at(5), 3);                        // videos 2, 3, 4: from is inclusive, to exclusive
        await Check(at(2).AddTicks(10), at(5).AddTicks(10), 3); // 3, 4, 5
        await Check(at(7), null, 3);                          // 7, 8, 9
        await Check(null, at(1), 1);                          // 0
        await Check(at(3), at(3), 0);                         // empty range
        await Check(at(0).AddHours(-1), at(9).AddHours(1), 10);
        // The same instant in another offset is the same instant.
        await Check(at(2).ToOffset(TimeSpan.FromHours(5)), at(4).ToOffset(TimeSpan.FromHours(-3)), 2);
    }

    [SkippableFact]
    public async Task Upserting_the_same_segments_twice_replaces_them()
    {
        var rng = new Random(14);
        var points = Video(rng, "t1", videos: 5, segments: 10);
        await SeedAsync(V1, points);
        await Index.UpsertAsync(V1, points);
        Assert.Equal(50, await Index.CountAsync(V1));

        // A re-delivery with new data for one video: same ids, new payload and vector.
        var video = points[0].VideoId;
        var replaced = points.Where(p => p.VideoId == video).Select(p => p with { Start = p.Start + 100, End = p.End + 100, Vector = UnitVector(rng) }).ToList();
        await Index.UpsertAsync(V1, replaced);
        Assert.Equal(50, await Index.CountAsync(V1));
        var hit = Assert.Single(await Index.SearchAsync(V1, replaced[3].Vector, 1, new VectorFilter("t1")));
        Assert.Equal(PointIds.For(video, 3, V1), hit.PointId);
        Assert.Equal(replaced[3].Start, hit.Start);
        Assert.Equal(replaced[3].End, hit.End);
        Assert.Equal(1.0, hit.Score, 1e-4);

        // Duplicates within one batch collapse too.
        await Index.UpsertAsync(V1, [replaced[0], replaced[0], replaced[1]]);
        Assert.Equal(50, await Index.CountAsync(V1));
        await Index.UpsertAsync(V1, []);
        Assert.Equal(50, await Index.CountAsync(V1));
    }

    [SkippableFact]
    public async Task Deleting_a_video_removes_exactly_its_points()
    {
        var rng = new Random(15);
        var points = Video(rng, "t1", videos: 6, segments: 7);
        var other = Video(rng, "t2", videos: 1, segments: 3);
        await SeedAsync(V1, [.. points, .. other]);
        var victim = points[14].VideoId;

        Assert.Equal(7, await Index.DeleteVideoAsync(V1, victim));
        Assert.Equal(38, await Index.CountAsync(V1));
        Assert.Equal(35, await Index.CountAsync(V1, new VectorFilter("t1")));
        Assert.Equal(0, await Index.CountAsync(V1, new VectorFilter("t1") { VideoIds = [victim] }));
        var hits = await Index.SearchAsync(V1, points[14].Vector, 1_000, new VectorFilter("t1"));
        Assert.Equal(35, hits.Count);
        Assert.DoesNotContain(hits, h => h.VideoId == victim);
        AssertWellFormed(hits, points.Where(p => p.VideoId != victim), V1, 1_000);

        Assert.Equal(0, await Index.DeleteVideoAsync(V1, victim));
        Assert.Equal(0, await Index.DeleteVideoAsync(V1, NewGuid(rng)));
        Assert.Equal(38, await Index.CountAsync(V1));

        // Re-indexing the video brings back exactly its points.
        await Index.UpsertAsync(V1, [.. points.Where(p => p.VideoId == victim)]);
        Assert.Equal(45, await Index.CountAsync(V1));
    }

    [SkippableFact]
    public async Task Collections_per_model_version_are_independent_and_activation_switches_the_active_version()
    {
        var rng = new Random(16);
        Assert.Null(await Index.GetActiveVersionAsync());
        var p1 = await SeedAsync(V1, Video(rng, "t1", videos: 2, segments: 5));
        var p2 = await SeedAsync(V2, Video(rng, "t1", videos: 1, segments: 4, dimensions: 64), dimensions: 64);
        Assert.Equal(10, await Index.CountAsync(V1));
        Assert.Equal(4, await Index.CountAsync(V2));

        // Same video and segment under two versions: two different points.
        Assert.NotEqual(PointIds.For(p1[0].VideoId, 0, V1), PointIds.For(p1[0].VideoId, 0, V2));
        var hit = Assert.Single(await Index.SearchAsync(V2, p2[1].Vector, 1, new VectorFilter("t1")));
        Assert.Equal(PointIds.For(p2[1].VideoId, 1, V2), hit.PointId);
        Assert.Equal(5, await Index.DeleteVideoAsync(V1, p1[0].VideoId));
        Assert.Equal(4, await Index.CountAsync(V2));

        await Index.ActivateAsync(V1);
        Assert.Equal(V1, await Index.GetActiveVersionAsync());
        await Index.ActivateAsync(V2);
        Assert.Equal(V2, await Index.GetActiveVersionAsync());
        await Index.ActivateAsync(V2);
        Assert.Equal(V2, await Index.GetActiveVersionAsync());
        await Assert.ThrowsAsync<VectorCollectionNotFoundException>(() => Index.ActivateAsync("v3"));
        Assert.Equal(V2, await Index.GetActiveVersionAsync());

        // Versions that need sanitising stay distinct, and report their original spelling.
        await Index.EnsureCollectionAsync("BLIP base/1.0", Dimensions);
        await Index.EnsureCollectionAsync("blip_base_1.0", Dimensions);
        await Index.UpsertAsync("BLIP base/1.0", p1.Take(2).ToList());
        Assert.Equal(2, await Index.CountAsync("BLIP base/1.0"));
        Assert.Equal(0, await Index.CountAsync("blip_base_1.0"));
        await Index.ActivateAsync("BLIP base/1.0");
        Assert.Equal("BLIP base/1.0", await Index.GetActiveVersionAsync());
    }

    [SkippableFact]
    public async Task EnsureCollection_is_idempotent_and_refuses_another_dimension()
    {
        var rng = new Random(17);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 1, segments: 3));
        await Index.EnsureCollectionAsync(V1, Dimensions);
        Assert.Equal(3, await Index.CountAsync(V1));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Index.EnsureCollectionAsync(V1, 128));
        Assert.Contains("256", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, await Index.CountAsync(V1));
        Assert.Single(await Index.SearchAsync(V1, points[0].Vector, 1, new VectorFilter("t1")));
    }

    [SkippableFact]
    public async Task Invalid_arguments_get_clear_exceptions()
    {
        var rng = new Random(18);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 1, segments: 2));
        var shortPoint = points[0] with { Vector = new float[255] };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Index.UpsertAsync(V1, [points[1], shortPoint]));
        Assert.Contains("256", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(() => Index.SearchAsync(V1, new float[300], 5, new VectorFilter("t1")));
        Assert.Contains("256", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, await Index.CountAsync(V1)); // the rejected batch wrote nothing

        await Assert.ThrowsAsync<ArgumentException>(() => Index.UpsertAsync(V1, [points[0] with { TenantId = "" }]));
        await Assert.ThrowsAsync<ArgumentException>(() => Index.UpsertAsync(V1, [points[0] with { Vector = new float[256] }]));
        await Assert.ThrowsAsync<ArgumentException>(() => Index.SearchAsync(V1, points[0].Vector, 5, new VectorFilter(" ")));
        await Assert.ThrowsAsync<ArgumentException>(() => Index.CountAsync(V1, new VectorFilter("")));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Index.SearchAsync(V1, points[0].Vector, 0, new VectorFilter("t1")));

        await Assert.ThrowsAsync<ArgumentException>(() => Index.EnsureCollectionAsync("", Dimensions));
        await Assert.ThrowsAsync<ArgumentException>(() => Index.SearchAsync(" ", points[0].Vector, 5, new VectorFilter("t1")));
        var missing = await Assert.ThrowsAsync<VectorCollectionNotFoundException>(() => Index.SearchAsync("unknown", points[0].Vector, 5, new VectorFilter("t1")));
        Assert.Contains("unknown", missing.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<VectorCollectionNotFoundException>(() => Index.UpsertAsync("unknown", points));
        await Assert.ThrowsAsync<VectorCollectionNotFoundException>(() => Index.CountAsync("unknown"));
        await Assert.ThrowsAsync<VectorCollectionNotFoundException>(() => Index.DeleteVideoAsync("unknown", points[0].VideoId));
    }
}
