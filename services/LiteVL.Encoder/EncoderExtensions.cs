using LiteVL.Model.Hosting;
using LiteVL.Pipeline;
using MassTransit;

namespace LiteVL.Encoder;

public static class EncoderExtensions
{
    public static IServiceCollection AddEncoder(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EncoderOptions>().Bind(configuration.GetSection(EncoderOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddLiteVLModel(configuration);
        services.AddScoped<SegmentEncoder>();
        services.AddEncoderHeartbeat(configuration);
        return services;
    }

    public static void AddEncoderConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddPipelineConsumers();
        bus.AddConsumer<FramesExtractedConsumer, FramesExtractedConsumerDefinition>();
    }
}
