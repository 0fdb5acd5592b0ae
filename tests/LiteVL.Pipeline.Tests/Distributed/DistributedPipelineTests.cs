using System.Diagnostics;
using System.Text.RegularExpressions;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.Distributed;

/// <summary>
/// The distributed mode on one machine: RabbitMQ and PostgreSQL and every service as its own OS process — Upload API,
/// frame extractor, two competing encoder workers, indexer — ingesting 30 clips at once; then the same under faults.
/// </summary>
public sealed partial class DistributedPipelineTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task ThirtyClips_TwoEncoders_EachIndexedExactlyOnce_NoDuplicates()
    {
        string postgres = Servers.Require(Server.Postgres);
        string rabbitPort = Servers.Require(Server.RabbitMq);
        await using var d = await DistributedDeployment.StartAsync(postgres, rabbitPort, encoders: 2, TinyModel);
        var clips = await d.GenerateClipsAsync(30);
        var started = Stopwatch.StartNew();
        var ids = await d.UploadAsync(clips);
        var final = await d.WaitForTerminalAsync(ids.Keys, TimeSpan.FromMinutes(5));

        Assert.True(final.Count == ids.Count, $"{ids.Count - final.Count} videos did not finish:\n{d.Logs()}");
        // Videos each worker encoded, from its own /metrics (the sum of the videos-per-batch histogram); the console
        // no longer prints a line per batch, and a count the worker exports is what an operator would look at.
        int[] encoded = new int[d.Encoders.Count];
        for (int i = 0; i < encoded.Length; i++)
        {
            using var workerScrape = new HttpClient { BaseAddress = d.Encoders[i].BaseAddress };
            string workerMetrics = await workerScrape.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            var sum = EncodedVideosMetric().Match(workerMetrics);
            encoded[i] = sum.Success ? (int)double.Parse(sum.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }

        output.WriteLine($"30 clips indexed in {started.Elapsed.TotalSeconds:F1} s by 2 encoders: {encoded[0]} and {encoded[1]} videos encoded");
        foreach (var (id, segments) in ids)
        {
            var view = final[id];
            Assert.True(view.State == VideoState.Indexed, $"{id} ended {view.State}: {view.FailureReason}");
            Assert.Equal(segments, view.SegmentCount);
            Assert.Single(view.Events, t => t.State == VideoState.Indexed);
            Assert.Single(view.Events, t => t.State == VideoState.Encoded);
        }

        Assert.All(encoded, count => Assert.True(count > 0, $"an encoder did no work: {string.Join(", ", encoded)}"));
        Assert.Equal(30, encoded.Sum());

        // Exactly one point, one segment row and one token file per segment.
        var points = await d.CountPointsAsync(ids.Keys);
        var rows = await d.SegmentRowsAsync();
        output.WriteLine($"{ids.Values.Sum()} segments, {points.Values.Sum()} points");
        foreach (var (id, segments) in ids)
        {
            Assert.Equal((segments, segments, segments), ((int)points[id], rows[id], d.FeatureFiles(id)));
        }

        // The metrics the encoders export: batches of several messages, on the CPU provider.
        using var scrape = new HttpClient { BaseAddress = d.Encoders[0].BaseAddress };
        string metrics = await scrape.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Matches(@"litevl_encoder_batch_segments_count\S* [1-9]", metrics);
        Assert.Contains("litevl_model_provider{", metrics, StringComparison.Ordinal);
        Assert.Matches(@"litevl_stage_duration_seconds_count\{[^}]*stage=""encode""[^}]*\} [1-9]", metrics);

        // The Upload API counts videos by state from the database (refreshed every 10 s).
        using var uploadScrape = new HttpClient { BaseAddress = d.Upload.BaseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string upload;
        do
        {
            await Task.Delay(1000);
            upload = await uploadScrape.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }
        while (!upload.Contains("litevl_videos{otel_scope_name=\"LiteVL\",state=\"Indexed\"} 30", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.Contains("litevl_videos{otel_scope_name=\"LiteVL\",state=\"Indexed\"} 30", upload, StringComparison.Ordinal);
        Assert.Contains("litevl_videos{otel_scope_name=\"LiteVL\",state=\"Failed\"} 0", upload, StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 5's fault run: an encoder is SIGKILLed three times mid-work (the first time provably while it holds an
    /// in-flight batch), RabbitMQ is restarted once and PostgreSQL once, all while 30 clips are being processed. Every
    /// accepted video must still end Indexed or Failed with a reason; nothing lost, nothing duplicated.
    /// </summary>
    [SkippableFact]
    public async Task Faults_killed_encoders_and_restarted_RabbitMQ_and_PostgreSQL_lose_and_duplicate_nothing()
    {
        // A cluster and a node of its own (it restarts them), started with the scripts: it needs the servers installed,
        // which is what the policy's variables stand for (tests/run.sh installs both before it sets them).
        Servers.Require(Server.Postgres);
        Servers.Require(Server.RabbitMq);
        await using var infra = await OwnInfrastructure.StartAsync();
        await using var d = await DistributedDeployment.StartAsync(infra.PostgresAdmin, infra.RabbitMqPort.ToString(System.Globalization.CultureInfo.InvariantCulture), encoders: 2, TinyModel, new Dictionary<string, string>
        {
            // Re-drive quickly what a fault left stuck (the default waits 5 minutes).
            ["LiteVL__Reconciler__Interval"] = "00:00:02",
            ["LiteVL__Reconciler__StaleAfter"] = "00:00:20",
        });
        var clips = await d.GenerateClipsAsync(30);

        // Both workers must be consuming before the freeze, or one of them holds nothing and the kill proves nothing (a
        // worker is live before its bus has attached its consumer; on a loaded machine that gap lasts seconds).
        await WaitForQueueAsync(infra, q => q.Consumers >= 2, TimeSpan.FromSeconds(60));
        var started = Stopwatch.StartNew();
        var ids = await d.UploadAsync(clips);
        int prefetch = DistributedDeployment.MessagesPerBatch * 2;

        // 1. Freeze both encoders until FramesExtracted piles up and each holds a full prefetch window un-acknowledged;
        //    then SIGKILL one: exactly its in-flight messages go back to the queue, the other worker's stay with it.
        foreach (var e in d.Encoders)
        {
            await e.SignalAsync("STOP");
        }

        // (Frozen for at most ~40 s, well inside the broker's heartbeat timeout, so RabbitMQ keeps both connections.)
        var before = await WaitForQueueAsync(infra, q => q.Unacked >= 2 * prefetch, TimeSpan.FromSeconds(30), required: false);
        if (before.Unacked < 2)
        {
            before = await WaitForQueueAsync(infra, q => q.Unacked >= 2, TimeSpan.FromSeconds(10));
        }

        var victim = d.Encoders[0];
        await victim.SignalAsync("KILL");
        var after = await WaitForQueueAsync(infra, q => q.Unacked < before.Unacked, TimeSpan.FromSeconds(30));
        int returned = before.Unacked - after.Unacked;
        output.WriteLine($"kill 1: queue 'encoder' before ready {before.Ready}, unacked {before.Unacked}; after ready {after.Ready}, unacked {after.Unacked}: {returned} in-flight messages returned (prefetch {prefetch})");
        Assert.InRange(returned, 1, prefetch); // the victim's in-flight batch, no more
        Assert.InRange(after.Unacked, 1, prefetch); // the other worker still holds its own
        Assert.True(after.Ready >= before.Ready + returned, "the returned messages are ready again (the extractor may add more meanwhile)");

        // 2. Two more kills, each of a fresh worker as it starts its first batch: SIGKILL the moment it logs that it is
        //    creating its ONNX Runtime session, which happens inside the first batch.
        int held = after.Unacked;
        int kills = 1;
        for (int i = 0; i < 2; i++)
        {
            var worker = await d.StartEncoderAsync($"encoder-1{(char)('b' + i)}");
            await worker.KillOnLogLineAsync("ONNX Runtime execution provider", TimeSpan.FromSeconds(60));
            kills++;
            int finished = EncodedLine().Count(worker.Log); // usually 0; the log line can lag a fast first batch
            var back = await WaitForQueueAsync(infra, q => q.Unacked == held, TimeSpan.FromSeconds(30));
            output.WriteLine($"kill {kills}: a fresh worker killed in its first batch ({finished} batches finished before the kill); its un-acked messages are back: ready {back.Ready}, unacked {back.Unacked} (the frozen worker's)");
        }

        // 3. RabbitMQ restarted once, then 4. PostgreSQL restarted once, with work still queued (the quorum queue keeps
        //    it); then the frozen worker resumes and a replacement starts. The services reconnect by themselves.
        var queued = await infra.QueueAsync("encoder");
        var outage = Stopwatch.StartNew();
        await infra.RestartRabbitMqAsync();
        // The quorum queue comes back with every message it held, the frozen worker's un-acknowledged ones as ready.
        var recovered = await WaitForQueueAsync(infra, q => q.Ready >= queued.Ready + queued.Unacked, TimeSpan.FromSeconds(60));
        output.WriteLine($"RabbitMQ restarted in {outage.Elapsed.TotalSeconds:F1} s; queue 'encoder' before: ready {queued.Ready}, unacked {queued.Unacked}; after: ready {recovered.Ready}");
        outage.Restart();
        await infra.RestartPostgresAsync();
        output.WriteLine($"PostgreSQL restarted in {outage.Elapsed.TotalSeconds:F1} s");
        await d.Encoders[1].SignalAsync("CONT");
        await d.StartEncoderAsync("encoder-1d");

        var final = await d.WaitForTerminalAsync(ids.Keys, TimeSpan.FromMinutes(5));
        var rows = await d.SegmentRowsAsync();
        var points = await d.CountPointsAsync(ids.Keys);
        int indexed = final.Values.Count(v => v.State == VideoState.Indexed);
        int failed = final.Values.Count(v => v.State == VideoState.Failed);
        int lost = ids.Count - final.Count;
        int duplicated = ids.Count(kv => final.TryGetValue(kv.Key, out var v) && v.State == VideoState.Indexed
            && (v.Events.Count(t => t.State == VideoState.Indexed) != 1 || rows.GetValueOrDefault(kv.Key) != kv.Value || points[kv.Key] != kv.Value || d.FeatureFiles(kv.Key) != kv.Value));
        int redriven = Regex.Count(d.Upload.Log, "Re-drove video");
        output.WriteLine($"fault run: {ids.Count} accepted, {indexed} Indexed, {failed} Failed, {lost} lost, {duplicated} duplicated; {kills} encoder kills, 1 RabbitMQ restart, 1 PostgreSQL restart; {redriven} re-drives by the reconciler; {started.Elapsed.TotalSeconds:F1} s");
        foreach (var v in final.Values.Where(v => v.State == VideoState.Failed))
        {
            output.WriteLine($"  Failed {v.Id}: {v.FailedStage}: {v.FailureReason}");
        }

        Assert.True(lost == 0, $"{lost} videos never finished:\n{d.Logs()}");
        Assert.Equal(0, duplicated);
        Assert.All(final.Values.Where(v => v.State == VideoState.Failed), v => Assert.False(string.IsNullOrWhiteSpace(v.FailureReason)));
        Assert.All(final.Values.Where(v => v.State == VideoState.Failed), v => Assert.Equal(0, points[v.Id]));
    }

    /// <summary>The tiny preset (seed 0) the workers load, written into the deployment's folder.</summary>
    internal static DeployedModel TinyModel(string directory)
    {
        var model = LiteVL.Model.ModelDirectory.Init(LiteVL.Model.Config.Presets.Get(LiteVL.Model.Config.Presets.Tiny), seed: 0, directory);
        return new DeployedModel(model.Version, model.NumFrames, model.Vision.ImageSize);
    }

    private static async Task<(int Ready, int Unacked, int Consumers)> WaitForQueueAsync(OwnInfrastructure infra, Func<(int Ready, int Unacked, int Consumers), bool> done, TimeSpan timeout, bool required = true)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = await infra.QueueAsync("encoder");
        while (!done(last))
        {
            if (DateTime.UtcNow >= deadline && !required)
            {
                return last;
            }

            Assert.True(DateTime.UtcNow < deadline, $"queue 'encoder' stayed at ready {last.Ready}, unacked {last.Unacked}, consumers {last.Consumers}");
            await Task.Delay(250);
            last = await infra.QueueAsync("encoder");
        }

        // Settle: the node's counters for a closed channel are updated in one step, read once more to be sure.
        await Task.Delay(500);
        var settled = await infra.QueueAsync("encoder");
        return done(settled) ? settled : last;
    }

    [GeneratedRegex(@"Encoded (\d+) videos")]
    private static partial Regex EncodedLine();

    [GeneratedRegex(@"^litevl_encoder_batch_videos_sum\S* (\d+(?:\.\d+)?)", RegexOptions.Multiline)]
    private static partial Regex EncodedVideosMetric();
}
