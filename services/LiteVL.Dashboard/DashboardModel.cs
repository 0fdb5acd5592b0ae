using LiteVL.Model.Config;
using LiteVL.Model.Hosting;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using LiteVL.ServiceDefaults;

namespace LiteVL.Dashboard;

/// <summary>One vision layer's learned dynamic temporal scaling: the mean over the T frame slots of 1 + tanh(α_l).</summary>
public sealed record LayerScaling(int Layer, double Mean);

/// <summary>Body of <c>GET /admin/api/model/temporal-scaling</c>: the paper's per-layer figure for the active model.</summary>
/// <param name="Frames">T, the frame slots the means are taken over.</param>
public sealed record TemporalScalingView(string ModelVersion, string Preset, int Frames, IReadOnlyList<LayerScaling> Layers);

public sealed class DashboardModelException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;
}

/// <summary>
/// The model the dashboard reports on: the directory of the model loaded in this process (the embedded host, where the
/// query service runs in-process), else <c>LiteVL:Model:Directory</c> (a separate dashboard process with the model
/// directory mounted read-only). Only the α tensors are read (<see cref="ScalingChart.LayerMeans(string)"/>), so this is
/// cheap for blip-large too and needs no ONNX Runtime session.
/// </summary>
public sealed partial class DashboardModel(IServiceProvider services, IConfiguration configuration, ILogger<DashboardModel> logger)
{
    /// <summary>The model directory, or null when this process has none.</summary>
    public string? Directory => services.GetService<LiteVLModel>()?.Directory
        ?? (configuration[$"{ModelOptions.Section}:Directory"] is { Length: > 0 } dir ? dir : null);

    /// <summary>The per-layer means and the config they belong to; <see cref="DashboardModelException"/> when unavailable.</summary>
    public (ModelConfig Config, IReadOnlyList<double> Means) ReadScaling()
    {
        string dir = Directory ?? throw new DashboardModelException(
            StatusCodes.Status404NotFound, $"This dashboard has no model directory: set {ModelOptions.Section}:Directory (LiteVL__Model__Directory) to the model the services run.");
        try
        {
            return ScalingChart.LayerMeans(dir);
        }
        catch (ModelDirectoryException e)
        {
            throw new DashboardModelException(StatusCodes.Status404NotFound, e.Message, e);
        }
        catch (Exception e) when (e is MissingWeightException or WeightShapeException or SafeTensorsFormatException or IOException or UnauthorizedAccessException)
        {
            LogUnreadable(logger, e, dir);
            throw new DashboardModelException(StatusCodes.Status500InternalServerError, $"The model in '{dir}' cannot be read: {e.Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the dynamic temporal scaling of the model in {Directory}")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, string directory);
}
