using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LiteVL.UploadApi;

public sealed record CreateKeyRequest(string? Tenant, string? Name, bool Admin = false);

/// <summary>Admin routes: API keys per tenant (the key is shown once).</summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdminEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/admin").RequireAuthorization(ApiKeyAuthenticationHandler.AdminPolicy).WithTags("Admin");
        group.MapPost("/keys", CreateKey).WithName("CreateApiKey");
        group.MapDelete("/keys/{id:guid}", RevokeKey).WithName("RevokeApiKey");
        return group;
    }

    internal static async Task<Results<Created<IssuedApiKey>, ProblemHttpResult>> CreateKey(CreateKeyRequest request, ApiKeyService keys, CancellationToken ct)
    {
        try
        {
            var issued = await keys.CreateAsync(request.Tenant ?? string.Empty, request.Name ?? string.Empty, request.Admin, ct).ConfigureAwait(false);
            return TypedResults.Created($"/v1/admin/keys/{issued.Id}", issued);
        }
        catch (ArgumentException e)
        {
            return TypedResults.Problem(detail: e.Message.Split(" (Parameter", 2)[0], statusCode: StatusCodes.Status400BadRequest, title: "Invalid key request");
        }
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(Guid id, ApiKeyService keys, CancellationToken ct) =>
        await keys.RevokeAsync(id, ct).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : TypedResults.Problem(detail: $"No active key {id}.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
