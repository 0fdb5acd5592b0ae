using LiteVL.Contracts;
using MassTransit;

namespace LiteVL.FrameExtractor;

public sealed class VideoUploadedConsumer(FrameExtraction extraction) : IConsumer<VideoUploaded>
{
    public async Task Consume(ConsumeContext<VideoUploaded> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outcome = await extraction.ExtractAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        await outcome.PublishAsync(context, context.CancellationToken).ConfigureAwait(false);
    }
}

public sealed class VideoUploadedConsumerDefinition : ConsumerDefinition<VideoUploadedConsumer>
{
    public VideoUploadedConsumerDefinition()
    {
        EndpointName = "frame-extractor";
        ConcurrentMessageLimit = Math.Max(1, Environment.ProcessorCount);
    }
}
