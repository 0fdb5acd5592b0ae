using LiteVL.Contracts;
using LiteVL.ServiceDefaults;
using LiteVL.Storage.Entities;
using MassTransit;

namespace LiteVL.Pipeline;

/// <summary>
/// One stage of the pipeline: its <paramref name="Name"/> (<see cref="VideoFailed.Stage"/>, the <c>stage</c> tag of the
/// stage metric), the message that triggers it, and the states of a video it owns: <paramref name="Waiting"/> for it
/// (its trigger published), <paramref name="Working"/> on it, and <paramref name="Done"/> (the next stage's trigger published).
/// </summary>
public sealed record PipelineStage(string Name, Type Trigger, VideoState Waiting, VideoState Working, VideoState Done)
{
    /// <summary>The states in which the stage owns a video: a redelivered trigger or a fault acts only on a video in one of them.</summary>
    public VideoState[] States => [Waiting, Working];
}

/// <summary>
/// The pipeline's stage vocabulary: upload → <see cref="Extract"/> → <see cref="Encode"/> → <see cref="Index"/>. Every
/// stage name, stage state set and trigger type the reconciler, the fault consumer, the stages and the dashboard use
/// comes from here.
/// </summary>
public static class PipelineStages
{
    /// <summary>The frame extractor: <see cref="VideoUploaded"/> → <see cref="FramesExtracted"/>.</summary>
    public static readonly PipelineStage Extract = new("extract", typeof(VideoUploaded), VideoState.Uploaded, VideoState.Extracting, VideoState.Extracted);

    /// <summary>The encoder: <see cref="FramesExtracted"/> → <see cref="SegmentsEncoded"/>.</summary>
    public static readonly PipelineStage Encode = new("encode", typeof(FramesExtracted), VideoState.Extracted, VideoState.Encoding, VideoState.Encoded);

    /// <summary>The indexer: <see cref="SegmentsEncoded"/> → <see cref="VideoIndexed"/>.</summary>
    public static readonly PipelineStage Index = new("index", typeof(SegmentsEncoded), VideoState.Encoded, VideoState.Indexing, VideoState.Indexed);

    /// <summary>The stages in pipeline order.</summary>
    public static readonly IReadOnlyList<PipelineStage> All = [Extract, Encode, Index];

    /// <summary>Not a stage: the name under which the reconciler fails a video it gave up re-driving.</summary>
    public const string Reconcile = "reconcile";

    /// <summary>The indexer's removal of a deleted video's points (on <see cref="VideoDeleted"/>), as the stage metric names it.</summary>
    public const string Delete = "delete";

    /// <summary>The stage that owns a video in <paramref name="state"/>, or null (Indexed, Failed).</summary>
    public static PipelineStage? Owning(VideoState state) => All.FirstOrDefault(s => s.Waiting == state || s.Working == state);

    /// <summary>The stage that consumes messages of <paramref name="messageType"/> (a batch of them included), or null.</summary>
    public static string? ConsumedBy(Type messageType)
    {
        ArgumentNullException.ThrowIfNull(messageType);
        if (messageType.IsGenericType && messageType.GetGenericTypeDefinition() == typeof(Batch<>))
        {
            messageType = messageType.GetGenericArguments()[0]; // the encoder consumes batches: one measurement per batch
        }

        return messageType == typeof(VideoDeleted) ? Delete : All.FirstOrDefault(s => s.Trigger == messageType)?.Name;
    }
}

/// <summary>The stage vocabulary as the stage metric of <see cref="StageTelemetryFilter{T}"/> asks for it.</summary>
internal sealed class PipelineStageNames : IConsumerStageNames
{
    public string? StageOf(Type messageType) => PipelineStages.ConsumedBy(messageType);
}

