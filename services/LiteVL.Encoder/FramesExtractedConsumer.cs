using System.Runtime.ExceptionServices;
using LiteVL.Contracts;
using LiteVL.ServiceDefaults;
using MassTransit;

namespace LiteVL.Encoder;

/// <summary>
/// Takes FramesExtracted messages in batches (segments of several videos share a model run). When a batch fails, each
/// video is tried alone, so a poison message fails only its own video: the others finish, and the batch's retries and
/// final fault (<see cref="LiteVL.Pipeline.PipelineFaultConsumer"/>) then touch only the video still stuck.
/// </summary>
public sealed class FramesExtractedConsumer(SegmentEncoder encoder, EncoderHeartbeatRecorder heartbeat, IServiceScopeFactory scopes) : IConsumer<Batch<FramesExtracted>>
{
    public async Task Consume(ConsumeContext<Batch<FramesExtracted>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        FramesExtracted[] messages = [.. context.Message.Select(m => m.Message)];
        EncodeOutcome outcome;
        try
        {
            outcome = await heartbeat.TrackAsync(() => encoder.EncodeAsync(messages, context.CancellationToken)).ConfigureAwait(false);
        }
        catch (Exception) when (messages.DistinctBy(m => m.VideoId).Count() > 1 && !context.CancellationToken.IsCancellationRequested)
        {
            await EncodeOneByOneAsync(context, messages).ConfigureAwait(false);
            return;
        }

        await PublishAsync(context, outcome).ConfigureAwait(false);
    }

    private async Task EncodeOneByOneAsync(ConsumeContext<Batch<FramesExtracted>> context, FramesExtracted[] messages)
    {
        ExceptionDispatchInfo? first = null;
        foreach (var message in messages.DistinctBy(m => m.VideoId))
        {
            // A fresh scope (DbContext) per video: the failed batch may have left tracked changes behind.
            await using var scope = scopes.CreateAsyncScope();
            try
            {
                var alone = scope.ServiceProvider.GetRequiredService<SegmentEncoder>();
                var outcome = await heartbeat.TrackAsync(() => alone.EncodeAsync([message], context.CancellationToken)).ConfigureAwait(false);
                await PublishAsync(context, outcome).ConfigureAwait(false);
            }
            catch (Exception e) when (!context.CancellationToken.IsCancellationRequested)
            {
                first ??= ExceptionDispatchInfo.Capture(e);
            }
        }

        // Retry (and finally fault) the batch for the video(s) that failed alone; the finished ones are skipped then.
        first?.Throw();
    }

    /// <summary>Publishes each video's outcome inside a span of that video's own trace (see <see cref="LiteVLTelemetry.StartVideoActivity"/>).</summary>
    private static async Task PublishAsync(ConsumeContext<Batch<FramesExtracted>> context, EncodeOutcome outcome)
    {
        LiteVLTelemetry.EncoderBatchSegments.Record(outcome.Encoded.Sum(e => e.Segments.Count));
        LiteVLTelemetry.EncoderBatchVideos.Record(outcome.Encoded.Count);
        var messages = context.Message.DistinctBy(m => m.Message.VideoId).ToDictionary(m => m.Message.VideoId);
        foreach (var (videoId, message) in outcome.Encoded.Select(e => (e.VideoId, (object)e)).Concat(outcome.Failed.Select(f => (f.VideoId, (object)f))))
        {
            using var activity = messages.TryGetValue(videoId, out var source) ? LiteVLTelemetry.StartVideoActivity("encode video", source, videoId) : null;
            await context.Publish(message, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

public sealed class FramesExtractedConsumerDefinition : ConsumerDefinition<FramesExtractedConsumer>
{
    private readonly EncoderOptions _options;

    public FramesExtractedConsumerDefinition(Microsoft.Extensions.Options.IOptions<EncoderOptions> options)
    {
        _options = options.Value;
        EndpointName = "encoder";
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<FramesExtractedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        // The batch must fit in the prefetch window, and a crashed worker returns only this batch to the queue.
        endpointConfigurator.PrefetchCount = _options.MessagesPerBatch * 2;
        consumerConfigurator.Options<BatchOptions>(b => b
            .SetMessageLimit(_options.MessagesPerBatch)
            .SetTimeLimit(TimeSpan.FromMilliseconds(Math.Max(1, _options.MaxWaitMilliseconds)))
            .SetConcurrencyLimit(1));
    }
}
