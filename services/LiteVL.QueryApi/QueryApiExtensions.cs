using LiteVL.Search;
using LiteVL.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LiteVL.QueryApi;

public static class QueryApiExtensions
{
    /// <summary>The query service: search and ask (<see cref="SearchExtensions.AddLiteVLSearch"/>).</summary>
    public static IServiceCollection AddQueryApi(this IServiceCollection services, IConfiguration configuration) =>
        services.AddLiteVLSearch(configuration);

    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/search", Search).RequireAuthorization().WithTags("Search").WithName("Search")
            .WithSummary("Find moments: coarse vector search, then re-ranking with text-dependent pooling and the grounded encoder.");
        routes.MapPost("/v1/videos/{id}/ask", Ask).RequireAuthorization().WithTags("Search").WithName("AskVideo")
            .WithSummary("Answer a question about a video: pick from candidate answers (rank) or write one (generate), over its best-matching segments.");
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

    internal static async Task<Results<Ok<AskResponse>, ProblemHttpResult>> Ask(string id, AskRequest request, HttpContext http, AskService ask, CancellationToken ct)
    {
        // The id is parsed here rather than by a route constraint, so a malformed one is a ProblemDetails 404 like any unknown video.
        if (!Guid.TryParse(id, out var videoId))
        {
            return TypedResults.Problem(detail: $"There is no video {id}.", statusCode: StatusCodes.Status404NotFound, title: "Video not found");
        }

        try
        {
            return TypedResults.Ok(await ask.AskAsync(http.User.Tenant(), videoId, request, ct).ConfigureAwait(false));
        }
        catch (AskException e)
        {
            var (status, title) = e.Failure switch
            {
                AskFailure.VideoNotFound => (StatusCodes.Status404NotFound, "Video not found"),
                AskFailure.VideoNotReady => (StatusCodes.Status409Conflict, "Video not indexed with the current model"),
                AskFailure.NoQaHeads => (StatusCodes.Status409Conflict, "The model cannot answer questions"),
                _ => (StatusCodes.Status400BadRequest, "Bad question"),
            };
            return TypedResults.Problem(detail: e.Message, statusCode: status, title: title);
        }
    }
}
