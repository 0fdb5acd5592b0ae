using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard.Tests;

/// <summary>
/// The overview's figures computed on both databases (the embedded host runs SQLite, the distributed mode PostgreSQL)
/// from timelines with known times: counts, per-minute throughput and nearest-rank percentiles per stage.
/// </summary>
public sealed class DashboardStatisticsTests
{
    private static readonly DateTime T0 = new(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc);

    [SkippableTheory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task Counts_throughput_and_stage_percentiles_come_from_the_timelines(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        await using var scope = database.Scope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();

        db.Tenants.Add(new Tenant { Id = "stats", CreatedAt = T0 });

        // Seconds after T0 at which each video reached Uploaded, Extracted, Encoded, Indexed (null: never).
        Seed(db, VideoState.Indexed, 0, 2, 3, 4);
        Seed(db, VideoState.Indexed, 0, 4, 6, 10);
        Seed(db, VideoState.Indexed, 65, 66, 67, 69); // the next minute
        Seed(db, VideoState.Failed, 1, null, null, null);
        await db.SaveChangesAsync();

        var clock = new FixedClock(T0.AddMinutes(2).AddSeconds(30));
        var statistics = new DashboardStatistics(db, clock, Options.Create(new DashboardOptions { ThroughputMinutes = 5 }));

        var counts = (await statistics.CountsByStateAsync(CancellationToken.None)).ToDictionary(c => c.State, c => c.Count);
        Assert.Equal((3, 1, 0), (counts[VideoState.Indexed], counts[VideoState.Failed], counts[VideoState.Uploaded]));

        var throughput = await statistics.ThroughputAsync(CancellationToken.None);
        Assert.Equal(T0.AddMinutes(-2), throughput.Start); // 5 one-minute buckets ending with the current minute
        Assert.Equal([0, 0, 3, 1, 0], throughput.Uploaded);
        Assert.Equal([0, 0, 2, 1, 0], throughput.Indexed);

        var latencies = (await statistics.LatenciesAsync(CancellationToken.None)).ToDictionary(l => l.Stage);
        // extract: 2, 4, 1 s; encode: 1, 2, 1 s; index: 1, 4, 2 s; total: 4, 10, 4 s (nearest rank: p50 of 3 = 2nd).
        Assert.Equal((3, 2.0, 4.0, 4.0, 4.0), Row(latencies["extract"]));
        Assert.Equal((3, 1.0, 2.0, 2.0, 2.0), Row(latencies["encode"]));
        Assert.Equal((3, 2.0, 4.0, 4.0, 4.0), Row(latencies["index"]));
        Assert.Equal((3, 4.0, 10.0, 10.0, 10.0), Row(latencies["total"]));
    }

    private static (int, double?, double?, double?, double?) Row(StageLatency l) => (l.Count, l.P50, l.P90, l.P99, l.Max);

    private static void Seed(LiteVLDbContext db, VideoState state, int uploaded, int? extracted, int? encoded, int? indexed)
    {
        var id = Guid.NewGuid();
        db.Videos.Add(new Video
        {
            Id = id,
            TenantId = "stats",
            Sha256 = Convert.ToHexStringLower(id.ToByteArray()).PadRight(64, '0'),
            State = state,
            CreatedAt = T0.AddSeconds(uploaded),
            UpdatedAt = T0.AddSeconds(uploaded),
            StateChangedAt = T0.AddSeconds(uploaded),
        });
        foreach (var (s, at) in new[] { (VideoState.Uploaded, (int?)uploaded), (VideoState.Extracted, extracted), (VideoState.Encoded, encoded), (VideoState.Indexed, indexed) })
        {
            if (at is { } seconds)
            {
                db.VideoEvents.Add(new VideoEvent { VideoId = id, State = s, At = T0.AddSeconds(seconds) });
            }
        }

        if (state == VideoState.Failed)
        {
            db.VideoEvents.Add(new VideoEvent { VideoId = id, State = VideoState.Failed, At = T0.AddSeconds(uploaded + 1), Detail = "extract: bad file" });
        }
    }

    private sealed class FixedClock(DateTime now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(now);
    }
}
