using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LiteVL.ServiceDefaults;

public static class ServiceDefaultsExtensions
{
    public const string ReadyTag = "ready";

    /// <summary>What every LiteVL service has: a quiet console (<see cref="LoggingDefaults"/>), ProblemDetails on every error,
    /// health checks, API-key authentication, OpenAPI, OpenTelemetry traces and metrics.</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, bool verboseLogging = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddLiteVLLoggingDefaults(verboseLogging);
        // Nothing in LiteVL protects data with ASP.NET Core DataProtection (API keys are bearer tokens; no cookies or
        // antiforgery tokens): an in-memory key ring, so no key files are written to the user's profile and no warning
        // about unencrypted keys greets every first start.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddProblemDetails();
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"])
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag])
            .AddCheck<BlobStoreHealthCheck>("blob-store", tags: [ReadyTag]);
        builder.Services.AddApiKeyAuthentication();
        builder.Services.AddOpenApi();
        builder.AddLiteVLTelemetry();
        return builder;
    }

    /// <summary>
    /// <c>/health/live</c> (the process answers) and <c>/health/ready</c> (its dependencies answer), <c>/metrics</c>, the OpenAPI document,
    /// and ProblemDetails for unhandled exceptions and bare status codes.
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Every ValidateOnStart option now, before anything starts: a bad setting stops the service with one message
        // (ServiceMain) instead of a host failure logged with a stack trace.
        app.Services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            // Every dependency: database, blob store, the broker (MassTransit's own check), and the model or ffmpeg where used.
            Predicate = c => c.Tags.Contains(ReadyTag) || c.Tags.Contains("live") || c.Tags.Contains("masstransit"),
            ResponseWriter = WriteHealthReport,
        });
        app.MapOpenApi();
        app.MapLiteVLMetrics();
        return app;
    }

    /// <summary>The readiness report as JSON: overall status and each check's status and description.</summary>
    private static Task WriteHealthReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(body));
    }

    /// <summary>A ProblemDetails result with a type URI per status (RFC 9457).</summary>
    public static IResult Problem(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        Results.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);
}
