using LiteVL.ServiceDefaults;
using LiteVL.Videos;

namespace LiteVL.UploadApi;

public static class UploadApiExtensions
{
    /// <summary>The Upload API's services (the host and the service's own Program both call this).</summary>
    public static IServiceCollection AddUploadApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<UploadOptions>().Bind(configuration.GetSection(UploadOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddScoped<UploadService>();
        services.AddLiteVLVideos();
        services.AddHostedService<VideoStateMetrics>(); // litevl_videos{state} at /metrics, counted by this one process
        return services;
    }

    public static IEndpointRouteBuilder MapUploadApi(this IEndpointRouteBuilder routes)
    {
        routes.MapVideoEndpoints();
        routes.MapAdminEndpoints();
        return routes;
    }
}
