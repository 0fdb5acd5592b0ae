using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LiteVL.Soak;

/// <summary>
/// One soak: the distributed mode (Upload API, 2 frame extractors, 2 encoders, indexer — each its own process) over a
/// PostgreSQL cluster and a RabbitMQ node of its own; the clips uploaded over the API while seeded faults are injected
/// one after another (workers SIGKILLed at a busy moment and restarted, the broker and the database restarted, videos
/// deleted in flight); then, once the pipeline has settled, every accepted video is reconciled.
/// </summary>
internal sealed partial class SoakRun(SoakOptions options, TextWriter console)
{
    /// <summary>Videos accepted but not yet terminal that the uploader lets into the pipeline at once: a backlog of
    /// minutes would age videos past the reconciler's StaleAfter while they merely wait in a queue.</summary>
    private const int InFlightCap = 24;

    /// <summary>Videos kept in the pipeline while uploads remain, ahead of the faults' pace if need be.</summary>
    private const int MinInFlight = 8;

    private static readonly ClipSource[] Sources = [ClipSource.MovingBox, ClipSource.TestSrc2, ClipSource.SmpteBars, ClipSource.RgbTestSrc];

    private readonly Random _rng = new(options.Seed);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();

    // What was uploaded and what the API answered.
    private readonly Dictionary<string, List<Guid>> _answers = [];
    private readonly Dictionary<Guid, Clip> _clipOf = [];
    private readonly HashSet<Guid> _deleted = [];
    private readonly HashSet<string> _uploadedTwice = [];
    private int _uploadsStarted;
    private int _uploadsDone;
    private int _duplicateAnswers;
    private int _retriedUploads;
    private int _refused;

    // What the faults did.
    private readonly Dictionary<string, Dictionary<string, int>> _kills = [];
    private readonly List<double> _brokerDown = [];
    private readonly List<double> _dbDown = [];
    private readonly Dictionary<string, Dictionary<string, int>> _deleteMoments = [];
    private readonly List<string> _unexpectedExits = [];
    private readonly Dictionary<string, int> _serial = [];
    private int _faultsDone;
    private int _faultCount;

    // The last look at the database: accepted videos that are terminal or deleted.
    private int _settled;

    private OwnInfrastructure _infra = null!;
    private DistributedDeployment _d = null!;

    private sealed record Clip(int Index, string Path, string Sha256, double Seconds, int Segments, string Spec);

    private enum Fault { KillEncoder, KillExtractor, KillIndexer, RestartBroker, RestartDatabase, Delete }

