using LiteVL.Soak;
using LiteVL.Storage.Entities;

namespace LiteVL.Pipeline.Tests.Soak;

/// <summary>
/// The soak's reconciliation on crafted end states: a clean one passes, and each kind of damage — a missing point, an
/// extra segment row, a point of a deleted video, a stuck video, a second video for the same bytes — is counted and fails
/// the soak. (The soak itself can only show that nothing was found; these show that it would find it.)
/// </summary>
public sealed class ReconciliationTests
{
    private static readonly Guid A = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid B = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid C = Guid.Parse("00000000-0000-0000-0000-00000000000c");

    /// <summary>Two videos Indexed with 2 segments each (one point, row and feature file per segment), one deleted and gone, one Failed with a reason.</summary>
    private static SoakFacts Clean(Func<VideoFacts, VideoFacts>? changeA = null, Func<SoakFacts, SoakFacts>? change = null)
    {
        var a = Indexed(A, 2);
        var facts = new SoakFacts(
            [changeA?.Invoke(a) ?? a, Indexed(B, 2), new VideoFacts(C, Deleted: true, 1, null, null, 0, 0, 0, 0, 0, false), Failed(Guid.NewGuid())],
            UnknownVideos: 0,
            TotalPoints: 4,
            Tombstones: 0,
            MessagesLeft: 0,
            SplitDuplicates: 0,
            RefusedUploads: 0);
        return change?.Invoke(facts) ?? facts;
    }

    private static VideoFacts Indexed(Guid id, int segments) =>
        new(id, Deleted: false, segments, VideoState.Indexed, null, segments, segments, segments, segments, segments, Original: true);

    private static VideoFacts Failed(Guid id) =>
        new(id, Deleted: false, 1, VideoState.Failed, "extract: ffmpeg could not decode the stream", 0, 0, 0, 0, 0, Original: true);

    [Fact]
    public void A_clean_end_state_passes_and_prints_the_issue_s_last_line()
    {
        var tally = Reconciliation.Reconcile(Clean());

        Assert.True(tally.Passed, string.Join("\n", tally.Problems));
        Assert.Equal((4, 2, 1, 0, 0, 0, 4L), (tally.Accepted, tally.Indexed, tally.Failed, tally.Lost, tally.Duplicated, tally.Orphans, tally.Points));
        Assert.Equal(
            "soak: 4 accepted, 2 indexed, 1 failed, 0 lost, 0 duplicated, 4 points, 150 kills, 10 broker restarts, 10 db restarts, 1 deletes, 3601 s",
            Reconciliation.LastLine(tally, 150, 10, 10, 1, TimeSpan.FromSeconds(3600.6)));
    }