/// <summary>The pipeline's messages, built in one place each.</summary>
public static class PipelineMessages
{
    /// <summary>The trigger of <see cref="PipelineStages.Extract"/>: an upload, an operator's retry or re-index, a reconciler's re-drive.</summary>
    public static VideoUploaded Uploaded(Guid videoId, string tenantId, string sha256, long sizeBytes, DateTime uploadedAt) => new()
    {
        VideoId = videoId,
        TenantId = tenantId,
        Sha256 = sha256,
        SizeBytes = sizeBytes,
        UploadedAt = new DateTimeOffset(AsUtc(uploadedAt)),
    };

    /// <summary>The trigger of <see cref="PipelineStages.Extract"/> for a stored video (uploaded at its creation).</summary>
    public static VideoUploaded Uploaded(Video video)
    {
        ArgumentNullException.ThrowIfNull(video);
        return Uploaded(video.Id, video.TenantId, video.Sha256, video.SizeBytes, video.CreatedAt);
    }

    /// <summary>The trigger of <see cref="PipelineStages.Encode"/>: a video's frames are on disk in <paramref name="geometry"/>.</summary>
    public static FramesExtracted Extracted(Guid videoId, string tenantId, int segmentCount, FrameGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        return new FramesExtracted { VideoId = videoId, TenantId = tenantId, SegmentCount = segmentCount, FramesPerSegment = geometry.FramesPerSegment, FrameSize = geometry.FrameSize };
    }

    /// <summary>A video ended <see cref="VideoState.Failed"/> in <paramref name="stage"/> (a stage name, or <see cref="PipelineStages.Reconcile"/>).</summary>
    public static VideoFailed Failed(Guid videoId, string tenantId, string stage, string reason) =>
        new() { VideoId = videoId, TenantId = tenantId, Stage = stage, Reason = reason };

    /// <summary>A video's rows and files are gone: the indexer removes its points from <paramref name="modelVersion"/>'s collection (and the active one).</summary>
    public static VideoDeleted Deleted(Guid videoId, string tenantId, string? modelVersion) =>
        new() { VideoId = videoId, TenantId = tenantId, ModelVersion = modelVersion };

    /// <summary>SQLite hands DateTime back unspecified; every time the database holds is UTC.</summary>
    private static DateTime AsUtc(DateTime t) => t.Kind == DateTimeKind.Utc ? t : DateTime.SpecifyKind(t, DateTimeKind.Utc);
}

/// <summary>
/// What a stage made of its trigger: the next stage's trigger (<see cref="Next"/>), the video's failure
/// (<see cref="Failure"/>), or nothing to do (skipped: a redelivery found the video past the stage, or it was deleted
/// meanwhile). Made by <see cref="StageOutcome"/>; a consumer publishes it with <see cref="PublishAsync"/>.
/// </summary>
public sealed class StageOutcome<TNext>
    where TNext : class
{
    internal StageOutcome(TNext? next, VideoFailed? failure)
    {
        Next = next;
        Failure = failure;
    }

    public TNext? Next { get; }

    public VideoFailed? Failure { get; }

    /// <summary>What <see cref="PublishAsync"/> publishes: <see cref="Next"/>, <see cref="Failure"/>, or null.</summary>
    public object? Message => (object?)Next ?? Failure;

    public async Task PublishAsync(IPublishEndpoint publish, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(publish);
        if (Next is not null)
        {
            await publish.Publish(Next, ct).ConfigureAwait(false);
        }
        else if (Failure is not null)
        {
            await publish.Publish(Failure, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>Makes <see cref="StageOutcome{TNext}"/>s.</summary>
public static class StageOutcome
{
    public static StageOutcome<TNext> Completed<TNext>(TNext next)
        where TNext : class => new(next ?? throw new ArgumentNullException(nameof(next)), null);

    public static StageOutcome<TNext> Failed<TNext>(VideoFailed failure)
        where TNext : class => new(null, failure ?? throw new ArgumentNullException(nameof(failure)));

    public static StageOutcome<TNext> Skipped<TNext>()
        where TNext : class => new(null, null);
}
