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
        // 16 threads released together onto a model none of whose sessions exists yet: each graph's session must be
        // created once (a check-then-create race, or a Lazy that lets racers each build one, creates several) and
        // every thread must get that one.
        using var model = LiteVLModel.Open(_dir);
        Assert.Equal(0, model.SessionsCreated);
        const int threads = 16;
        using var start = new Barrier(threads);
        var text = new GraphSession[threads];
        var video = new GraphSession[threads];
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                text[i] = model.TextEncoder;
                video[i] = model.VideoEncoder;
                Assert.Equal(256, model.EncodeTexts(["the same query"]).Length);
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        Assert.Empty(errors);
        Assert.All(text, s => Assert.Same(text[0], s));
        Assert.All(video, s => Assert.Same(video[0], s));
        Assert.Equal(2, model.SessionsCreated);
        _ = model.Reranker;
        Assert.Equal(3, model.SessionsCreated);
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

/// <summary>The typed convenience API checks sizes before building tensors (found by review: silent zero-fill before).</summary>
public sealed class TypedApiSizeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-sizes-").FullName;

    public TypedApiSizeTests() => ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 3, _dir);

    [Fact]
    public void Rerank_ShortTextEmbedding_IsRejectedNotZeroFilled()
    {
        using var model = LiteVLModel.Open(_dir);
        var tokens = new float[2 * 8 * 17 * 64];
        var e = Assert.Throws<ModelInputException>(() => model.Rerank("a query", tokens, 2, new float[255]));
        Assert.Contains("text_embedding has 255 values, expected 256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rerank_WrongTokenCount_NamesTheExpectedShape()
    {
        using var model = LiteVLModel.Open(_dir);
        var e = Assert.Throws<ModelInputException>(() => model.Rerank("a query", new float[100], 2, new float[256]));
        Assert.Contains("2×8×17×64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EncodeVideos_WrongByteCount_NamesTheExpectedShape()
    {
        using var model = LiteVLModel.Open(_dir);
        var e = Assert.Throws<ModelInputException>(() => model.EncodeVideos(new byte[1000], 1));
        Assert.Contains("expected batch×T×S×S×3 = 1×8×64×64×3 = 98304", e.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