    public async Task<int> RunAsync(CancellationToken ct)
    {
        Line($"LiteVL soak: {options.Videos} videos (+{options.DuplicateUploads} duplicate uploads); kills: {options.EncoderKills} encoder, {options.ExtractorKills} frame extractor, {options.IndexerKills} indexer; {options.BrokerRestarts} RabbitMQ and {options.DbRestarts} PostgreSQL restarts; {options.Deletes} deletes; seed {options.Seed}");
        try
        {
            _infra = await OwnInfrastructure.StartAsync().ConfigureAwait(false);
            Line($"PostgreSQL on port {_infra.PostgresPort}, RabbitMQ on port {_infra.RabbitMqPort} (management http://127.0.0.1:{_infra.RabbitMqManagementPort})");
            _d = await DistributedDeployment.StartAsync(_infra.PostgresAdmin, _infra.RabbitMqPort.ToString(CultureInfo.InvariantCulture), encoders: 2, TinyModel, Settings, extractors: 2).ConfigureAwait(false);
            Line($"deployment: {string.Join(", ", _d.Services.Select(s => $"{s.Name} (pid {s.Pid})"))}; data {_d.Data}");

            var clips = await GenerateClipsAsync(ct).ConfigureAwait(false);
            var order = UploadOrder(clips);
            var faults = FaultPlan();
            _faultCount = faults.Count;
            Line($"{clips.Count} clips ({clips.Sum(c => c.Segments)} segments planned), {order.Count} uploads, {faults.Count} faults planned");

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var watch = WatchAsync(stop.Token);
            var uploads = UploadAllAsync(order, ct);
            await RunFaultsAsync(faults, uploads, ct).ConfigureAwait(false);
            await uploads.ConfigureAwait(false);
            Line($"all {order.Count} uploads answered ({_duplicateAnswers} as duplicates, {_retriedUploads} retried after a fault) and all {faults.Count} faults done");

            bool settled = await SettleAsync(ct).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
            var facts = await CollectAsync(ct).ConfigureAwait(false);
            var tally = Reconciliation.Reconcile(facts);
            Report(tally, settled);
            console.WriteLine(Reconciliation.LastLine(tally, _kills.Values.Sum(k => k.Values.Sum()), _brokerDown.Count, _dbDown.Count, _deleted.Count, _clock.Elapsed));
            return tally.Passed ? 0 : 1;
        }
        finally
        {
            if (_d is not null)
            {
                await _d.DisposeAsync().ConfigureAwait(false);
            }

            if (_infra is not null)
            {
                await _infra.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Re-drive quickly what a fault left stuck (the default waits 5 minutes) yet not what merely waits in a queue, and
    /// sweep the files a deletion could not remove within minutes instead of an hour.
    /// </summary>
    private static Dictionary<string, string> Settings => new()
    {
        ["LiteVL__Reconciler__Interval"] = "00:00:05",
        ["LiteVL__Reconciler__StaleAfter"] = "00:02:00",
        ["LiteVL__Sweeper__Interval"] = "00:00:10",
        ["LiteVL__Sweeper__MinAge"] = "00:02:00",
    };

    private static DeployedModel TinyModel(string directory)
    {
        var model = ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 0, directory);
        return new DeployedModel(model.Version, model.NumFrames, model.Vision.ImageSize);
    }

    /// <summary>Distinct clips: 2.5 to 24.5 s (1 to 3 segments), 96 to 256 pixels wide, four sources, mp4/mkv/avi, with and without audio.</summary>
    private async Task<List<Clip>> GenerateClipsAsync(CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var clips = new Clip[options.Videos];
        string dir = Path.Combine(_d.Data, "clips");
        int made = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Videos), new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = ct }, async (i, token) =>
        {
            double seconds = 2.5 + (2 * (i % 12)); // x.5 s: half a second from every segment boundary
            var (codec, container) = (i % 7) == 3 ? (ClipCodec.Mpeg4, "avi") : (i % 5) == 2 ? (ClipCodec.H264, "mkv") : (ClipCodec.H264, "mp4");
            var spec = new ClipSpec(Sources[(i / 7) % Sources.Length], seconds, 96 + (16 * (i % 11)), 72 + (8 * (i % 13)), i % 2 == 0 ? 25 : 15, codec, container, i % 3 == 0);
            using var generator = new SampleClips();
            string path = await generator.GenerateAsync(spec, Path.Combine(dir, $"clip{i:D4}.{container}"), token).ConfigureAwait(false);
            string sha;
            await using (var file = File.OpenRead(path))
            {
                sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, token).ConfigureAwait(false));
            }

