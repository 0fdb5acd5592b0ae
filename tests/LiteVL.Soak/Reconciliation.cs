using System.Globalization;
using LiteVL.Storage.Entities;

namespace LiteVL.Soak;

/// <summary>
/// Everything known of one accepted video at the end: what was planned, what the soak did to it, and what the database,
/// the vector index and the stores hold. <see cref="State"/> is null when its row is gone.
/// </summary>
internal sealed record VideoFacts(
    Guid Id,
    bool Deleted,
    int PlannedSegments,
    VideoState? State,
    string? FailureReason,
    int SegmentCount,
    int SegmentRows,
    long Points,
    int FeatureFiles,
    int MediaFiles,
    bool Original);

/// <summary>
/// The end state of a soak: the accepted videos, and what belongs to none of them — database rows of videos the soak
/// never saw accepted, points of no known video, tombstones not cleared, messages left in the work queues, uploads of the
/// same bytes answered with different ids, valid clips the API refused.
/// </summary>
internal sealed record SoakFacts(
    IReadOnlyList<VideoFacts> Videos,
    int UnknownVideos,
    long TotalPoints,
    int Tombstones,
    long MessagesLeft,
    int SplitDuplicates,
    int RefusedUploads);

/// <summary>The verdict: counts for the last line, and one line per problem (none: the soak passed).</summary>
internal sealed record SoakTally(int Accepted, int Indexed, int Failed, int Lost, int Stuck, int Duplicated, int Orphans, long Points, IReadOnlyList<string> Problems)
{
    public bool Passed => Problems.Count == 0;
}

/// <summary>
/// Reconciles what was accepted with what the platform holds. Lost: accepted, not deleted, and not Indexed with one
/// point, one segment row and one feature file per planned segment (and its original), nor Failed with a reason —
/// stuck videos (not terminal) are lost too. Duplicated: more points, rows or files than segments, a second video for
/// the same bytes, a video nobody uploaded, points of no video. Orphan: anything left of a deleted video (row, points,
/// files, original), or points of a Failed one.
/// </summary>
internal static class Reconciliation
{
    public static SoakTally Reconcile(SoakFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var problems = new List<string>();
        int indexed = 0, failed = 0, lost = 0, stuck = 0, duplicated = 0, orphans = 0;
        foreach (var v in facts.Videos)
        {
            if (v.Deleted)
            {
                var left = new List<string>();
                if (v.State is not null)
                {
                    left.Add($"its row ({v.State})");
                }

                if (v.SegmentRows > 0)
                {
                    left.Add($"{v.SegmentRows} segment rows");
                }

                if (v.Points > 0)
                {
                    left.Add($"{v.Points} points");
                }

                if (v.FeatureFiles + v.MediaFiles > 0)
                {
                    left.Add($"{v.FeatureFiles} feature and {v.MediaFiles} media files");
                }

                if (v.Original)
                {
                    left.Add("its original");
                }

                if (left.Count > 0)
                {
                    orphans++;
                    problems.Add($"orphan: deleted video {v.Id} still has {string.Join(", ", left)}");
                }

                continue;
            }

            switch (v.State)
            {
                case null:
                    lost++;
                    problems.Add($"lost: video {v.Id} was accepted and never deleted, but its row is gone");
                    break;
                case VideoState.Failed:
                    failed++;
                    if (string.IsNullOrWhiteSpace(v.FailureReason))
                    {
                        lost++;
                        problems.Add($"lost: video {v.Id} is Failed without a reason");
                    }

                    if (v.Points > 0)
                    {
                        orphans++;
                        problems.Add($"orphan: Failed video {v.Id} still has {v.Points} points in the index");
                    }

                    break;
                case VideoState.Indexed:
                    indexed++;
                    long[] held = [v.SegmentCount, v.SegmentRows, v.Points, v.FeatureFiles];
                    string what = string.Create(CultureInfo.InvariantCulture, $"{v.SegmentCount} segments recorded, {v.SegmentRows} segment rows, {v.Points} points, {v.FeatureFiles} feature files for {v.PlannedSegments} planned segments");
                    if (held.Any(n => n < v.PlannedSegments) || !v.Original)
                    {
                        lost++;
                        problems.Add($"lost: Indexed video {v.Id} has {what}{(v.Original ? "" : ", and no original")}");
                    }
                    else if (held.Any(n => n > v.PlannedSegments))
                    {
                        duplicated++;
                        problems.Add($"duplicated: Indexed video {v.Id} has {what}");
                    }

                    break;
                default:
                    stuck++;
                    lost++;
                    problems.Add($"stuck: video {v.Id} is still {v.State}");
                    break;
            }
        }

        if (facts.UnknownVideos > 0)
        {
            duplicated += facts.UnknownVideos;
            problems.Add($"duplicated: {facts.UnknownVideos} videos in the database that no upload was answered with");
        }

        if (facts.SplitDuplicates > 0)
        {
            duplicated += facts.SplitDuplicates;
            problems.Add($"duplicated: {facts.SplitDuplicates} uploads of bytes already accepted got a new video instead of the first one's id");
        }

        long known = facts.Videos.Sum(v => v.Points);
        if (facts.TotalPoints > known)
        {
            duplicated++;
            problems.Add($"duplicated: {facts.TotalPoints - known} points in the index belong to no accepted video");
        }

        if (facts.RefusedUploads > 0)
        {
            lost += facts.RefusedUploads;
            problems.Add($"lost: {facts.RefusedUploads} valid clips were refused by the Upload API");
        }

        if (facts.Tombstones > 0)
        {
            stuck += facts.Tombstones;
            problems.Add($"stuck: {facts.Tombstones} deletions whose points the indexer never confirmed removing (tombstones left)");
        }

        if (facts.MessagesLeft > 0)
        {
            problems.Add($"stuck: {facts.MessagesLeft} messages left in the work queues after the pipeline settled");
        }

        return new SoakTally(facts.Videos.Count, indexed, failed, lost, stuck, duplicated, orphans, facts.TotalPoints, problems);
    }

    /// <summary>The soak's last line (the format the issue fixes, read by scripts).</summary>
    public static string LastLine(SoakTally tally, int kills, int brokerRestarts, int dbRestarts, int deletes, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(tally);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"soak: {tally.Accepted} accepted, {tally.Indexed} indexed, {tally.Failed} failed, {tally.Lost} lost, {tally.Duplicated} duplicated, {tally.Points} points, {kills} kills, {brokerRestarts} broker restarts, {dbRestarts} db restarts, {deletes} deletes, {elapsed.TotalSeconds:F0} s");
    }
}
