using LiteVL.Model.Graphs;

namespace LiteVL.Model.Runtime;

/// <summary>Where ONNX Runtime runs the graphs.</summary>
public enum ExecutionDevice
{
    Cpu,
    Cuda,
}

/// <summary>How a model is run: device, precision and threading. Bound from configuration by the services.</summary>
public sealed record RuntimeOptions
{
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Cpu;

    /// <summary>Fail instead of falling back to CPU when the configured device cannot be used.</summary>
    public bool RequireDevice { get; init; }

    public int DeviceId { get; init; }

    /// <summary>Run the fp16 graphs (for GPUs; on CPU ORT casts back to fp32 and it is slower).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Threads per operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Spinning worker threads steal cores from other sessions on small machines; off by default.</summary>
    public bool AllowSpinning { get; init; }

    public static ExecutionDevice ParseDevice(string value) => value.Trim().ToLowerInvariant() switch
    {
        "cpu" => ExecutionDevice.Cpu,
        "cuda" or "gpu" => ExecutionDevice.Cuda,
        _ => throw new ArgumentException($"Unknown device '{value}': use 'cpu' or 'cuda'.", nameof(value)),
    };
}