    [Fact]
    public void A_missing_point_is_a_lost_video()
    {
        var tally = Reconciliation.Reconcile(Clean(a => a with { Points = 1 }, f => f with { TotalPoints = 3 }));

        Assert.Equal(1, tally.Lost);
        Assert.False(tally.Passed);
        Assert.Contains(tally.Problems, p => p.StartsWith($"lost: Indexed video {A} has 2 segments recorded, 2 segment rows, 1 points", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("row")]
    [InlineData("feature")]
    [InlineData("segments")]
    public void A_missing_row_feature_file_or_segment_is_a_lost_video(string what)
    {
        var tally = Reconciliation.Reconcile(Clean(a => what switch
        {
            "row" => a with { SegmentRows = 1 },
            "feature" => a with { FeatureFiles = 1 },
            _ => a with { SegmentCount = 1, SegmentRows = 1, Points = 1, FeatureFiles = 1 },
        }));

        Assert.Equal(1, tally.Lost);
        Assert.False(tally.Passed);
    }

    [Fact]
    public void An_extra_segment_row_is_a_duplicate()
    {
        var tally = Reconciliation.Reconcile(Clean(a => a with { SegmentRows = 3 }));

        Assert.Equal((0, 1), (tally.Lost, tally.Duplicated));
        Assert.False(tally.Passed);
    }

    [Fact]
    public void Points_of_no_accepted_video_a_video_nobody_uploaded_and_a_second_video_for_the_same_bytes_are_duplicates()
    {
        Assert.Equal(1, Reconciliation.Reconcile(Clean(change: f => f with { TotalPoints = 5 })).Duplicated);
        Assert.Equal(2, Reconciliation.Reconcile(Clean(change: f => f with { UnknownVideos = 2 })).Duplicated);
        Assert.Equal(1, Reconciliation.Reconcile(Clean(change: f => f with { SplitDuplicates = 1 })).Duplicated);
    }

    [Theory]
    [InlineData("row")]
    [InlineData("point")]
    [InlineData("feature")]
    [InlineData("original")]
    public void Anything_left_of_a_deleted_video_is_an_orphan(string what)
    {
        var tally = Reconciliation.Reconcile(Clean(change: f => f with
        {
            Videos = [.. f.Videos.Select(v => !v.Deleted ? v : what switch
            {
                "row" => v with { State = VideoState.Encoding },
                "point" => v with { Points = 1 },
                "feature" => v with { FeatureFiles = 1 },
                _ => v with { Original = true },
            })],
            TotalPoints = f.TotalPoints + (what == "point" ? 1 : 0),
        }));

        Assert.Equal((1, 0, 0), (tally.Orphans, tally.Lost, tally.Duplicated));
        Assert.False(tally.Passed);
    }

    [Fact]
    public void A_stuck_video_is_lost_and_a_Failed_one_needs_a_reason_and_no_points()
    {
        var stuck = Reconciliation.Reconcile(Clean(a => a with { State = VideoState.Encoded }));
        Assert.Equal((1, 1), (stuck.Stuck, stuck.Lost));

        var silent = Reconciliation.Reconcile(Clean(a => a with { State = VideoState.Failed, FailureReason = " " }));
        Assert.Equal(1, silent.Lost);

        var withPoints = Reconciliation.Reconcile(Clean(a => a with { State = VideoState.Failed, FailureReason = "index: gave up" }));
        Assert.Equal((0, 1), (withPoints.Lost, withPoints.Orphans));
        Assert.All(new[] { stuck, silent, withPoints }, t => Assert.False(t.Passed));
    }

    [Fact]
    public void A_vanished_row_a_refused_upload_a_left_tombstone_and_left_messages_fail_the_soak()
    {
        Assert.Equal(1, Reconciliation.Reconcile(Clean(a => a with { State = null })).Lost);
        Assert.Equal(1, Reconciliation.Reconcile(Clean(change: f => f with { RefusedUploads = 1 })).Lost);
        Assert.Equal(1, Reconciliation.Reconcile(Clean(change: f => f with { Tombstones = 1 })).Stuck);
        Assert.False(Reconciliation.Reconcile(Clean(change: f => f with { MessagesLeft = 3 })).Passed);
    }

    [Fact]
    public void Options_default_to_a_short_run_and_refuse_what_cannot_run_with_a_message()
    {
        var defaults = SoakOptions.Parse([]);
        Assert.Equal((40, 4, 4, 3, 1, 1, 4), (defaults.Videos, defaults.EncoderKills, defaults.ExtractorKills, defaults.IndexerKills, defaults.BrokerRestarts, defaults.DbRestarts, defaults.Deletes));

        var set = SoakOptions.Parse(["--videos", "500", "--encoder-kills", "50", "--extractor-kills", "51", "--indexer-kills", "52", "--broker-restarts", "10", "--db-restarts", "11", "--deletes", "20", "--seed", "9"]);
        Assert.Equal((500, 50, 51, 52, 10, 11, 20, 9, 153), (set.Videos, set.EncoderKills, set.ExtractorKills, set.IndexerKills, set.BrokerRestarts, set.DbRestarts, set.Deletes, set.Seed, set.Kills));

        Assert.Contains("whole number", Assert.Throws<SoakUsageException>(() => SoakOptions.Parse(["--videos", "many"])).Message, StringComparison.Ordinal);
        Assert.Contains("unknown option --vidoes", Assert.Throws<SoakUsageException>(() => SoakOptions.Parse(["--vidoes", "5"])).Message, StringComparison.Ordinal);
        Assert.Contains("needs a value", Assert.Throws<SoakUsageException>(() => SoakOptions.Parse(["--seed"])).Message, StringComparison.Ordinal);
        Assert.Contains("lower it or raise --videos", Assert.Throws<SoakUsageException>(() => SoakOptions.Parse(["--videos", "10", "--deletes", "10"])).Message, StringComparison.Ordinal);
    }
}
