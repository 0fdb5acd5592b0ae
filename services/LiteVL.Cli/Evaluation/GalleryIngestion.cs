using System.Diagnostics;
using System.Globalization;

namespace LiteVL.Cli.Evaluation;

/// <summary>
/// The first step of every evaluation over the API (retrieval and video QA): upload each distinct video file (the API
/// deduplicates by SHA-256, so a re-run finds the existing ids) and wait until each is Indexed or Failed. What cannot
/// be evaluated (refused uploads, failed videos) is listed with its reason, never dropped silently.
/// </summary>
public sealed class GalleryIngestion(IEvalBackend backend, TextWriter log, EvalSettings settings)
{
    /// <param name="files">The dataset's video paths, as written in it.</param>
    /// <param name="paths">Each file's full path on disk.</param>
    /// <param name="itemsPerFile">Captions or questions per file, for the exclusion list.</param>
    /// <param name="excluded">Receives every file that cannot be evaluated, with why.</param>
    /// <returns>The ids of the files whose video is Indexed (files with identical bytes share one), and every video's final status.</returns>
    public async Task<(Dictionary<string, string> Ids, Dictionary<string, VideoStatus> Statuses)> IngestAsync(
        IReadOnlyList<string> files, IReadOnlyDictionary<string, string> paths, IReadOnlyDictionary<string, int> itemsPerFile, List<ExcludedVideo> excluded, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(itemsPerFile);
        ArgumentNullException.ThrowIfNull(excluded);
        var ids = await UploadAllAsync(files, paths, itemsPerFile, excluded, ct).ConfigureAwait(false);
        var statuses = await WaitForIndexingAsync(ids.Values.Distinct(StringComparer.Ordinal).ToList(), ct).ConfigureAwait(false);
        foreach (var (file, id) in ids.ToList())
        {
            var status = statuses[id];
            if (status.State != "Indexed")
            {
                excluded.Add(new ExcludedVideo(file, id, $"{status.State}: {status.FailureReason ?? "no reason given"}", itemsPerFile[file]));
                ids.Remove(file);
            }
        }

        return (ids, statuses);
    }

    private async Task<Dictionary<string, string>> UploadAllAsync(IReadOnlyList<string> files, IReadOnlyDictionary<string, string> paths, IReadOnlyDictionary<string, int> captions, List<ExcludedVideo> excluded, CancellationToken ct)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        int done = 0, duplicates = 0;
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.UploadParallelism), CancellationToken = ct }, async (file, token) =>
        {
            var outcome = await backend.UploadAsync(paths[file], Path.GetFileName(file), token).ConfigureAwait(false);
            lock (ids)
            {
                if (outcome.Id is { } id)
                {
                    ids[file] = id;
                    duplicates += outcome.Duplicate ? 1 : 0;
                }
                else
                {
                    excluded.Add(new ExcludedVideo(file, null, outcome.Rejection ?? "upload refused", captions[file]));
                }

                if (++done % 100 == 0)
                {
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"uploaded {done}/{files.Count} ({watch.Elapsed.TotalSeconds:F0} s)"));
                }
            }
        }).ConfigureAwait(false);
        log.WriteLine($"uploaded {files.Count} videos: {ids.Count - duplicates} new, {duplicates} already there, {files.Count - ids.Count} refused");
        return ids;
    }

    private async Task<Dictionary<string, VideoStatus>> WaitForIndexingAsync(List<string> ids, CancellationToken ct)
    {
        var final = new Dictionary<string, VideoStatus>(StringComparer.Ordinal);
        var poll = settings.PollInterval ?? TimeSpan.FromSeconds(2);
        var timeout = settings.IndexTimeout ?? TimeSpan.FromHours(3);
        var watch = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            foreach (string id in ids.Where(i => !final.ContainsKey(i)).ToList())
            {
                var status = await backend.GetVideoAsync(id, ct).ConfigureAwait(false);
                if (status.State is "Indexed" or "Failed")
                {
                    final[id] = status;
                }
            }

            if (final.Count == ids.Count)
            {
                log.WriteLine($"indexed {final.Values.Count(s => s.State == "Indexed")}, failed {final.Values.Count(s => s.State == "Failed")}");
                return final;
            }

            if (watch.Elapsed > timeout)
            {
                throw new InvalidOperationException($"{ids.Count - final.Count} of {ids.Count} videos are still not Indexed after {timeout.TotalMinutes:F0} min (raise --wait-minutes, or check the pipeline).");
            }

            if (watch.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = watch.Elapsed;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"waiting for indexing: {final.Count}/{ids.Count} done ({watch.Elapsed.TotalSeconds:F0} s)"));
            }

            await Task.Delay(poll, ct).ConfigureAwait(false);
        }
    }
}
