using LiteVL.Model.Hosting;
using LiteVL.VectorIndex.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Search;

public static class SearchExtensions
{
    /// <summary>
    /// Search and ask over the indexed videos: the model (text encoder, re-ranker, QA heads if any), the vector index and
    /// the token cache. The Query API serves them over HTTP; the dashboard calls them directly when they run in its process.
    /// </summary>
    public static IServiceCollection AddLiteVLSearch(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SearchOptions>().Bind(configuration.GetSection(SearchOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddLiteVLModel(configuration);
        services.AddLiteVLVectorIndex(configuration);
        services.AddOptions<AskOptions>().Bind(configuration.GetSection(AskOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TokenCache>();
        services.AddScoped<SearchService>();
        services.AddScoped<AskService>();
        return services;
    }
}
