using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline;

/// <summary>T and S of the frames the extractor writes (the model's): what FramesExtracted carries to the encoder.</summary>
public sealed record FrameGeometry(int FramesPerSegment, int FrameSize);

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

public static class FrameGeometryExtensions
{
    /// <summary>
    /// <see cref="FrameGeometry"/> from <c>LiteVL:Frames</c> (validated at start-up), unless the process registered one
    /// already (the embedded host, from its model). The extractor writes frames in it; the reconciler re-publishes
    /// FramesExtracted with it.
    /// </summary>
    public static IServiceCollection TryAddFrameGeometry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FrameOptions>().Bind(configuration.GetSection(FrameOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
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
}
