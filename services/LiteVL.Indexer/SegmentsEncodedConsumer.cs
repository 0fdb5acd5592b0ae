using LiteVL.Contracts;
using MassTransit;

namespace LiteVL.Indexer;

public sealed class SegmentsEncodedConsumer(SegmentIndexer indexer) : IConsumer<SegmentsEncoded>
{
    public async Task Consume(ConsumeContext<SegmentsEncoded> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var indexed = await indexer.IndexAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        if (indexed is not null)
        {
            await context.Publish(indexed, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

public sealed class SegmentsEncodedConsumerDefinition : ConsumerDefinition<SegmentsEncodedConsumer>
{
    public SegmentsEncodedConsumerDefinition() => EndpointName = "indexer";
}
