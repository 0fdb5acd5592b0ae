using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tensors;
using LiteVL.Model.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using System.Numerics.Tensors;

namespace LiteVL.Model.Runtime;

/// <summary>Output of the video encoder for a batch of B segments.</summary>
public sealed record VideoEncoding(int Batch, float[] VideoTokens, float[] VideoEmbeddings);

/// <summary>Output of the re-ranker for K candidates: ITM logits [K,2] and frame weights [K,T], and the pooling used.</summary>
public sealed record RerankOutput(int Candidates, float[] ItmLogits, float[] FrameWeights, PoolingMode Pooling = PoolingMode.Tdp)
{
    /// <summary>The "match" logit (index 1) of candidate <paramref name="k"/>.</summary>
    public float MatchLogit(int k) => ItmLogits[(2 * k) + 1];
}

/// <summary>
/// A loaded model directory: config, tokenizer and one shared ONNX Runtime session per graph (created on first use).
/// Thread-safe: many requests may call it at once.
/// </summary>
public sealed partial class LiteVLModel : IDisposable
{
    private readonly Lazy<GraphSession> _video;
    private readonly Lazy<GraphSession> _text;
    private readonly Lazy<GraphSession> _reranker;
    private readonly Lazy<GraphSession> _questionEncoder;
    private readonly Lazy<GraphSession> _answerDecoder;
    private readonly Lazy<(float[] Weight, float[] Bias)> _visionProjection;
    private readonly ILogger _logger;
    private readonly object _deviceLock = new();
    private ExecutionDevice? _activeDevice;
    private int _sessionsCreated;

    private LiteVLModel(string directory, ModelConfig config, BlipTokenizer tokenizer, RuntimeOptions options, ILogger logger)
    {
        Directory = directory;
        Config = config;
        Tokenizer = tokenizer;
        Options = options;
        _logger = logger;
        _video = new Lazy<GraphSession>(() => Load(LiteVLGraphBuilder.VideoEncoderName, VideoInputs(config)));
        _text = new Lazy<GraphSession>(() => Load(LiteVLGraphBuilder.TextEncoderName, TextInputs(), CheckTokenIds));
        _reranker = new Lazy<GraphSession>(() => Load(LiteVLGraphBuilder.RerankerName, RerankerInputs(config), CheckTokenIds));
        _questionEncoder = new Lazy<GraphSession>(() => Load(LiteVLGraphBuilder.QuestionEncoderName, QuestionEncoderInputs(config), CheckTokenIds));
        _answerDecoder = new Lazy<GraphSession>(() => Load(LiteVLGraphBuilder.AnswerDecoderName, AnswerDecoderInputs(config), CheckTokenIds));
        _visionProjection = new Lazy<(float[] Weight, float[] Bias)>(LoadVisionProjection);
    }

    public string Directory { get; }

    public ModelConfig Config { get; }

    public BlipTokenizer Tokenizer { get; }

    public RuntimeOptions Options { get; }

    /// <summary>The device the sessions actually run on (after any fallback); null before the first session loads.</summary>
    public ExecutionDevice? ActiveDevice
    {
        get
        {
            lock (_deviceLock)
            {
                return _activeDevice;
            }
        }
    }

    /// <summary>ONNX Runtime sessions this model has created so far: at most one per graph, however many threads ask at once.</summary>
    internal int SessionsCreated => Volatile.Read(ref _sessionsCreated);

    public GraphSession VideoEncoder => _video.Value;

    public GraphSession TextEncoder => _text.Value;

    public GraphSession Reranker => _reranker.Value;

    /// <summary>The video QA question encoder (models with <see cref="ModelConfig.Qa"/> only).</summary>
    public GraphSession QuestionEncoder => _questionEncoder.Value;

    /// <summary>The video QA answer decoder (models with <see cref="ModelConfig.Qa"/> only).</summary>
    public GraphSession AnswerDecoder => _answerDecoder.Value;

    /// <summary>Whether this model answers questions (has the video QA heads).</summary>
    public bool HasQa => Config.Qa is not null;

