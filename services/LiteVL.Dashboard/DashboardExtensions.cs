using System.Collections.Concurrent;
using LiteVL.ServiceDefaults;
using LiteVL.Videos;
using MassTransit;

namespace LiteVL.Dashboard;

public static class DashboardExtensions
{
    public const string Path = "/admin";

    private static readonly ConcurrentDictionary<string, byte[]> Assets = new(StringComparer.Ordinal);

    /// <summary>
    /// The dashboard's services. Needs storage and messaging (AddLiteVLStorage, AddLiteVLMessaging). Queue figures come
    /// from the RabbitMQ management API when <c>LiteVL:Messaging:Transport</c> is RabbitMq, else from this process's bus.
    /// </summary>
    public static IServiceCollection AddDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DashboardOptions>().Bind(configuration.GetSection(DashboardOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.LatencyWindow > TimeSpan.Zero && o.EncoderStaleAfter > TimeSpan.Zero, "LiteVL:Dashboard:LatencyWindow and EncoderStaleAfter must be positive.")
            .ValidateOnStart();
        services.AddScoped<DashboardStatistics>();
        services.AddScoped<DashboardSearch>();
        services.AddScoped<VideoActions>();
        services.AddSingleton<DashboardModel>();
        services.AddLiteVLVideos();
        services.AddHttpClient(DashboardSearch.HttpClientName, c => c.Timeout = TimeSpan.FromMinutes(1));
        var transport = configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>()?.Transport ?? MessageTransport.InMemory;
        if (transport == MessageTransport.RabbitMq)
        {
            services.AddHttpClient<IQueueFigures, RabbitMqQueueFigures>();
        }
        else
        {
            services.AddSingleton<InProcessQueueFigures>();
            services.AddSingleton<IQueueFigures>(sp => sp.GetRequiredService<InProcessQueueFigures>());
            services.AddPublishObserver(sp => sp.GetRequiredService<InProcessQueueFigures>());
            services.AddReceiveObserver(sp => sp.GetRequiredService<InProcessQueueFigures>());
            services.AddConsumeObserver(sp => sp.GetRequiredService<InProcessQueueFigures>());
        }

        return services;
    }

    /// <summary>
    /// <c>/admin</c>: the page (public: it holds no data and shows a sign-in form) and its script and style sheet;
    /// <c>/admin/api/...</c>: the data, admin key required (401/403 ProblemDetails otherwise).
    /// </summary>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder routes)
    {
        routes.MapGet(Path, () => Asset("index.html", "text/html; charset=utf-8")).ExcludeFromDescription();
        routes.MapGet($"{Path}/dashboard.js", () => Asset("dashboard.js", "text/javascript; charset=utf-8")).ExcludeFromDescription();
        routes.MapGet($"{Path}/dashboard.css", () => Asset("dashboard.css", "text/css; charset=utf-8")).ExcludeFromDescription();
        routes.MapDashboardApi();
        return routes;
    }

    private static IResult Asset(string name, string contentType)
    {
        byte[] bytes = Assets.GetOrAdd(name, n =>
        {
            using var stream = typeof(DashboardExtensions).Assembly.GetManifestResourceStream($"LiteVL.Dashboard.ui.{n}")
                ?? throw new InvalidOperationException($"The dashboard asset {n} is not embedded.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
        return Results.Bytes(bytes, contentType);
    }
}
