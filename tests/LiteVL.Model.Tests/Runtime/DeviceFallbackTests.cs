using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using Microsoft.Extensions.Logging;

namespace LiteVL.Model.Tests.Runtime;

/// <summary>CUDA requested on a machine without it (the CPU build of ONNX Runtime): one warning, then CPU; or a clear error.</summary>
public sealed class DeviceFallbackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-device-").FullName;

    public DeviceFallbackTests() => ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 2, _dir);

    [Fact]
    public void Cuda_NotAvailable_FallsBackToCpuWithOneWarningLine()
    {
        var logger = new ListLogger();
        using var model = LiteVLModel.Open(_dir, new RuntimeOptions { Device = ExecutionDevice.Cuda }, logger);
        var embedding = model.EncodeTexts(["a cat on a sofa"]);
        var video = model.EncodeVideos(new byte[8 * 64 * 64 * 3], 1);
        Assert.Equal(256, embedding.Length);
        Assert.Equal(256, video.VideoEmbeddings.Length);
        Assert.Equal(ExecutionDevice.Cpu, model.ActiveDevice);
        var warning = Assert.Single(logger.Lines, l => l.Level == LogLevel.Warning);
        Assert.Contains("falling back to CPU", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cuda_RequiredButNotAvailable_FailsWithWhatToDo()
    {
        using var model = LiteVLModel.Open(_dir, new RuntimeOptions { Device = ExecutionDevice.Cuda, RequireDevice = true });
        var e = Assert.Throws<InvalidOperationException>(() => model.EncodeTexts(["a cat"]));
        Assert.Contains("CUDA execution provider could not be loaded", e.Message, StringComparison.Ordinal);
        Assert.Contains("set the device to 'cpu'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sessions_AreCreatedOnceAndShared()
    {
        using var model = LiteVLModel.Open(_dir);
        var first = model.TextEncoder;
        Parallel.For(0, 16, _ => model.EncodeTexts(["the same query"]));
        Assert.Same(first, model.TextEncoder);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