    public static LiteVLModel Open(string modelDir, RuntimeOptions? options = null, ILogger? logger = null)
    {
        var config = ModelConfig.Load(modelDir);
        var tokenizer = BlipTokenizer.FromVocabFile(Path.Combine(modelDir, ModelDirectory.VocabFileName));
        options ??= new RuntimeOptions();
        foreach (string graph in ModelDirectory.GraphNamesFor(config))
        {
            string path = Path.Combine(modelDir, GraphFiles.FileName(graph, options.Precision));
            if (!File.Exists(path))
            {
                tokenizer.Dispose();
                throw new ModelDirectoryException(
                    $"Graph '{path}' is missing. Build it with 'litevl model build --model {modelDir}{(options.Precision == Precision.Fp16 ? " --fp16" : string.Empty)}'.");
            }
        }

        return new LiteVLModel(modelDir, config, tokenizer, options, logger ?? NullLogger.Instance);
    }

    public GraphSession Graph(string name) => name switch
    {
        LiteVLGraphBuilder.VideoEncoderName => VideoEncoder,
        LiteVLGraphBuilder.TextEncoderName => TextEncoder,
        LiteVLGraphBuilder.RerankerName => Reranker,
        LiteVLGraphBuilder.QuestionEncoderName => QuestionEncoder,
        LiteVLGraphBuilder.AnswerDecoderName => AnswerDecoder,
        _ => throw new ArgumentException($"Unknown graph '{name}': use {string.Join(", ", ModelDirectory.GraphNamesFor(Config))}.", nameof(name)),
    };

    /// <summary>Encodes B segments of T RGB frames, each already S×S (uint8, [B,T,S,S,3]).</summary>
    public VideoEncoding EncodeVideos(byte[] frames, int batch)
    {
        int s = Config.Vision.ImageSize;
        long expected = (long)batch * Config.NumFrames * s * s * 3;
        if (batch <= 0 || frames.LongLength != expected)
        {
            throw new ModelInputException(
                $"{LiteVLGraphBuilder.VideoEncoderName}: frames has {frames.LongLength} bytes, expected batch×T×S×S×3 = {batch}×{Config.NumFrames}×{s}×{s}×3 = {expected}.");
        }

        var outputs = VideoEncoder.Run(new Dictionary<string, HostTensor>
        {
            ["frames"] = new(TensorDType.UInt8, [batch, Config.NumFrames, s, s, 3], frames),
        });
        return new VideoEncoding(batch, outputs["video_tokens"].AsSpan<float>().ToArray(), outputs["video_embedding"].AsSpan<float>().ToArray());
    }