            clips[i] = new Clip(i, path, sha, seconds, _d.PlannedSegments(seconds), spec.FileName);
            if (Interlocked.Increment(ref made) % 100 == 0)
            {
                Line($"generated {made}/{options.Videos} clips");
            }
        }).ConfigureAwait(false);
        int distinct = clips.Select(c => c.Sha256).Distinct().Count();
        Line($"generated {clips.Length} clips in {started.Elapsed.TotalSeconds:F0} s ({distinct} distinct byte strings)");
        return [.. clips];
    }

    /// <summary>Every clip once, in a shuffled order, and some again: half of those right after the first (two uploads racing).</summary>
    private List<Clip> UploadOrder(List<Clip> clips)
    {
        var order = clips.OrderBy(_ => _rng.Next()).ToList();
        foreach (var again in clips.OrderBy(_ => _rng.Next()).Take(options.DuplicateUploads))
        {
            _uploadedTwice.Add(again.Sha256);
            int first = order.IndexOf(again);
            int at = _rng.Next(2) == 0 ? first + 1 : _rng.Next(first + 1, order.Count + 1);
            order.Insert(at, again);
        }

        return order;
    }

    private List<Fault> FaultPlan()
    {
        var plan = new List<Fault>();
        plan.AddRange(Enumerable.Repeat(Fault.KillEncoder, options.EncoderKills));
        plan.AddRange(Enumerable.Repeat(Fault.KillExtractor, options.ExtractorKills));
        plan.AddRange(Enumerable.Repeat(Fault.KillIndexer, options.IndexerKills));
        plan.AddRange(Enumerable.Repeat(Fault.RestartBroker, options.BrokerRestarts));
        plan.AddRange(Enumerable.Repeat(Fault.RestartDatabase, options.DbRestarts));
        plan.AddRange(Enumerable.Repeat(Fault.Delete, options.Deletes));
        return [.. plan.OrderBy(_ => _rng.Next())];
    }

    /// <summary>Uploads four at a time, each retried until answered 202 (a retry of an upload that did get through is answered "duplicate" with the same id).</summary>
    private async Task UploadAllAsync(List<Clip> order, CancellationToken ct)
    {
        await Parallel.ForEachAsync(order, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (clip, token) =>
        {
            int slot = Interlocked.Increment(ref _uploadsStarted) - 1;
            // Keep pace with the faults, so that the uploads last as long as they do: after f faults, f+2 shares of the
            // uploads may go, but the pipeline is never left with fewer than MinInFlight videos (a fault should meet
            // work) nor more than InFlightCap.
            // An upload answered as a duplicate or refused adds no video: it is not in flight (counting it starved the
            // pipeline, so that kills found the workers idle).
            double share = (double)order.Count / (_faultCount + 1);
            int InFlight() => slot - Volatile.Read(ref _settled) - Volatile.Read(ref _duplicateAnswers) - Volatile.Read(ref _refused);
            while (!token.IsCancellationRequested
                   && ((_faultCount > 0 && slot >= share * (Volatile.Read(ref _faultsDone) + 2) && InFlight() >= MinInFlight)
                       || InFlight() >= InFlightCap))
            {
                await Task.Delay(200, token).ConfigureAwait(false);
            }

            var answer = await UploadWithRetriesAsync(clip, token).ConfigureAwait(false);
            lock (_gate)
            {
                _uploadsDone++;
                if (answer is null)
                {
                    _refused++;
                    return;
                }

                if (answer.Duplicate)
                {
                    _duplicateAnswers++;
                }

                if (!_answers.TryGetValue(clip.Sha256, out var ids))
                {
                    _answers[clip.Sha256] = ids = [];
                }

                if (!ids.Contains(answer.Id))
                {
                    ids.Add(answer.Id);
                }

                _clipOf[answer.Id] = clip;
            }
        }).ConfigureAwait(false);
    }

    private async Task<UploadAnswer?> UploadWithRetriesAsync(Clip clip, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var answer = await _d.UploadOnceAsync(clip.Path, ct).ConfigureAwait(false);
                if (answer is not null || DateTime.UtcNow > deadline)
                {
                    if (answer is null)
                    {
                        Line($"upload of {clip.Spec} refused until the deadline");
                    }

                    return answer;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                if (DateTime.UtcNow > deadline)
                {
                    Line($"upload of {clip.Spec} failed until the deadline: {e.Message}");
                    return null;
                }
            }

            if (attempt == 1)
            {
                Interlocked.Increment(ref _retriedUploads);
            }

            await Task.Delay(1000, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The faults one after another: fault f waits until f/(F+1) of the uploads have started (so faults hit a pipeline
    /// with work in it) — or a minute, should the pipeline stall — then a pause of 0.5 to 2.5 s.
    /// </summary>
    private async Task RunFaultsAsync(List<Fault> faults, Task uploads, CancellationToken ct)
    {
        int totalUploads = options.Videos + options.DuplicateUploads;
        for (int f = 0; f < faults.Count; f++)
        {
            var waitSince = DateTime.UtcNow;
            while (Volatile.Read(ref _uploadsStarted) < (long)totalUploads * f / (faults.Count + 1) && !uploads.IsCompleted && DateTime.UtcNow - waitSince < TimeSpan.FromMinutes(1))
            {
                await Task.Delay(200, ct).ConfigureAwait(false);
            }

            await Task.Delay(500 + _rng.Next(2000), ct).ConfigureAwait(false);
            string at = $"fault {f + 1}/{faults.Count}";
            switch (faults[f])
            {
                case Fault.KillEncoder:
                    await KillAsync("encoder", _d.Encoders, at, ct).ConfigureAwait(false);
                    break;
                case Fault.KillExtractor:
                    await KillAsync("frame-extractor", _d.Extractors, at, ct).ConfigureAwait(false);
                    break;
                case Fault.KillIndexer:
                    await KillAsync("indexer", [_d.Indexer], at, ct).ConfigureAwait(false);
                    break;
                case Fault.RestartBroker:
                    await RestartAsync("RabbitMQ", _infra.RestartRabbitMqAsync, _brokerDown, at).ConfigureAwait(false);
                    break;
                case Fault.RestartDatabase:
                    await RestartAsync("PostgreSQL", _infra.RestartPostgresAsync, _dbDown, at).ConfigureAwait(false);
                    NpgsqlConnection.ClearAllPools();
                    break;
                case Fault.Delete:
                    await DeleteOneAsync(at, ct).ConfigureAwait(false);
                    break;
            }

            Interlocked.Increment(ref _faultsDone);
        }
    }

    /// <summary>SIGKILLs one of <paramref name="pool"/> at a busy moment (waiting up to 15 s for one) and starts a replacement.</summary>
    private async Task KillAsync(string kind, List<ServiceProcess> pool, string at, CancellationToken ct)
    {
        await RestartExitedAsync().ConfigureAwait(false);
        var victim = pool[_rng.Next(pool.Count)];
        int pid = victim.Pid;
        string moment = kind switch
        {
            "frame-extractor" => await KillWhenAsync(victim, () => ProcessProbe.HasChild(pid, "ffmpeg", "ffprobe"), TimeSpan.FromMilliseconds(20), "mid-ffmpeg", ct).ConfigureAwait(false),
            "encoder" => await KillWhenAsync(victim, () => ProcessProbe.Busy(pid, TimeSpan.FromMilliseconds(100), 5), TimeSpan.Zero, "mid-batch", ct).ConfigureAwait(false),
            _ when _rng.Next(2) == 0 => await KillOnIndexedLineAsync(victim).ConfigureAwait(false),
            _ => await KillWhenAsync(victim, () => ProcessProbe.Busy(pid, TimeSpan.FromMilliseconds(20), 2), TimeSpan.Zero, "mid-message", ct).ConfigureAwait(false),
        };
        Count(_kills, kind, moment);
        var restart = Stopwatch.StartNew();
        var replacement = await ReplaceAsync(victim, kind).ConfigureAwait(false);
        Line($"{at}: SIGKILL {victim.Name} (pid {pid}) {moment}; {replacement.Name} (pid {replacement.Pid}) live in {restart.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// Starts a replacement, trying again when one is not live within ServiceProcess's 90 s (seen on a machine at load
    /// 40, where a fresh worker answered nothing in time): the soak measures the pipeline, not how fast .NET starts.
    /// </summary>
    private async Task<ServiceProcess> ReplaceAsync(ServiceProcess gone, string kind)
    {
        for (int attempt = 1; ; attempt++)
        {
            string name = NextName(kind);
            try
            {
                return await _d.ReplaceAsync(gone, name).ConfigureAwait(false);
            }
            catch (TimeoutException) when (attempt < 3)
            {
                Line($"{name} was not live within 90 s (attempt {attempt}); starting another");
            }
        }
    }

    /// <summary>Polls <paramref name="busy"/> for up to 15 s and SIGKILLs the worker the moment it holds; "idle" when it never did.</summary>
    private static async Task<string> KillWhenAsync(ServiceProcess victim, Func<bool> busy, TimeSpan poll, string label, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !victim.HasExited)
        {
            if (busy())
            {
                await victim.SignalAsync("KILL").ConfigureAwait(false);
                return label;
            }

            await Task.Delay(poll, ct).ConfigureAwait(false);
        }

        await victim.SignalAsync("KILL").ConfigureAwait(false);
        return "idle";
    }

    /// <summary>The indexer SIGKILLed as it logs a video indexed: its points are upserted and the state written, the message not yet acknowledged.</summary>
    private static async Task<string> KillOnIndexedLineAsync(ServiceProcess indexer)
    {
        try
        {
            await indexer.KillOnLogLineAsync("Indexed video", TimeSpan.FromSeconds(15), onlyNew: true).ConfigureAwait(false);
            return "after-upsert-before-ack";
        }
        catch (TimeoutException)
        {
            await indexer.SignalAsync("KILL").ConfigureAwait(false);
            return "idle";
        }
    }

    private async Task RestartAsync(string what, Func<Task> restart, List<double> downtimes, string at)
    {
        Line($"{at}: restarting {what} (stop, then start on the same data directory and port)");
        var down = Stopwatch.StartNew();
        await restart().ConfigureAwait(false);
        downtimes.Add(down.Elapsed.TotalSeconds);
        Line($"{at}: {what} back after {down.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Deletes an accepted video that was uploaded once, preferably one still in the pipeline, over the API (retried through faults).</summary>
    private async Task DeleteOneAsync(string at, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        Guid id;
        while (true)
        {
            List<Guid> candidates;
            lock (_gate)
            {
                candidates = [.. _clipOf.Where(kv => !_uploadedTwice.Contains(kv.Value.Sha256) && !_deleted.Contains(kv.Key)).Select(kv => kv.Key)];
            }

            if (candidates.Count > 0)
            {
                var inFlight = await TryQueryAsync(db => db.Videos.AsNoTracking().Where(v => candidates.Contains(v.Id) && v.State != VideoState.Indexed && v.State != VideoState.Failed).Select(v => v.Id).ToListAsync()).ConfigureAwait(false) ?? [];
                var pick = inFlight.Count > 0 ? inFlight : candidates;
                id = pick.OrderBy(g => g).ElementAt(_rng.Next(pick.Count));
                Count(_deleteMoments, "delete", inFlight.Count > 0 ? "in-flight" : "terminal");
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                Line($"{at}: no video to delete yet; delete skipped");
                return;
            }

            await Task.Delay(500, ct).ConfigureAwait(false);
        }

        lock (_gate)
        {
            _deleted.Add(id);
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await _d.Http.DeleteAsync(new Uri($"/v1/videos/{id}", UriKind.Relative), ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode || (response.StatusCode == HttpStatusCode.NotFound && attempt > 1))
                {
                    Line($"{at}: deleted video {id} ({(attempt > 1 ? $"after {attempt} attempts" : "first attempt")}, answered {(int)response.StatusCode})");
                    return;
                }

                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    Line($"{at}: DELETE of accepted video {id} answered 404 at the first attempt");
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
            }

            await Task.Delay(1000, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A progress line every 10 s, and the database look that paces the uploads every 2 s.</summary>
    private async Task WatchAsync(CancellationToken ct)
    {
        var lastLine = TimeSpan.Zero;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var states = await StatesAsync().ConfigureAwait(false);
                if (states is not null)
                {
                    int deleted;
                    lock (_gate)
                    {
                        deleted = _deleted.Count;
                    }

                    Volatile.Write(ref _settled, states.GetValueOrDefault(VideoState.Indexed) + states.GetValueOrDefault(VideoState.Failed) + deleted);
                    if (_clock.Elapsed - lastLine >= TimeSpan.FromSeconds(10))
                    {
                        lastLine = _clock.Elapsed;
                        string inFlight = string.Join(", ", states.Where(s => !s.Key.IsTerminal() && s.Value > 0).Select(s => $"{s.Key} {s.Value}"));
                        Line($"progress: uploads {Volatile.Read(ref _uploadsDone)}/{options.Videos + options.DuplicateUploads}; Indexed {states.GetValueOrDefault(VideoState.Indexed)}, Failed {states.GetValueOrDefault(VideoState.Failed)}, deleted {deleted}; in flight: {(inFlight.Length == 0 ? "none" : inFlight)}; faults {Volatile.Read(ref _faultsDone)}/{_faultCount}");
                    }
                }

                await Task.Delay(2000, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Waits until every accepted video is terminal or deleted, no tombstone is left and the work queues are empty; then for the sweeper.</summary>
    private async Task<bool> SettleAsync(CancellationToken ct)
    {
        Line($"waiting for the pipeline to settle (at most {options.SettleMinutes} minutes)");
        var deadline = DateTime.UtcNow.AddMinutes(options.SettleMinutes);
        bool settled = false;
        while (DateTime.UtcNow < deadline)
        {
            await RestartExitedAsync().ConfigureAwait(false);
            List<Guid> accepted;
            lock (_gate)
            {
                accepted = [.. _clipOf.Keys.Where(id => !_deleted.Contains(id))];
            }

            int? open = await TryQueryAsync(db => db.Videos.CountAsync(v => accepted.Contains(v.Id) && v.State != VideoState.Indexed && v.State != VideoState.Failed)).ConfigureAwait(false);
            int? tombstones = await TryQueryAsync(db => db.DeletedVideos.CountAsync()).ConfigureAwait(false);
            long? queued = await QueuedAsync(ct).ConfigureAwait(false);
            if (open == 0 && tombstones == 0 && queued == 0)
            {
                settled = true;
                break;
            }

            await Task.Delay(2000, ct).ConfigureAwait(false);
        }

        Line(settled ? "pipeline settled: every video terminal or deleted, no tombstone, work queues empty" : $"the pipeline did not settle in {options.SettleMinutes} minutes");

        // Files a deletion could not remove (a stage still writing) are the orphan sweeper's: give it its MinAge and a pass.
        var sweepDeadline = DateTime.UtcNow.AddMinutes(3);
        while (OrphanFiles() > 0 && DateTime.UtcNow < sweepDeadline)
        {
            await Task.Delay(2000, ct).ConfigureAwait(false);
        }

        return settled;
    }

    private int OrphanFiles()
    {
        List<Guid> deleted;
        lock (_gate)
        {
            deleted = [.. _deleted];
        }

        return deleted.Sum(id => _d.FeatureFiles(id) + _d.MediaFiles(id) + (_d.OriginalExists(id) ? 1 : 0));
    }

    /// <summary>Messages in the work queues (not the error and skipped queues); null when the management API does not answer.</summary>
    private async Task<long?> QueuedAsync(CancellationToken ct)
    {
        try
        {
            return (await _infra.ManagementQueuesAsync(ct).ConfigureAwait(false)).Where(q => !IsDeadLetter(q.Name)).Sum(q => q.Messages);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static bool IsDeadLetter(string queue) => queue.EndsWith("_error", StringComparison.Ordinal) || queue.EndsWith("_skipped", StringComparison.Ordinal);

    private async Task<SoakFacts> CollectAsync(CancellationToken ct)
    {
        // The statistics of the management API lag by up to 5 s.
        await Task.Delay(6000, ct).ConfigureAwait(false);
        var queues = await _infra.ManagementQueuesAsync(ct).ConfigureAwait(false);
        _deadLetters = [.. queues.Where(q => IsDeadLetter(q.Name) && q.Messages > 0)];

        var rows = await _d.QueryAsync(db => db.Videos.AsNoTracking().Where(v => v.TenantId == DistributedDeployment.Tenant)
            .Select(v => new { v.Id, v.State, v.FailureReason, v.FailedStage, v.SegmentCount }).ToDictionaryAsync(v => v.Id, ct)).ConfigureAwait(false);
        var segmentRows = await _d.SegmentRowsAsync().ConfigureAwait(false);
        int tombstones = await _d.QueryAsync(db => db.DeletedVideos.CountAsync(ct)).ConfigureAwait(false);
        _failures = [.. rows.Values.Where(v => v.State == VideoState.Failed).Select(v => $"{v.FailedStage}: {v.FailureReason}")];

        List<Guid> known;
        lock (_gate)
        {
            known = [.. _clipOf.Keys];
        }

        var (points, total) = await _d.CountAllPointsAsync(known).ConfigureAwait(false);
        var videos = known.Select(id =>
        {
            var row = rows.GetValueOrDefault(id);
            return new VideoFacts(
                id,
                _deleted.Contains(id),
                _clipOf[id].Segments,
                row?.State,
                row?.FailureReason,
                row?.SegmentCount ?? 0,
                segmentRows.GetValueOrDefault(id),
                points[id],
                _d.FeatureFiles(id),
                _d.MediaFiles(id),
                _d.OriginalExists(id));
        }).ToList();
        return new SoakFacts(
            videos,
            rows.Keys.Count(id => !_clipOf.ContainsKey(id)),
            total,
            tombstones,
            queues.Where(q => !IsDeadLetter(q.Name)).Sum(q => q.Messages),
            _answers.Values.Sum(ids => ids.Count - 1),
            _refused);
    }

    private List<(string Name, long Messages)> _deadLetters = [];
    private List<string> _failures = [];

    private void Report(SoakTally tally, bool settled)
    {
        string Kinds(string kind) => _kills.TryGetValue(kind, out var m) ? $"{m.Values.Sum()} ({string.Join(", ", m.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"{x.Value} {x.Key}"))})" : "0";
        static string Downtimes(List<double> d) => d.Count == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"{d.Count} (down {d.Average():F1} s on average, {d.Max():F1} s at most)");

        Line("--- breakdown");
        Line($"kills: encoder {Kinds("encoder")}; frame extractor {Kinds("frame-extractor")}; indexer {Kinds("indexer")}");
        Line($"restarts: RabbitMQ {Downtimes(_brokerDown)}; PostgreSQL {Downtimes(_dbDown)}");
        Line($"deletes: {_deleted.Count} ({string.Join(", ", _deleteMoments.GetValueOrDefault("delete", []).Select(x => $"{x.Value} {x.Key}"))})");
        Line($"uploads: {_uploadsDone} answered, {_answers.Count} distinct clips, {_duplicateAnswers} answered as duplicates of an accepted video, {_retriedUploads} retried after a fault, {_refused} refused");
        Line($"reconciler: {ReDrove().Count(_d.Upload.Log)} stuck videos re-driven, {ReDeleted().Count(_d.Upload.Log)} deletions re-published");
        Line($"unexpected exits: {(_unexpectedExits.Count == 0 ? "none" : string.Join("; ", _unexpectedExits))}");
        Line($"error queues: {(_deadLetters.Count == 0 ? "empty" : string.Join(", ", _deadLetters.Select(q => $"{q.Name} {q.Messages}")))}");
        foreach (var reason in _failures.GroupBy(r => r.Length > 160 ? r[..160] : r).OrderByDescending(g => g.Count()))
        {
            Line($"failed: {reason.Count()} x {reason.Key}");
        }

        Line($"videos: {tally.Accepted} accepted, {tally.Indexed} Indexed, {tally.Failed} Failed, {_deleted.Count} deleted; {tally.Stuck} stuck, {tally.Orphans} with orphans; {tally.Points} points{(settled ? "" : "; NOT SETTLED")}");
        foreach (string problem in tally.Problems.Take(50))
        {
            Line($"PROBLEM {problem}");
        }

        if (tally.Problems.Count > 50)
        {
            Line($"... and {tally.Problems.Count - 50} more problems");
        }

        if (!tally.Passed)
        {
            // The workers' last words, for the first look at a failed soak.
            foreach (var s in new[] { _d.Upload, _d.Indexer }.Concat(_d.Extractors).Concat(_d.Encoders))
            {
                string tail = s.Log.Length > 1500 ? s.Log[^1500..] : s.Log;
                Line($"--- {s.Name} (last lines)\n{tail.TrimEnd()}");
            }
        }
    }

    /// <summary>A worker that exited without being killed (a crash) is reported and replaced.</summary>
    private async Task RestartExitedAsync()
    {
        foreach (var (kind, pool) in new[] { ("frame-extractor", _d.Extractors), ("encoder", _d.Encoders), ("indexer", new List<ServiceProcess> { _d.Indexer }) })
        {
            foreach (var gone in pool.Where(p => p.HasExited).ToList())
            {
                string tail = gone.Log.Length > 600 ? gone.Log[^600..] : gone.Log;
                _unexpectedExits.Add($"{gone.Name} at {_clock.Elapsed.TotalSeconds:F0} s");
                var replacement = await ReplaceAsync(gone, kind).ConfigureAwait(false);
                Line($"UNEXPECTED EXIT of {gone.Name} (pid {gone.Pid}); replaced by {replacement.Name}; its last output:\n{tail.TrimEnd()}");
            }
        }
    }

    private async Task<Dictionary<VideoState, int>?> StatesAsync()
    {
        List<Guid> accepted;
        lock (_gate)
        {
            accepted = [.. _clipOf.Keys];
        }

        return await TryQueryAsync(db => db.Videos.AsNoTracking().Where(v => accepted.Contains(v.Id)).GroupBy(v => v.State)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count)).ConfigureAwait(false);
    }

    /// <summary>A query that may meet PostgreSQL restarting: null then.</summary>
    private async Task<T?> TryQueryAsync<T>(Func<LiteVL.Storage.LiteVLDbContext, Task<T>> query)
    {
        try
        {
            return await _d.QueryAsync(query).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or System.Data.Common.DbException or TimeoutException)
        {
            return default;
        }
    }

    private string NextName(string kind)
    {
        int n = _serial[kind] = _serial.GetValueOrDefault(kind, kind == "indexer" ? 1 : 2) + 1;
        return $"{kind}-{n}";
    }

    private static void Count(Dictionary<string, Dictionary<string, int>> counts, string kind, string moment)
    {
        if (!counts.TryGetValue(kind, out var m))
        {
            counts[kind] = m = [];
        }

        m[moment] = m.GetValueOrDefault(moment) + 1;
    }

    private void Line(string text)
    {
        lock (console)
        {
            console.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F0} s] {text}");
        }
    }

    [GeneratedRegex("Re-drove video")]
    private static partial Regex ReDrove();

    [GeneratedRegex("Re-published VideoDeleted")]
    private static partial Regex ReDeleted();
}
