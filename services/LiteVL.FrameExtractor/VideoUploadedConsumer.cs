using LiteVL.Contracts;
using MassTransit;

namespace LiteVL.FrameExtractor;

public sealed class VideoUploadedConsumer(FrameExtraction extraction) : IConsumer<VideoUploaded>
{
    public async Task Consume(ConsumeContext<VideoUploaded> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outcome = await extraction.ExtractAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case FramesExtracted extracted:
                await context.Publish(extracted, context.CancellationToken).ConfigureAwait(false);
                break;
            case VideoFailed failed:
                await context.Publish(failed, context.CancellationToken).ConfigureAwait(false);
                break;
        }
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
