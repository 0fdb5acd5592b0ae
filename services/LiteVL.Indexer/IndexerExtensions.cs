using LiteVL.Pipeline;
using LiteVL.VectorIndex.Hosting;
using MassTransit;

namespace LiteVL.Indexer;

public static class IndexerExtensions
{
    public static IServiceCollection AddIndexer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddLiteVLVectorIndex(configuration);
        services.AddScoped<SegmentIndexer>();
        services.AddScoped<VideoPointRemover>();
        return services;
    }

    public static void AddIndexerConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddPipelineConsumers();
        bus.AddConsumer<SegmentsEncodedConsumer, SegmentsEncodedConsumerDefinition>();
        bus.AddConsumer<VideoDeletedConsumer, VideoDeletedConsumerDefinition>();
    }
}
