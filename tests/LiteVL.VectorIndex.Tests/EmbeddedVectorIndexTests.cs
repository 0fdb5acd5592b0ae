using LiteVL.VectorIndex.Tests.Infrastructure;
using static LiteVL.VectorIndex.Tests.Infrastructure.TestData;

namespace LiteVL.VectorIndex.Tests;

/// <summary>The conformance suite plus persistence, crash and concurrency tests of the embedded index.</summary>
public sealed class EmbeddedVectorIndexTests : VectorIndexConformanceTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "litevl-vector-tests", Guid.NewGuid().ToString("N"));

    private EmbeddedVectorIndex Embedded => (EmbeddedVectorIndex)Index;

    protected override Task<IVectorIndex> CreateIndexAsync() => Task.FromResult<IVectorIndex>(EmbeddedVectorIndex.Open(_directory));

    protected override Task DestroyIndexAsync(IVectorIndex index)
    {
        ((IDisposable)index).Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        return Task.CompletedTask;
    }

    private EmbeddedVectorIndex Reopen(EmbeddedVectorIndex current, EmbeddedVectorIndexOptions? options = null)
    {
        current.Dispose();
        return EmbeddedVectorIndex.Open(_directory, options);
    }

    private static async Task<List<Guid>> AllIdsAsync(EmbeddedVectorIndex index, string version, string tenant) =>
        [.. (await index.SearchAsync(version, UnitVector(new Random(0)), 100_000, new VectorFilter(tenant))).Select(h => h.PointId).Order()];

    private static IEnumerable<Guid> Ids(IEnumerable<VectorPoint> points, string version) =>
        points.Select(p => PointIds.For(p.VideoId, p.SegmentIndex, version)).Order();

    [Fact]
    public async Task State_survives_reopening_with_and_without_compaction()
    {
        var rng = new Random(31);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 20, segments: 10, tags: v => [$"tag{v % 3}"]));
        await SeedAsync(V2, Video(rng, "t1", videos: 1, segments: 2, dimensions: 32), dimensions: 32);
        Assert.Equal(10, await Index.DeleteVideoAsync(V1, points[0].VideoId));
        await Index.ActivateAsync(V1);
        var query = UnitVector(rng);
        var before = await Index.SearchAsync(V1, query, 25, new VectorFilter("t1") { Tags = ["tag1", "tag2"] });

        // 1. Replay from the log alone.
        var index = Reopen(Embedded);
        Assert.Equal(V1, await index.GetActiveVersionAsync());
        Assert.Equal(190, await index.CountAsync(V1));
        Assert.Equal(2, await index.CountAsync(V2));
        Assert.Equal(before, await index.SearchAsync(V1, query, 25, new VectorFilter("t1") { Tags = ["tag1", "tag2"] }));

        // 2. Compacted: snapshot + an empty log.
        await index.CompactAsync(V1);
        var logAfterCompaction = await index.GetLogBytesAsync(V1);
        Assert.True(File.Exists(index.GetCollectionBasePath(V1) + ".snapshot"));
        index = Reopen(index);
        Assert.Equal(190, await index.CountAsync(V1));
        Assert.Equal(before, await index.SearchAsync(V1, query, 25, new VectorFilter("t1") { Tags = ["tag1", "tag2"] }));

        // 3. Snapshot + log, and size-triggered compaction on the way.
        index = Reopen(index, new EmbeddedVectorIndexOptions { CompactAfterLogBytes = 8_000 });
        await index.DeleteVideoAsync(V1, points[10].VideoId);
        await index.UpsertAsync(V1, points.Take(10).ToList());           // brings video 0 back, ~11 kB > 8 kB: compacts
        Assert.Equal(logAfterCompaction, await index.GetLogBytesAsync(V1));
        await index.DeleteVideoAsync(V1, points[20].VideoId);            // stays in the new log
        Assert.True(await index.GetLogBytesAsync(V1) > logAfterCompaction);
        index = Reopen(index);
        Assert.Equal(180, await index.CountAsync(V1));
        Assert.Equal(Ids(points.Where(p => p.VideoId != points[10].VideoId && p.VideoId != points[20].VideoId), V1), await AllIdsAsync(index, V1, "t1"));
        index.Dispose();
    }

    [Theory]
    [InlineData(1)]      // the last byte of the last record
    [InlineData(7)]      // inside the last record's payload
    [InlineData(-1)]     // all but the first byte of the last record (a frame header cut short)
    public async Task A_torn_last_record_is_dropped_and_nothing_before_it_is_lost(int cut)
    {
        var rng = new Random(32);
        var first = await SeedAsync(V1, Video(rng, "t1", videos: 3, segments: 5));
        var path = Embedded.GetCollectionBasePath(V1) + ".log";
        var lengthBefore = new FileInfo(path).Length;
        var second = Video(rng, "t1", videos: 1, segments: 5);
        await Index.UpsertAsync(V1, second);
        var lengthAfter = new FileInfo(path).Length;
        Embedded.Dispose();

        // A crash mid-append: the file ends inside the last record.
        var keep = cut > 0 ? lengthAfter - cut : lengthBefore + 1;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            fs.SetLength(keep);
        }

        var index = EmbeddedVectorIndex.Open(_directory);
        Assert.Equal(15, await index.CountAsync(V1));
        Assert.Equal(Ids(first, V1), await AllIdsAsync(index, V1, "t1"));
        Assert.Equal(lengthBefore, new FileInfo(path).Length); // the torn tail was truncated away

        // Appends continue after the last whole record and survive another restart.
        await index.UpsertAsync(V1, second);
        index.Dispose();
        index = EmbeddedVectorIndex.Open(_directory);
        Assert.Equal(Ids([.. first, .. second], V1), await AllIdsAsync(index, V1, "t1"));
        index.Dispose();
    }

    [Fact]
    public async Task Garbage_after_the_last_record_is_ignored_but_a_damaged_snapshot_is_an_error()
    {
        var rng = new Random(33);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 2, segments: 4));
        var basePath = Embedded.GetCollectionBasePath(V1);
        Embedded.Dispose();
        await File.AppendAllTextAsync(basePath + ".log", "\u0010\0\0\0garbage that is not a record");

        var index = EmbeddedVectorIndex.Open(_directory);
        Assert.Equal(Ids(points, V1), await AllIdsAsync(index, V1, "t1"));
        await index.CompactAsync(V1);
        index.Dispose();

        var bytes = await File.ReadAllBytesAsync(basePath + ".snapshot");
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(basePath + ".snapshot", bytes);
        index = EmbeddedVectorIndex.Open(_directory);
        await Assert.ThrowsAsync<InvalidDataException>(() => index.CountAsync(V1));
        index.Dispose();
    }

    [Fact]
    public async Task A_crash_between_publishing_the_snapshot_and_the_new_log_replays_nothing_twice()
    {
        var rng = new Random(34);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 4, segments: 5));
        await Index.DeleteVideoAsync(V1, points[0].VideoId);
        var basePath = Embedded.GetCollectionBasePath(V1);
        var oldLog = await File.ReadAllBytesAsync(basePath + ".log");
        await Embedded.CompactAsync(V1);
        await Index.UpsertAsync(V1, points.Take(5).ToList());   // in the new log only
        Embedded.Dispose();

        // Simulate the crash: the generation-1 snapshot was renamed in, but the log is still the generation-0 one
        // (and a half-written temp file lies around).
        await File.WriteAllBytesAsync(basePath + ".log", oldLog);
        await File.WriteAllTextAsync(basePath + ".snapshot.tmp", "half");
        var index = EmbeddedVectorIndex.Open(_directory);
        Assert.Equal(Ids(points.Skip(5), V1), await AllIdsAsync(index, V1, "t1"));
        Assert.False(File.Exists(basePath + ".snapshot.tmp"));
        await index.UpsertAsync(V1, points.Take(5).ToList());
        index.Dispose();
        index = EmbeddedVectorIndex.Open(_directory);
        Assert.Equal(Ids(points, V1), await AllIdsAsync(index, V1, "t1"));
        index.Dispose();
    }

    [Fact]
    public async Task Concurrent_searches_during_writes_see_only_well_formed_results()
    {
        var rng = new Random(35);
        var initial = await SeedAsync(V1, Video(rng, "t1", videos: 50, segments: 20));
        var batches = Enumerable.Range(0, 40).Select(_ => Video(rng, "t1", videos: 2, segments: 20)).ToList();
        var known = initial.Concat(batches.SelectMany(b => b)).ToDictionary(p => PointIds.For(p.VideoId, p.SegmentIndex, V1));
        var queries = Enumerable.Range(0, 16).Select(_ => UnitVector(rng)).ToList();
        using var done = new CancellationTokenSource();
        var searches = 0;

        // Dedicated threads: eight spinning readers must not starve the thread pool the writer's awaits continue on.
        var readers = Enumerable.Range(0, 8).Select(r => Task.Factory.StartNew(() =>
        {
            var i = r;
            while (!done.IsCancellationRequested || i < r + 16)
            {
                var hits = Embedded.Search(V1, queries[i++ % queries.Count], 20, new VectorFilter("t1"));
                Assert.Equal(20, hits.Count);
                Assert.Equal(20, hits.Select(h => h.PointId).Distinct().Count());
                for (var k = 0; k < hits.Count; k++)
                {
                    var h = hits[k];
                    var p = known[h.PointId];
                    Assert.Equal((p.VideoId, p.SegmentIndex, p.Start, p.End), (h.VideoId, h.SegmentIndex, h.Start, h.End));
                    Assert.InRange(h.Score, -1.0001f, 1.0001f);
                    Assert.True(k == 0 || hits[k - 1].Score >= h.Score);
                }

                Interlocked.Increment(ref searches);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();

        var writer = Task.Run(async () =>
        {
            try
            {
                foreach (var (batch, n) in batches.Select((b, n) => (b, n)))
                {
                    await Index.UpsertAsync(V1, batch);
                    if (n % 5 == 4)
                    {
                        await Index.DeleteVideoAsync(V1, batch[0].VideoId);
                    }
                }
            }
            finally
            {
                await done.CancelAsync();
            }
        });

        await Task.WhenAll([writer, .. readers]);
        Assert.True(searches >= 8 * 16);
        Assert.Equal(1_000 + (40 * 40) - (8 * 20), await Index.CountAsync(V1));
    }

    [Fact]
    public async Task Parallel_scan_gives_the_same_results_as_a_sequential_scan()
    {
        var rng = new Random(36);
        var points = await SeedAsync(V1, Video(rng, "t1", videos: 100, segments: 400, tags: v => [$"t{v % 4}"]));   // 40,000
        var filter = new VectorFilter("t1") { Tags = ["t1", "t3"] };
        var queries = Enumerable.Range(0, 4).Select(_ => UnitVector(rng)).ToList();
        var sequential = queries.Select(q => Embedded.Search(V1, q, 50, filter)).ToList();
        using var parallel = Reopen(Embedded, new EmbeddedVectorIndexOptions { SearchParallelism = 4 });
        for (var i = 0; i < queries.Count; i++)
        {
            var expected = BruteForce(points.Where(p => p.Tags[0] is "t1" or "t3"), queries[i], 50, V1);
            Assert.Equal(expected.Select(e => e.PointId), sequential[i].Select(h => h.PointId));
            Assert.Equal(sequential[i], parallel.Search(V1, queries[i], 50, filter));
        }
    }

    [Fact]
    public async Task Versions_that_need_sanitising_get_distinct_files()
    {
        await Index.EnsureCollectionAsync("a/b", 8);
        await Index.EnsureCollectionAsync("a_b", 8);
        await Index.EnsureCollectionAsync("active", 8);
        var names = Directory.GetFiles(_directory, "*.log").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(3, names.Count);
        Assert.Contains("litevl_a_b.log", names);
        Assert.All(names, n => Assert.DoesNotContain("/", n!, StringComparison.Ordinal));
        Assert.DoesNotContain("litevl_active.log", names);
    }
}
