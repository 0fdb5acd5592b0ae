using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline;

/// <summary>
/// A poison message — one a stage kept failing on through every retry — lands in its *_error queue, and MassTransit
/// publishes a <see cref="Fault{T}"/>. This consumer hands it to <see cref="StageFaults"/>, which ends the video
/// <c>Failed</c>, and publishes the failure.
/// </summary>
public sealed class PipelineFaultConsumer(StageFaults faults) :
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
        var failed = await faults.FailAsync(stage, videoId!.Value, tenantId!, error?.ExceptionType, error?.Message, context.CancellationToken).ConfigureAwait(false);
        if (failed is not null)
        {
            await context.Publish(failed, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Ends a video <c>Failed</c> when its stage gave up on it, with the stage and the error, so the upload does not wait
/// forever and the person who made it sees why. Only a video still in the stage's own states is failed: a batch mate of
/// a poison message that finished meanwhile keeps its result. Knows nothing of the bus.
/// </summary>
public sealed class StageFaults(VideoLedger ledger)
{
    /// <summary>The failure to publish, or null when the video had left the stage (or is gone).</summary>
    public async Task<VideoFailed?> FailAsync(PipelineStage stage, Guid videoId, string tenantId, string? exceptionType, string? message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stage);
        string reason = $"the {stage.Name} stage kept failing ({exceptionType?.Split('.').Last() ?? "error"}: {message ?? "unknown"}); the message is in the error queue";
        return await ledger.FailFromAsync(videoId, stage.States, stage.Name, reason, ct).ConfigureAwait(false)
            ? PipelineMessages.Failed(videoId, tenantId, stage.Name, reason)
            : null;
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
        bus.AddScoped<StageFaults>();
        bus.AddConsumer<PipelineFaultConsumer, PipelineFaultConsumerDefinition>();
        return bus;
    }
}
