using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using LiteVL.Model.Graphs;
using LiteVL.Model.Runtime;
using LiteVL.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace LiteVL.Model.Hosting;

/// <summary>Section <c>LiteVL:Model</c>: which model directory and how to run it.</summary>
public sealed class ModelOptions
{
    public const string Section = "LiteVL:Model";

    [Required]
    public string Directory { get; set; } = "model";

    /// <summary>cpu or cuda.</summary>
    [RegularExpression("^(?i:cpu|cuda)$", ErrorMessage = "LiteVL:Model:Device must be cpu or cuda.")]
    public string Device { get; set; } = "cpu";

    public bool RequireDevice { get; set; }

    public bool Fp16 { get; set; }

    /// <summary>Threads per ONNX Runtime session; 0 = ONNX Runtime's default (one per core).</summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }
}

public static class ModelHostingExtensions
{
    /// <summary>One shared <see cref="LiteVLModel"/> (sessions are created once and reused by every request).</summary>
    public static IServiceCollection AddLiteVLModel(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(LiteVLModel)))
        {
            return services; // the embedded host composes several services that each ask for the model
        }

        services.AddOptions<ModelOptions>().Bind(configuration.GetSection(ModelOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            var model = LiteVLModel.Open(
                o.Directory,
                new RuntimeOptions
                {
                    Device = RuntimeOptions.ParseDevice(o.Device),
                    RequireDevice = o.RequireDevice,
                    Precision = o.Fp16 ? Precision.Fp16 : Precision.Fp32,
                    IntraOpThreads = o.IntraOpThreads,
                },
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("LiteVL.Model"));
            LiteVLTelemetry.Meter.CreateObservableGauge(
                "litevl.model.provider",
                () => new Measurement<int>(1, new("provider", (model.ActiveDevice ?? model.Options.Device).ToString().ToLowerInvariant()), new("model_version", model.Config.Version)),
                description: "The ONNX Runtime execution provider the model runs on (1 per loaded model; the provider is a label).");
            return model;
        });
        services.AddHealthChecks().AddCheck<ModelHealthCheck>("model", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return services;
    }
}

/// <summary>Ready when the model directory loads (config, vocabulary, graphs present).</summary>
internal sealed class ModelHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var model = services.GetRequiredService<LiteVLModel>();
            return Task.FromResult(HealthCheckResult.Healthy($"model {model.Config.Version} on {model.ActiveDevice?.ToString() ?? model.Options.Device.ToString()}"));
        }
        catch (Exception e) when (e is Model.Config.ModelDirectoryException or InvalidOperationException or IOException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(e.Message));
        }
    }
}
