using System.ComponentModel.DataAnnotations;
using ValidationResult = System.ComponentModel.DataAnnotations.ValidationResult;
using LiteVL.Contracts;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LiteVL.ServiceDefaults;

public enum MessageTransport
{
    /// <summary>The embedded host: everything in one process.</summary>
    InMemory,

    /// <summary>Distributed mode: quorum queues, publisher confirms.</summary>
    RabbitMq,
}

/// <summary>Section <c>LiteVL:Messaging</c>.</summary>
public sealed class MessagingOptions : IValidatableObject
{
    public const string Section = "LiteVL:Messaging";

    public MessageTransport Transport { get; set; } = MessageTransport.InMemory;

    public string RabbitMqHost { get; set; } = "localhost";

    [Range(1, 65535)]
    public int RabbitMqPort { get; set; } = 5672;

    public string RabbitMqVirtualHost { get; set; } = "/";

    public string RabbitMqUsername { get; set; } = "guest";

    public string RabbitMqPassword { get; set; } = "guest";

    /// <summary>Messages a consumer holds un-acknowledged: a crashed worker returns at most this many to the queue.</summary>
    [Range(1, 10_000)]
    public int PrefetchCount { get; set; } = 16;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Transport != MessageTransport.RabbitMq)
        {
            yield break;
        }

        foreach (var (name, value) in new[] { (nameof(RabbitMqHost), RabbitMqHost), (nameof(RabbitMqVirtualHost), RabbitMqVirtualHost), (nameof(RabbitMqUsername), RabbitMqUsername) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                yield return new ValidationResult($"{Section}:{name} must not be empty when {Section}:Transport is RabbitMq.", [name]);
            }
        }
    }

    /// <summary>The options of <paramref name="configuration"/>, or an <see cref="OptionsValidationException"/> that names each bad key.</summary>
    public static MessagingOptions Load(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<MessagingOptions>() ?? new MessagingOptions();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            throw new OptionsValidationException(Section, typeof(MessagingOptions), results.Select(r =>
                r.ErrorMessage is { } m && m.StartsWith(Section, StringComparison.Ordinal) ? m : $"{Section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        }

        return options;
    }
}

public static class MessagingExtensions
{
    /// <summary>MassTransit for a service that only publishes (the APIs, the dashboard): no consumers, no queues of its own.</summary>
    public static IServiceCollection AddLiteVLMessaging(this IServiceCollection services, IConfiguration configuration) =>
        services.AddLiteVLMessaging(configuration, _ => { });

    /// <summary>MassTransit on the configured transport, with the video id as correlation id of every message.</summary>
    public static IServiceCollection AddLiteVLMessaging(this IServiceCollection services, IConfiguration configuration, Action<IBusRegistrationConfigurator> consumers)
    {
        ArgumentNullException.ThrowIfNull(consumers);
        var options = MessagingOptions.Load(configuration);
        services.AddSingleton(options);
        MessageCorrelation.UseCorrelationId<VideoUploaded>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<FramesExtracted>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<SegmentsEncoded>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoIndexed>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoFailed>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoDeleted>(m => m.VideoId);
        services.AddMassTransit(x =>
        {
            // MassTransit 8.4+ reports "anonymous usage telemetry" to usage-tracking.masstransit.io by default: a
            // self-hosted system makes no call home (and offline it logged a warning with a stack trace).
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            consumers(x);
            if (options.Transport == MessageTransport.RabbitMq)
            {
                // Quorum queues: replicated and durable, so a broker restart loses nothing that was confirmed.
                x.AddConfigureEndpointsCallback((_, endpoint) =>
                {
                    if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    {
                        rabbit.SetQuorumQueue();
                    }
                });
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(options.RabbitMqHost, (ushort)options.RabbitMqPort, options.RabbitMqVirtualHost, h =>
                    {
                        h.Username(options.RabbitMqUsername);
                        h.Password(options.RabbitMqPassword);
                        h.PublisherConfirmation = true;
                    });
                    cfg.PrefetchCount = options.PrefetchCount;
                    cfg.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)));
                    cfg.UseConsumeFilter(typeof(StageTelemetryFilter<>), context);
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)));
                    cfg.UseConsumeFilter(typeof(StageTelemetryFilter<>), context);
                    cfg.ConfigureEndpoints(context);
                });
            }
        });
        return services;
    }
}
