using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using MassTransit;

namespace LiteVL.ServiceDefaults;

/// <summary>
/// A poison message — one a stage kept failing on through every retry — lands in its *_error queue, and MassTransit
/// publishes a <see cref="Fault{T}"/>. This consumer ends the video <c>Failed</c> with the stage and the error, so the
/// upload does not wait forever and the person who made it sees why. Only a video still in the faulted stage's own
/// states is failed: a batch mate of a poison message that finished meanwhile keeps its result.
/// </summary>
public sealed class PipelineFaultConsumer(VideoLedger ledger) :
    IConsumer<Fault<VideoUploaded>>,
    IConsumer<Fault<FramesExtracted>>,
    IConsumer<Fault<SegmentsEncoded>>
{
    public Task Consume(ConsumeContext<Fault<VideoUploaded>> context) =>
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, "extract", VideoState.Uploaded, VideoState.Extracting);

    public Task Consume(ConsumeContext<Fault<FramesExtracted>> context) =>
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, "encode", VideoState.Extracted, VideoState.Encoding);

    public Task Consume(ConsumeContext<Fault<SegmentsEncoded>> context) =>
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, "index", VideoState.Encoded, VideoState.Indexing);

    private async Task FailAsync<T>(ConsumeContext<Fault<T>>? context, Guid? videoId, string? tenantId, string stage, params VideoState[] stageStates)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        var error = context.Message.Exceptions.FirstOrDefault();
        string reason = $"the {stage} stage kept failing ({error?.ExceptionType.Split('.').Last() ?? "error"}: {error?.Message ?? "unknown"}); the message is in the error queue";
        if (await ledger.FailFromAsync(videoId!.Value, stageStates, stage, reason, context.CancellationToken).ConfigureAwait(false))
        {
            await context.Publish(new VideoFailed { VideoId = videoId.Value, TenantId = tenantId!, Stage = stage, Reason = reason }, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

public sealed class PipelineFaultConsumerDefinition : ConsumerDefinition<PipelineFaultConsumer>
{
    public PipelineFaultConsumerDefinition() => EndpointName = "pipeline-faults";
}
