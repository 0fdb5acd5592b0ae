using System.Collections.Concurrent;
using System.Diagnostics;
using LiteVL.Contracts;
using LiteVL.FrameExtractor;
using LiteVL.Storage.Entities;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.Stages;

/// <summary>One trace per video from its trigger to Indexed, even when the encoder batches videos of different traces.</summary>
public sealed class TracingTests(ITestOutputHelper output)
{
    private static readonly ActivitySource Uploads = new("LiteVL.Tests.Uploads");

    [Fact]
    public async Task Each_video_keeps_its_own_trace_through_a_shared_encoder_batch_to_the_indexer()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "MassTransit" or "LiteVL" or "LiteVL.Tests.Uploads",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        await using var rig = await PipelineRig.CreateAsync();
        var (ids, events) = await rig.SeedExtractedAsync(3);

        // Each video's trigger is published inside its own root span (as an upload request would be): three traces.
        var traces = new Dictionary<Guid, ActivityTraceId>();
        await Task.WhenAll(events.Select(async e =>
        {
            using var root = Uploads.StartActivity($"upload {e.VideoId}", ActivityKind.Server, default(ActivityContext))
                ?? throw new InvalidOperationException($"no root span: listeners {Uploads.HasListeners()}");
            lock (traces)
            {
                traces[e.VideoId] = root.TraceId;
            }

            await rig.Harness.Bus.Publish(e);
        }));

        foreach (var id in ids)
        {
            Assert.Equal(VideoState.Indexed, (await rig.WaitForTerminalAsync(id)).State);
        }

        await Task.Delay(500); // the last spans stop after the state change
        var all = stopped.ToList();
        foreach (var a in all.Where(a => a.Source.Name != "MassTransit" || a.Kind == ActivityKind.Consumer))
        {
            output.WriteLine($"{a.TraceId} {a.Source.Name} {a.Kind} {a.DisplayName} {string.Join(" ", a.Tags.Select(t => $"{t.Key}={t.Value}"))}");
        }

        Assert.Distinct(traces.Values);
        foreach (var id in ids)
        {
            // The span in which the encoder published this video's SegmentsEncoded belongs to the video's trace...
            var encode = Assert.Single(all, a => a.Source.Name == "LiteVL" && a.GetTagItem("litevl.video_id") as string == id.ToString());
            Assert.Equal(traces[id], encode.TraceId);
            // ...and so does the indexer's consumption of it (the end of the pipeline).
            Assert.Contains(all, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer && a.TraceId == traces[id]
                && a.Tags.Any(t => t.Value is { } v && v.Contains("SegmentsEncoded", StringComparison.Ordinal)));
        }

        // The three videos really shared one encoder batch (else the test would prove nothing about batches).
        Assert.Contains(rig.Harness.GetConsumerHarness<LiteVL.Encoder.FramesExtractedConsumer>().Consumed
            .Select<MassTransit.Batch<FramesExtracted>>(new CancellationToken(true)), b => b.Context.Message.Length > 1);
    }
}
