using LiteVL.Media;
using LiteVL.Pipeline;
using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LiteVL.FrameExtractor;

public static class FrameExtractorExtensions
{
    /// <summary>ffmpeg (section <c>LiteVL:Media</c>) and the extraction stage.</summary>
    public static IServiceCollection AddFrameExtractor(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddFrameGeometry(configuration);
        services.AddSingleton(_ =>
        {
            var options = configuration.GetSection("LiteVL:Media").Get<MediaOptions>() ?? new MediaOptions();
            options.Validate();
            return options;
        });
        services.AddSingleton<IMediaProcessor>(sp => new MediaToolchain(sp.GetRequiredService<MediaOptions>()));
        services.AddScoped<FrameExtraction>();
        services.AddHealthChecks().AddCheck<FfmpegHealthCheck>("ffmpeg", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return services;
    }

    public static void AddFrameExtractorConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddPipelineConsumers();
        bus.AddConsumer<VideoUploadedConsumer, VideoUploadedConsumerDefinition>();
    }
}

/// <summary>Ready when ffmpeg and ffprobe answer with their versions.</summary>
internal sealed class FfmpegHealthCheck(IMediaProcessor media) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var versions = await media.CheckToolsAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy(versions.FFmpeg);
        }
        catch (MediaException e)
        {
            return HealthCheckResult.Unhealthy(e.Message);
        }
    }
}
