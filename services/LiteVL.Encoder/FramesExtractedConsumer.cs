using LiteVL.Contracts;
using MassTransit;

namespace LiteVL.Encoder;

/// <summary>Takes FramesExtracted messages in batches (segments of several videos share a model run).</summary>
public sealed class FramesExtractedConsumer(SegmentEncoder encoder) : IConsumer<Batch<FramesExtracted>>
{
    public async Task Consume(ConsumeContext<Batch<FramesExtracted>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outcome = await encoder.EncodeAsync([.. context.Message.Select(m => m.Message)], context.CancellationToken).ConfigureAwait(false);
        foreach (var encoded in outcome.Encoded)
        {
            await context.Publish(encoded, context.CancellationToken).ConfigureAwait(false);
        }

        foreach (var failed in outcome.Failed)
        {
            await context.Publish(failed, context.CancellationToken).ConfigureAwait(false);
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
