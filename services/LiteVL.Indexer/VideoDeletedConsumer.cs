using LiteVL.Contracts;
using MassTransit;

namespace LiteVL.Indexer;

public sealed class VideoDeletedConsumer(VideoPointRemover remover) : IConsumer<VideoDeleted>
{
    public Task Consume(ConsumeContext<VideoDeleted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return remover.RemoveAsync(context.Message, context.CancellationToken);
    }
}

public sealed class VideoDeletedConsumerDefinition : ConsumerDefinition<VideoDeletedConsumer>
{
    public VideoDeletedConsumerDefinition() => EndpointName = "indexer-deletions";
}
