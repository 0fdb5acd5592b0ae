using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Runtime;

/// <summary>Session options from <see cref="RuntimeOptions"/>, including the CUDA provider with a logged CPU fallback.</summary>
public static partial class SessionFactory
{
    public static SessionOptions CreateOptions(RuntimeOptions options, ILogger logger, out ExecutionDevice device)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            // ONNX Runtime's own log goes to stderr, past the host's logging: errors only. (Its one warning about our graphs,
            // that the re-ranker's optional `pooling` input is not constant-folded, is by design; failures still throw.)
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (options.IntraOpThreads > 0)
        {
            so.IntraOpNumThreads = options.IntraOpThreads;
        }

        so.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        device = ExecutionDevice.Cpu;
        if (options.Device == ExecutionDevice.Cuda)
        {
            try
            {
                so.AppendExecutionProvider_CUDA(options.DeviceId);
                device = ExecutionDevice.Cuda;
                LogProvider(logger, "CUDA", options.DeviceId, null);
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or TypeInitializationException)
            {
                if (options.RequireDevice)
                {
                    so.Dispose();
                    throw new InvalidOperationException(
                        $"The CUDA execution provider could not be loaded ({e.Message.Split('\n')[0]}) and the configuration requires it. Install the GPU build of ONNX Runtime with CUDA 13 libraries, or set the device to 'cpu'.",
                        e);
                }

                LogFallback(logger, e.Message.Split('\n')[0]);
            }
        }
        else
        {
            LogProvider(logger, "CPU", 0, null);
        }

        return so;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ONNX Runtime execution provider: {Provider} (device {DeviceId})")]
    private static partial void LogProvider(ILogger logger, string provider, int deviceId, Exception? unused);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CUDA execution provider unavailable, falling back to CPU: {Reason}")]
    private static partial void LogFallback(ILogger logger, string reason);
}
