using LiteVL.Contracts;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.ServiceDefaults;

public enum MessageTransport
{
    /// <summary>The embedded host: everything in one process.</summary>
    InMemory,

    /// <summary>Distributed mode: quorum queues, publisher confirms.</summary>
    RabbitMq,
}

/// <summary>Section <c>LiteVL:Messaging</c>.</summary>
public sealed class MessagingOptions
{
    public const string Section = "LiteVL:Messaging";

    public MessageTransport Transport { get; set; } = MessageTransport.InMemory;

    public string RabbitMqHost { get; set; } = "localhost";

    public ushort RabbitMqPort { get; set; } = 5672;

    public string RabbitMqVirtualHost { get; set; } = "/";

    public string RabbitMqUsername { get; set; } = "guest";

    public string RabbitMqPassword { get; set; } = "guest";

    /// <summary>Messages a consumer holds un-acknowledged: a crashed worker returns at most this many to the queue.</summary>
    public int PrefetchCount { get; set; } = 16;
}

public static class MessagingExtensions
{
    /// <summary>MassTransit on the configured transport, with the video id as correlation id of every message.</summary>
    public static IServiceCollection AddLiteVLMessaging(this IServiceCollection services, IConfiguration configuration, Action<IBusRegistrationConfigurator> consumers)
    {
        var options = configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>() ?? new MessagingOptions();
        services.AddSingleton(options);
        MessageCorrelation.UseCorrelationId<VideoUploaded>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<FramesExtracted>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<SegmentsEncoded>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoIndexed>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoFailed>(m => m.VideoId);
        MessageCorrelation.UseCorrelationId<VideoDeleted>(m => m.VideoId);
        services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            consumers(x);
            // Every service may host it: they compete on one queue, and a fault is handled once.
            x.AddConsumer<PipelineFaultConsumer, PipelineFaultConsumerDefinition>();
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
                    cfg.Host(options.RabbitMqHost, options.RabbitMqPort, options.RabbitMqVirtualHost, h =>
                    {
                        h.Username(options.RabbitMqUsername);
                        h.Password(options.RabbitMqPassword);
                        h.PublisherConfirmation = true;
                    });
                    cfg.PrefetchCount = options.PrefetchCount;
                    cfg.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)));
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)));
                    cfg.ConfigureEndpoints(context);
                });
            }
        });
        return services;
    }
}