    /// <summary>BLIP-cleans, tokenizes and encodes texts: returns [B, 256] L2-normalised embeddings.</summary>
    public float[] EncodeTexts(IReadOnlyList<string> texts)
    {
        var batch = Tokenizer.Encode(texts);
        var outputs = TextEncoder.Run(new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromInt64(batch.InputIds, batch.BatchSize, batch.Length),
            ["attention_mask"] = HostTensor.FromInt64(batch.AttentionMask, batch.BatchSize, batch.Length),
        });
        return outputs["text_embedding"].AsSpan<float>().ToArray();
    }

    /// <summary>
    /// Scores one query against K candidates: <paramref name="videoTokens"/> is [K,T,P,D] (the candidates' stored tokens),
    /// <paramref name="textEmbedding"/> the query's 256-d embedding (shared by all candidates). <paramref name="pooling"/>
    /// chooses the protocol (default: the model's, <see cref="ModelConfig.DefaultPooling"/>).
    /// </summary>
    public RerankOutput Rerank(string query, float[] videoTokens, int candidates, ReadOnlySpan<float> textEmbedding, PoolingMode? pooling = null)
    {
        var mode = pooling ?? Config.DefaultPooling;
        var v = Config.Vision;
        long tokensPerCandidate = (long)Config.NumFrames * v.TokensPerFrame * v.HiddenSize;
        if (candidates <= 0 || videoTokens.LongLength != candidates * tokensPerCandidate)
        {
            throw new ModelInputException(
                $"{LiteVLGraphBuilder.RerankerName}: video_tokens has {videoTokens.LongLength} values, expected candidates×T×(1+N)×D = {candidates}×{Config.NumFrames}×{v.TokensPerFrame}×{v.HiddenSize} = {candidates * tokensPerCandidate}.");
        }

        if (textEmbedding.Length != Config.EmbedDim)
        {
            throw new ModelInputException($"{LiteVLGraphBuilder.RerankerName}: text_embedding has {textEmbedding.Length} values, expected {Config.EmbedDim}.");
        }

        var one = Tokenizer.Encode([query], grounded: true);
        int l = one.Length;
        var ids = new long[candidates * l];
        var mask = new long[candidates * l];
        var q = new float[candidates * Config.EmbedDim];
        for (int k = 0; k < candidates; k++)
        {
            one.InputIds.CopyTo(ids, k * l);
            one.AttentionMask.CopyTo(mask, k * l);
            textEmbedding.CopyTo(q.AsSpan(k * Config.EmbedDim));
        }

        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromInt64(ids, candidates, l),
            ["attention_mask"] = HostTensor.FromInt64(mask, candidates, l),
            ["video_tokens"] = HostTensor.FromFloats(videoTokens, candidates, Config.NumFrames, v.TokensPerFrame, v.HiddenSize),
            ["text_embedding"] = HostTensor.FromFloats(q, candidates, Config.EmbedDim),
        };
        if (Reranker.HasInput(LiteVLGraphBuilder.PoolingInputName))
        {
            inputs[LiteVLGraphBuilder.PoolingInputName] = HostTensor.FromInt64([mode == PoolingMode.Tdp ? 1 : 0], 1);
        }
        else if (mode != Config.DefaultPooling)
        {
            throw new ModelInputException(
                $"{LiteVLGraphBuilder.RerankerName}: this model's re-ranker was built before pooling could be chosen per search; rebuild it with 'litevl model build --model {Directory}'.");
        }

        var outputs = Reranker.Run(inputs);
        return new RerankOutput(candidates, outputs["itm_logits"].AsSpan<float>().ToArray(), outputs["frame_weights"].AsSpan<float>().ToArray(), mode);
    }

    /// <summary>
    /// The re-ranker's frame weights w[t] = softmax_t(&lt;l2norm(vision_proj(cls_t)), q&gt; / τ) for K candidates, computed on
    /// the host from each frame's CLS token alone: <paramref name="frameCls"/> is [K,T,D] (token p = 0 of every frame of the
    /// stored video_tokens), <paramref name="textEmbedding"/> the query's 256-d embedding. A coarse search uses it to name
    /// each hit's evidence frame without running the grounded encoder; it equals <see cref="RerankOutput.FrameWeights"/>
    /// (the same maths as the graph's text-dependent pooling, T·D·E multiply-adds per candidate, too small for a graph run).
    /// vision_proj is read once from the directory's weights.safetensors.
    /// </summary>
    public float[] FrameWeights(ReadOnlySpan<float> frameCls, int candidates, ReadOnlySpan<float> textEmbedding)
    {
        int t = Config.NumFrames, d = Config.Vision.HiddenSize, e = Config.EmbedDim;
        if (candidates <= 0 || frameCls.Length != candidates * t * d)
        {
            throw new ModelInputException($"frame weights: the CLS tokens have {frameCls.Length} values, expected candidates×T×D = {candidates}×{t}×{d} = {candidates * t * d}.");
        }

        if (textEmbedding.Length != e)
        {
            throw new ModelInputException($"frame weights: the text embedding has {textEmbedding.Length} values, expected {e}.");
        }

        var (weight, bias) = _visionProjection.Value;
        var weights = new float[candidates * t];
        var projected = new float[e];
        float invTau = (float)(1.0 / Config.Tdp.Tau);
        for (int f = 0; f < candidates * t; f++)
        {
            var cls = frameCls.Slice(f * d, d);
            for (int j = 0; j < e; j++)
            {
                projected[j] = TensorPrimitives.Dot(weight.AsSpan(j * d, d), cls) + bias[j];
            }

            float norm = TensorPrimitives.Norm(projected);
            weights[f] = TensorPrimitives.Dot(projected, textEmbedding) / Math.Max(norm, 1e-12f) * invTau;
        }

        for (int k = 0; k < candidates; k++)
        {
            TensorPrimitives.SoftMax(weights.AsSpan(k * t, t), weights.AsSpan(k * t, t));
        }

        return weights;
    }

    private (float[] Weight, float[] Bias) LoadVisionProjection()
    {
        string path = Path.Combine(Directory, Weights.ModelWeights.FileName);
        if (!File.Exists(path))
        {
            throw new ModelDirectoryException($"{path} is missing: the frame weights of a coarse search need the model's vision_proj. Copy the model directory whole (config.json, weights.safetensors, vocab.txt, graphs).");
        }

        using var file = IO.SafeTensorsFile.Open(path);
        return (file.ReadFloat32("vision_proj.weight", Config.EmbedDim, Config.Vision.HiddenSize), file.ReadFloat32("vision_proj.bias", Config.EmbedDim));
    }

    public void Dispose()
    {
        foreach (var s in new[] { _video, _text, _reranker, _questionEncoder, _answerDecoder })
        {
            if (s.IsValueCreated)
            {
                s.Value.Dispose();
            }
        }

        Tokenizer.Dispose();
    }

    internal static IReadOnlyList<InputSpec> VideoInputs(ModelConfig c) =>
        [new("frames", TensorDType.UInt8, [-1, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3], ["batch", "T", "S", "S", "channels"])];

    internal static IReadOnlyList<InputSpec> TextInputs() =>
    [
        new("input_ids", TensorDType.Int64, [-1, -1], ["batch", "length"]),
        new("attention_mask", TensorDType.Int64, [-1, -1], ["batch", "length"]),
    ];

    internal static IReadOnlyList<InputSpec> RerankerInputs(ModelConfig c) =>
    [
        new("input_ids", TensorDType.Int64, [-1, -1], ["candidates", "length"]),
        new("attention_mask", TensorDType.Int64, [-1, -1], ["candidates", "length"]),
        new("video_tokens", TensorDType.Float32, [-1, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize], ["candidates", "T", "1+N", "D"]),
        new("text_embedding", TensorDType.Float32, [-1, c.EmbedDim], ["candidates", "embed_dim"]),
        new(LiteVLGraphBuilder.PoolingInputName, TensorDType.Int64, [1], ["pooling"], Optional: true),
    ];

    /// <summary>Token ids index the embedding table: out-of-range ids or a too-long text would fail deep inside ORT.</summary>
    private string? CheckTokenIds(IReadOnlyDictionary<string, HostTensor> inputs)
    {
        var ids = inputs["input_ids"];
        if (ids.Shape[1] > Config.Text.MaxPositionEmbeddings)
        {
            return $"input_ids has length {ids.Shape[1]}, longer than the {Config.Text.MaxPositionEmbeddings} positions of the text encoder.";
        }

        foreach (long id in ids.AsSpan<long>())
        {
            if (id < 0 || id >= Config.Text.VocabSize)
            {
                return $"input_ids contains {id}, outside the vocabulary [0, {Config.Text.VocabSize}).";
            }
        }

        foreach (long m in inputs["attention_mask"].AsSpan<long>())
        {
            if (m is not (0 or 1))
            {
                return $"attention_mask must hold only 0 and 1, found {m}.";
            }
        }

        if (inputs.TryGetValue(LiteVLGraphBuilder.PoolingInputName, out var pooling) && pooling.AsSpan<long>()[0] is not (0 or 1))
        {
            return $"pooling must be 1 (text-dependent pooling) or 0 (none), not {pooling.AsSpan<long>()[0]}.";
        }

        return null;
    }

    private GraphSession Load(string graph, IReadOnlyList<InputSpec> inputs, Func<IReadOnlyDictionary<string, HostTensor>, string?>? check = null)
    {
        string path = Path.Combine(Directory, GraphFiles.FileName(graph, Options.Precision));
        SessionOptions sessionOptions;
        lock (_deviceLock)
        {
            // Once CUDA failed to load for this model, the other graphs go straight to the CPU: one log line, not three.
            var effective = _activeDevice == ExecutionDevice.Cpu ? Options with { Device = ExecutionDevice.Cpu } : Options;
            sessionOptions = SessionFactory.CreateOptions(effective, _activeDevice is null ? _logger : NullLogger.Instance, out var device);
            _activeDevice = device;
        }

        using var ownedOptions = sessionOptions;
        Interlocked.Increment(ref _sessionsCreated);

        return new GraphSession(graph, new InferenceSession(path, sessionOptions), inputs, check);
    }
}
