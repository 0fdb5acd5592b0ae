using System.Diagnostics;
using System.Diagnostics.Metrics;
using LiteVL.Contracts;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using MassTransit;
using MassTransit.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LiteVL.ServiceDefaults;

/// <summary>
/// The platform's own traces and metrics. Every instrument is here, so a newcomer finds what is measured in one place;
/// the stages record into it. Exported as Prometheus text at <c>/metrics</c>; traces go to an OTLP collector when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
public static class LiteVLTelemetry
{
    public const string Name = "LiteVL";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>Seconds a stage spent on one message, tag <c>stage</c> (extract, encode, index, delete) and <c>outcome</c>
    /// (ok, error); for encode, on one batch of messages.</summary>
    public static readonly Histogram<double> StageDuration = Meter.CreateHistogram<double>(
        "litevl.stage.duration", "s", "Time a pipeline stage spent on one message.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });

    /// <summary>Segments per video-encoder batch (one consumer batch; several model runs when it exceeds BatchSize).</summary>
    public static readonly Histogram<int> EncoderBatchSegments = Meter.CreateHistogram<int>(
        "litevl.encoder.batch.segments", "{segment}", "Segments encoded per encoder batch.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    /// <summary>Videos per encoder batch.</summary>
    public static readonly Histogram<int> EncoderBatchVideos = Meter.CreateHistogram<int>(
        "litevl.encoder.batch.videos", "{video}", "Videos per encoder batch.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    /// <summary>Search latency in seconds, tag <c>rerank</c> (true, false).</summary>
    public static readonly Histogram<double> SearchDuration = Meter.CreateHistogram<double>(
        "litevl.search.duration", "s", "Time to answer POST /v1/search.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    /// <summary>Video question answering latency in seconds, tag <c>mode</c> (rank, generate).</summary>
    public static readonly Histogram<double> AskDuration = Meter.CreateHistogram<double>(
        "litevl.ask.duration", "s", "Time to answer POST /v1/videos/{id}/ask.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });

    /// <summary>
    /// Starts the span of one video's part of a batch, as a child of the trace that message belongs to (so one trace runs
    /// from upload to indexed even when videos of different uploads share a batch), linked to the batch's span.
    /// </summary>
    public static Activity? StartVideoActivity(string name, ConsumeContext message, Guid videoId)
    {
        ArgumentNullException.ThrowIfNull(message);
        var links = Activity.Current is { } batch ? new[] { new ActivityLink(batch.Context) } : null;
        // MassTransit 8 carries the sender's span id (W3C format) in the MT-Activity-Id header of every message.
        string? traceParent = message.Headers.Get<string>(DiagnosticHeaders.ActivityId) ?? message.Headers.Get<string>(DiagnosticHeaders.DiagnosticId);
        ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent);
        var activity = Source.StartActivity(name, ActivityKind.Internal, parent, links: links);
        activity?.SetTag("litevl.video_id", videoId.ToString());
        return activity;
    }

    /// <summary>
    /// OpenTelemetry for the service: traces from ASP.NET Core, HttpClient, MassTransit and LiteVL (exported over OTLP when
    /// configured), metrics from the same plus the .NET runtime (scraped at <c>/metrics</c>), and the trace id in every
    /// log scope.
    /// </summary>
    public static IHostApplicationBuilder AddLiteVLTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(builder.Environment.ApplicationName))
            .WithTracing(t => t
                .AddSource(Name, DiagnosticHeaders.DefaultListenerName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsScrapeOrProbe(http.Request.Path))
                .AddHttpClientInstrumentation())
            .WithMetrics(m => m
                .AddMeter(Name, MassTransit.Monitoring.InstrumentationOptions.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.WithTracing(t => t.AddOtlpExporter());
        }

        return builder;
    }

    /// <summary>Maps <c>/metrics</c> (Prometheus text format; no API key, like the health probes: keep it on the cluster network).</summary>
    public static WebApplication MapLiteVLMetrics(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static bool IsScrapeOrProbe(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.Ordinal) || path.StartsWithSegments("/health", StringComparison.Ordinal);
}

/// <summary>Names the pipeline stage that consumes a message type: the <c>stage</c> tag of <see cref="LiteVLTelemetry.StageDuration"/>.
/// The pipeline library registers its stage vocabulary as one; a process without stages has none.</summary>
public interface IConsumerStageNames
{
    /// <summary>The stage that consumes messages of <paramref name="messageType"/>, or null.</summary>
    string? StageOf(Type messageType);
}

/// <summary>
/// Every consumed message: a log scope with the video id (so each log line says which video it is about) and, for a
/// pipeline stage's message, the stage duration metric. Registered once for all consumers in
/// <see cref="MessagingExtensions.AddLiteVLMessaging(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration, Action{IBusRegistrationConfigurator})"/>.
/// </summary>
public sealed class StageTelemetryFilter<T>(ILogger<StageTelemetryFilter<T>> logger, IEnumerable<IConsumerStageNames> stageNames) : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        string? stage = stageNames.Select(n => n.StageOf(typeof(T))).FirstOrDefault(s => s is not null);
        using var scope = context.CorrelationId is { } id ? logger.BeginScope(new Dictionary<string, object> { ["VideoId"] = id }) : null;
        long started = Stopwatch.GetTimestamp();
        string outcome = "error";
        try
        {
            await next.Send(context).ConfigureAwait(false);
            outcome = "ok";
        }
        finally
        {
            if (stage is not null)
            {
                LiteVLTelemetry.StageDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new("stage", stage), new("outcome", outcome));
            }
        }
    }

    public void Probe(ProbeContext context) => context?.CreateFilterScope("litevl-stage-telemetry");
}

/// <summary>
/// <c>litevl.videos</c>: videos by state, read from the database every <see cref="Period"/> by one process (the Upload
/// API, or the embedded host) so a Prometheus sum over services does not count them twice.
/// </summary>
public sealed partial class VideoStateMetrics(IServiceScopeFactory scopes, ILogger<VideoStateMetrics> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    private volatile IReadOnlyDictionary<VideoState, int> _counts = new Dictionary<VideoState, int>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LiteVLTelemetry.Meter.CreateObservableGauge(
            "litevl.videos",
            () => Enum.GetValues<VideoState>().Select(s => new Measurement<int>(_counts.GetValueOrDefault(s), new KeyValuePair<string, object?>("state", s.ToString()))),
            "{video}",
            "Videos by pipeline state.");
        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
                _counts = await db.Videos.GroupBy(v => v.State).Select(g => new { g.Key, Count = g.Count() })
                    .ToDictionaryAsync(g => g.Key, g => g.Count, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not count videos by state for /metrics")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
