using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline;

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
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, PipelineStages.Extract);

    public Task Consume(ConsumeContext<Fault<FramesExtracted>> context) =>
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, PipelineStages.Encode);

    public Task Consume(ConsumeContext<Fault<SegmentsEncoded>> context) =>
        FailAsync(context, context?.Message.Message.VideoId, context?.Message.Message.TenantId, PipelineStages.Index);

    private async Task FailAsync<T>(ConsumeContext<Fault<T>>? context, Guid? videoId, string? tenantId, PipelineStage stage)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        var error = context.Message.Exceptions.FirstOrDefault();
        string reason = $"the {stage.Name} stage kept failing ({error?.ExceptionType.Split('.').Last() ?? "error"}: {error?.Message ?? "unknown"}); the message is in the error queue";
        if (await ledger.FailFromAsync(videoId!.Value, stage.States, stage.Name, reason, context.CancellationToken).ConfigureAwait(false))
        {
            await context.Publish(PipelineMessages.Failed(videoId.Value, tenantId!, stage.Name, reason), context.CancellationToken).ConfigureAwait(false);
        }
    }
}

public sealed class PipelineFaultConsumerDefinition : ConsumerDefinition<PipelineFaultConsumer>
{
    public PipelineFaultConsumerDefinition() => EndpointName = "pipeline-faults";
}

public static class PipelineConsumerExtensions
{
    /// <summary>
    /// What every stage's process hosts beside its own consumers: the fault consumer (the stages' processes compete on
    /// its one queue, so a fault is handled once) and the stage names of the stage metric. Each stage's
    /// <c>Add…Consumers</c> calls it; a process that hosts several stages (the embedded host) registers it once.
    /// </summary>
    public static IBusRegistrationConfigurator AddPipelineConsumers(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        if (bus.Any(d => d.ImplementationType == typeof(PipelineStageNames)))
        {
            return bus;
        }

        bus.AddSingleton<IConsumerStageNames, PipelineStageNames>();
        bus.AddConsumer<PipelineFaultConsumer, PipelineFaultConsumerDefinition>();
        return bus;
    }
}
