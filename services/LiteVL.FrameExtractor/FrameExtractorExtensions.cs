using System.ComponentModel.DataAnnotations;
using LiteVL.FrameExtractor.Media;
using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace LiteVL.FrameExtractor;

/// <summary>Section <c>LiteVL:Frames</c>: the frame geometry of the model (T frames of S×S per segment).</summary>
public sealed class FrameOptions
{
    public const string Section = "LiteVL:Frames";

    [Range(1, 64)]
    public int FramesPerSegment { get; set; } = 8;

    /// <summary>S of the model (384 for BLIP checkpoints, 64 for the tiny model).</summary>
    [Range(16, 1024)]
    public int FrameSize { get; set; } = 384;
}

public static class FrameExtractorExtensions
{
    /// <summary>ffmpeg (section <c>LiteVL:Media</c>) and the extraction stage.</summary>
    public static IServiceCollection AddFrameExtractor(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FrameOptions>().Bind(configuration.GetSection(FrameOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddFrameGeometry();
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

    /// <summary>FrameGeometry from LiteVL:Frames unless the host registered one (from its model).</summary>
    public static IServiceCollection TryAddFrameGeometry(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(FrameGeometry)))
        {
            services.AddSingleton(sp =>
            {
                var o = sp.GetRequiredService<IOptions<FrameOptions>>().Value;
                return new FrameGeometry(o.FramesPerSegment, o.FrameSize);
            });
        }

        return services;
    }

    public static void AddFrameExtractorConsumers(this IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<VideoUploadedConsumer, VideoUploadedConsumerDefinition>();
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
