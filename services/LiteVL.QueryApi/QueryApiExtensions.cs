using LiteVL.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LiteVL.QueryApi;

public static class QueryApiExtensions
{
    /// <summary>The query service: the model (text encoder, re-ranker), the vector index and the token cache.</summary>
    public static IServiceCollection AddQueryApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SearchOptions>().Bind(configuration.GetSection(SearchOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddLiteVLModel(configuration);
        services.AddLiteVLVectorIndex(configuration);
        services.AddSingleton<TokenCache>();
        services.AddScoped<SearchService>();
        return services;
    }

    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/search", Search).RequireAuthorization().WithTags("Search").WithName("Search")
            .WithSummary("Find moments: coarse vector search, then re-ranking with text-dependent pooling and the grounded encoder.");
        return routes;
    }

    internal static async Task<Results<Ok<SearchResponse>, ProblemHttpResult>> Search(SearchRequest request, HttpContext http, SearchService search, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await search.SearchAsync(http.User.Tenant(), request, ct).ConfigureAwait(false));
        }
        catch (SearchRequestException e)
        {
            return TypedResults.Problem(detail: e.Message, statusCode: StatusCodes.Status400BadRequest, title: "Bad search request");
        }
    }
}
