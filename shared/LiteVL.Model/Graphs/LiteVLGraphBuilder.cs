using LiteVL.Model.Config;
using LiteVL.Model.Weights;
using Onnx;
using static LiteVL.Model.Graphs.Ops;

namespace LiteVL.Model.Graphs;

/// <summary>Which attention kernels a graph uses.</summary>
public enum AttentionKind
{
    /// <summary><c>com.microsoft</c> MultiHeadAttention (fast path; ORT does not fuse opset-17 attention itself).</summary>
    Fused,

    /// <summary>MatMul/Softmax/MatMul from standard ops, the form used to check the fused one.</summary>
    Plain,
}

/// <param name="Precision">Weights and activations in fp32 or fp16 (inputs and outputs stay float32).</param>
/// <param name="Attention">Fused or plain attention; <see cref="AttentionKind.Plain"/> makes every attention plain.</param>
/// <param name="CrossAttention">
/// The grounded encoder's cross-attention kernel when <paramref name="Attention"/> is fused. Unset, it is plain for fp32
/// graphs (the CPU: ORT 1.31's MultiHeadAttention was 1.29x slower than MatMul/Softmax for 35 queries over the 5,201
/// memory tokens (T·P + T + P = 4,616 + 8 + 577) of blip-base, docs/benchmarks.md) and fused for fp16 graphs (the GPU).
/// </param>
/// <param name="Trainable">
/// Set for training graphs: every weight keeps its stored name and layout (Linear weights [out, in], α of the temporal
/// scaling, the whole time embedding), the derived forms are computed in the graph, and the named weights become graph
/// inputs instead of initializers, so that <see cref="Training.Autodiff.GraphDifferentiator"/> can take their gradients.
/// </param>
public sealed record GraphBuildOptions(Precision Precision = Precision.Fp32, AttentionKind Attention = AttentionKind.Fused, AttentionKind? CrossAttention = null, IReadOnlySet<string>? Trainable = null)
{
    public AttentionKind EffectiveCrossAttention => Attention == AttentionKind.Plain
        ? AttentionKind.Plain
        : CrossAttention ?? (Precision == Precision.Fp16 ? AttentionKind.Fused : AttentionKind.Plain);
}

/// <summary>
/// Builds the LiteVL graphs of docs/model.md ("Graph contracts") from weights. Every method reads like the maths it builds:
/// <c>x = x + TemporalFc(TemporalAttention(LN(x)) * (1 + tanh α))</c> and so on, over typed <see cref="Value"/>s (the
/// operators in <see cref="Ops"/>). Each public method makes its own <see cref="OnnxGraph"/>; the helpers take the graph
/// from the values they are given (or as an argument when they start from weights alone), so the builder holds no
/// per-graph state. Shapes in comments: B batch, T frames, P = 1 + N tokens per frame, D vision width, H text width,
/// E = 256, L text length.
/// </summary>
public sealed partial class LiteVLGraphBuilder
{
    public const string VideoEncoderName = "video_encoder";
    public const string TextEncoderName = "text_encoder";
    public const string RerankerName = "reranker";
    public const string ImageEncoderName = "image_encoder";

    /// <summary>The re-ranker's optional input that switches text-dependent pooling per run (1 = on, 0 = off).</summary>
    public const string PoolingInputName = "pooling";

    /// <summary>
    /// Bump when the graphs this class builds change; it is part of the model version string.
    /// 2: GELU as Div(x, √2) (fusable by ORT), plain attention scales q before q·kᵀ, the re-ranker's <c>pooling</c> input.
    /// </summary>
    public const int BuilderVersion = 2;

    private const string ClassEmbedding = "vision_model.embeddings.class_embedding";
    private const string PositionEmbeddingName = "vision_model.embeddings.position_embedding";
    private const string TimeEmbeddingName = ModelWeights.TimeEmbeddingName;
    private const string PostLayerNorm = "vision_model.post_layernorm";
    private const string TextEncoderPrefix = "text_encoder.";

    private readonly ModelWeights _w;
    private readonly ModelConfig _c;
    private readonly GraphBuildOptions _options;

    public LiteVLGraphBuilder(ModelWeights weights, GraphBuildOptions? options = null)
    {
        _w = weights;
        _c = weights.Config;
        _options = options ?? new GraphBuildOptions();
    }

    private int T => _c.NumFrames;

    private int P => _c.Vision.TokensPerFrame;

    private int N => _c.Vision.NumPatches;

    private int D => _c.Vision.HiddenSize;

    private int E => _c.EmbedDim;

    /// <summary>Weights in their stored form with derived forms computed in the graph (see <see cref="GraphBuildOptions.Trainable"/>).</summary>
    private bool TrainingForm => _options.Trainable is not null;

    // ───────────────────────────── graphs ─────────────────────────────

    /// <summary><c>frames</c> uint8 [B,T,S,S,3] → <c>video_tokens</c> [B,T,P,D], <c>video_embedding</c> [B,E].</summary>
    public ModelProto VideoEncoder()
    {
        var g = NewGraph(VideoEncoderName);
        int s = _c.Vision.ImageSize;
        var frames = g.Input("frames", OnnxGraph.UInt8, "batch", T, s, s, 3);
        var (tokens, embedding) = EncodeVideo(frames);
        g.Output(tokens, "video_tokens", OnnxGraph.Float, "batch", T, P, D);
        g.Output(embedding, "video_embedding", OnnxGraph.Float, "batch", E);
        return Finish(g);
    }

    /// <summary>BLIP's image encoder (no temporal branch): <c>frames</c> uint8 [B,S,S,3] → <c>image_tokens</c> [B,P,D], <c>image_embedding</c> [B,E].</summary>
    public ModelProto ImageEncoder()
    {
        var g = NewGraph(ImageEncoderName);
        int s = _c.Vision.ImageSize;
        var frames = g.Input("frames", OnnxGraph.UInt8, "batch", s, s, 3);
        var x = PrependCls(PatchEmbed(Normalize(frames))) + PositionEmbedding(g);       // [B,P,D]
        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            x = VitBlock(x, VisionLayer(i));
        }

        x = VisionNorm(x, PostLayerNorm);
        var embedding = L2Normalize(Linear(Gather(x, 0, axis: 1), "vision_proj"));
        g.Output(x, "image_tokens", OnnxGraph.Float, "batch", P, D);
        g.Output(embedding, "image_embedding", OnnxGraph.Float, "batch", E);
        return Finish(g);
    }

    /// <summary><c>input_ids</c>, <c>attention_mask</c> int64 [B,L] → <c>text_embedding</c> [B,E] = l2norm(text_proj(h_cls)).</summary>
    /// <param name="includeHiddenStates">Also output BERT's <c>last_hidden_state</c> [B,L,H] (for checks against other BERT exports).</param>
    public ModelProto TextEncoder(bool includeHiddenStates = false)
    {
        var g = NewGraph(TextEncoderName);
        var ids = g.Input("input_ids", OnnxGraph.Int64, "batch", "length");
        var mask = g.Input("attention_mask", OnnxGraph.Int64, "batch", "length");
        var h = Bert(ids, mask, memory: null);
        var embedding = L2Normalize(Linear(Gather(h, 0, axis: 1), "text_proj"));
        g.Output(embedding, "text_embedding", OnnxGraph.Float, "batch", E);
        if (includeHiddenStates)
        {
            g.Output(h, "last_hidden_state", OnnxGraph.Float, "batch", "length", _c.Text.HiddenSize);
        }

        return Finish(g);
    }

    /// <summary>
    /// Text-dependent pooling then the video-grounded encoder (docs/model.md, "Re-ranking"):
    /// <c>input_ids</c>, <c>attention_mask</c> [K,L], <c>video_tokens</c> [K,T,P,D], <c>text_embedding</c> [K,E],
    /// optional <c>pooling</c> int64 [1] (1 = TDP, 0 = none; default from the config's <c>tdp.enabled</c>)
    /// → <c>itm_logits</c> [K,2], <c>frame_weights</c> [K,T].
    /// </summary>
    public ModelProto Reranker()
    {
        var g = NewGraph(RerankerName);
        var (ids, mask, pooled) = GroundedEncoderInputs(g, "candidates");
        var itm = Linear(Gather(Bert(ids, mask, pooled.Memory), 0, axis: 1), "itm_head");
        g.Output(itm, "itm_logits", OnnxGraph.Float, "candidates", 2);
        g.Output(pooled.FrameWeights, "frame_weights", OnnxGraph.Float, "candidates", T);
        return Finish(g);
    }

    /// <summary>
    /// Text-dependent pooling alone, for inspection and tests: <c>video_tokens</c> [K,T,P,D], <c>text_embedding</c> [K,E] →
    /// <c>memory</c> [K,M,D] (M = T·P + T + P with TDP, T·P with <c>pooling</c> 0), <c>frame_weights</c> [K,T],
    /// <c>temporal_weights</c> [K,T,P] (sum to 1 over T) and <c>spatial_weights</c> [K,T,N] (sum to 1 over N).
    /// </summary>
    public ModelProto Pooling()
    {
        var g = NewGraph("pooling");
        var pooled = PooledVideoInputs(g, "candidates");
        g.Output(pooled.Memory, "memory", OnnxGraph.Float, "candidates", "memory_tokens", D);
        g.Output(pooled.FrameWeights, "frame_weights", OnnxGraph.Float, "candidates", T);
        g.Output(pooled.TemporalWeights, "temporal_weights", OnnxGraph.Float, "candidates", T, P);
        g.Output(pooled.SpatialWeights, "spatial_weights", OnnxGraph.Float, "candidates", T, N);
        return Finish(g);
    }

    // ───────────────────────────── video encoder ─────────────────────────────

    /// <summary><c>frames</c> uint8 [B,T,S,S,3] → video tokens [B,T,P,D] and the l2-normalised video embedding [B,E].</summary>
    private (Value Tokens, Value Embedding) EncodeVideo(Value frames)
    {
        int s = _c.Vision.ImageSize;
        var patches = PatchEmbed(Normalize(Reshape(frames, -1, s, s, 3)));          // [B·T,N,D]
        return _c.ClsMode == ClsMode.PerFrame ? PerFrameVideoEncoder(patches) : SharedClsVideoEncoder(patches, frames);
    }

    private (Value Tokens, Value Embedding) PerFrameVideoEncoder(Value patches)
    {
        var g = patches.Graph;
        // Every frame: its own CLS, BLIP position embedding, plus time_embedding[t].
        var x = PrependCls(patches) + PositionEmbedding(g);                            // [B·T,P,D]
        x = Reshape(Reshape(x, -1, T, P, D) + TimeEmbedding(g), -1, P, D);
        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            var layer = VisionLayer(i);
            x = x + TemporalBranch(x, layer, tokens: P);
            x = VitBlock(x, layer);
        }

        x = VisionNorm(x, PostLayerNorm);
        var tokens = Reshape(x, -1, T, P, D);
        // BLIP's video protocol: l2norm(mean_t(vision_proj(cls_t))).
        var clsProjections = Reshape(Linear(Gather(x, 0, axis: 1), "vision_proj"), -1, T, E);
        return (tokens, L2Normalize(ReduceMean(clsProjections, keepDims: false, 1)));
    }

    /// <summary>
    /// TimeSformer's shared CLS: patches get position + time embeddings, one CLS per video gets position 0. Each layer is
    /// the temporal branch on the patches, then the ViT block per frame over [cls; patches_t], where the CLS's attention
    /// residual is the frame-mean of its T outputs.
    /// </summary>
    private (Value Tokens, Value Embedding) SharedClsVideoEncoder(Value patches, Value frames)
    {
        var g = patches.Graph;
        var (patchPositions, clsPlusPosition) = SharedClsEmbeddings(g);
        var p = Reshape(Reshape(patches + patchPositions, -1, T, N, D) + TimeEmbedding(g), -1, N, D); // [B·T,N,D]
        var c = Expand(clsPlusPosition, BatchShape(frames, 1, D));                                     // [B,1,D]
        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            var layer = VisionLayer(i);
            p = p + TemporalBranch(p, layer, tokens: N);
            var y = VitAttention(Concat(1, ClsPerFrame(c), p), layer);                                // [B·T,P,D]
            p = p + SliceAxis(y, 1, 1, P);
            c = c + ReduceMean(Reshape(SliceAxis(y, 1, 0, 1), -1, T, D), keepDims: true, 1);
            p = VitMlp(p, layer);
            c = VitMlp(c, layer);
        }

        p = VisionNorm(p, PostLayerNorm);
        c = VisionNorm(c, PostLayerNorm);
        // The contract keeps [B,T,P,D]: position 0 of every frame carries the shared CLS.
        var tokens = Reshape(Concat(1, ClsPerFrame(c), p), -1, T, P, D);
        return (tokens, L2Normalize(Linear(Reshape(c, -1, D), "vision_proj")));
    }

    /// <summary>The shared CLS [B,1,D] repeated for every frame: [B·T,1,D].</summary>
    private Value ClsPerFrame(Value c) => Reshape(Tile(c, 1, T, 1), -1, 1, D);

    /// <summary>Shared-CLS mode: the patches' position embeddings [1,N,D] and class_embedding + position 0 [1,1,D].</summary>
    private (Value PatchPositions, Value ClsPlusPosition) SharedClsEmbeddings(OnnxGraph g)
    {
        if (TrainingForm)
        {
            var position = W(g, PositionEmbeddingName);
            return (SliceAxis(position, 1, 1, P), W(g, ClassEmbedding) + SliceAxis(position, 1, 0, 1));
        }

        var pos = _w[PositionEmbeddingName].Data;
        var cls = new float[D];
        var clsEmb = _w[ClassEmbedding].Data;
        for (int i = 0; i < D; i++)
        {
            cls[i] = clsEmb[i] + pos[i];
        }

        return (g.Weight("position_embedding_patches", pos.AsSpan(D), 1, N, D), g.Weight("cls_plus_position", cls, 1, 1, D));
    }

    /// <summary>
    /// <c>temporal_fc(temporal_attn(temporal_layer_norm(x)) · (1 + tanh(temporal_scaling)))</c>, attention over t for every
    /// token position separately. <paramref name="x"/> is [B·T, tokens, D]; the result has the same shape.
    /// </summary>
    private Value TemporalBranch(Value x, VisionLayerNames layer, int tokens) => OverTime(x, tokens, xt =>
        TemporalFc(TemporalAttention(VisionNorm(xt, layer.TemporalNorm), layer, tokens) * DynamicTemporalScaling(xt.Graph, layer.TemporalScaling), layer));

    /// <summary>
    /// Applies <paramref name="f"/> with time on axis 2: [B·T, tokens, D] is viewed as [B, tokens, T, D] (each token
    /// position's sequence over the frames), and <paramref name="f"/>'s result is put back as [B·T, tokens, D].
    /// </summary>
    private Value OverTime(Value x, int tokens, Func<Value, Value> f) =>
        Reshape(Transpose(f(Transpose(Reshape(x, -1, T, tokens, D), 0, 2, 1, 3)), 0, 2, 1, 3), -1, tokens, D);

    /// <summary>Self-attention over t, [B, tokens, T, D] → the same: every (video, token position) is one sequence of T.</summary>
    private Value TemporalAttention(Value xt, VisionLayerNames layer, int tokens) =>
        Reshape(Attention(Reshape(xt, -1, T, D), layer.TemporalQkv, layer.TemporalProjection), -1, tokens, T, D);

    private Value TemporalFc(Value x, VisionLayerNames layer) => Linear(x, layer.TemporalFc);

    /// <summary>BLIP's pre-LN ViT block: <c>x += attn(LN1 x); x += mlp(LN2 x)</c> on [B·T, tokens, D].</summary>
    private Value VitBlock(Value x, VisionLayerNames layer) => VitMlp(x + VitAttention(x, layer), layer);

    /// <summary>The ViT block's attention half without its residual: attn(LN1 x).</summary>
    private Value VitAttention(Value x, VisionLayerNames layer) => Attention(VisionNorm(x, layer.Norm1), layer.Qkv, layer.Projection);

    /// <summary>The ViT block's MLP half with its residual: x + mlp(LN2 x).</summary>
    private Value VitMlp(Value x, VisionLayerNames layer) => x + Linear(Gelu(Linear(VisionNorm(x, layer.Norm2), layer.Fc1)), layer.Fc2);

    /// <summary>Vision self-attention with BLIP's stacked qkv projection (spatial or temporal weights).</summary>
    private Value Attention(Value x, string qkvPrefix, string projectionPrefix)
    {
        var qkv = Split(Linear(x, qkvPrefix), -1, D, D, D);
        return Linear(MultiHeadAttention(qkv[0], qkv[1], qkv[2], _c.Vision.NumHeads, D, mask: null), projectionPrefix);
    }

    /// <summary>(x/255 − mean)/std per RGB channel, as [B,3,S,S] for the patch convolution.</summary>
    private Value Normalize(Value pixelsNhwc)
    {
        var g = pixelsNhwc.Graph;
        var pre = _c.Preprocessing;
        var scale = new float[3];
        var shift = new float[3];
        for (int ch = 0; ch < 3; ch++)
        {
            scale[ch] = 1f / (255f * pre.Std[ch]);
            shift[ch] = -pre.Mean[ch] / pre.Std[ch];
        }

        var x = Transpose(Cast(pixelsNhwc, g.ComputeType), 0, 3, 1, 2);
        return (x * g.Weight("pixel_scale", scale, 1, 3, 1, 1)) + g.Weight("pixel_shift", shift, 1, 3, 1, 1);
    }

    /// <summary>16×16 patches by a strided convolution with bias: [B,3,S,S] → [B,N,D].</summary>
    private Value PatchEmbed(Value x)
    {
        var g = x.Graph;
        const string prefix = "vision_model.embeddings.patch_embedding";
        var conv = TrainingForm
            ? PatchConv(x, W(g, prefix + ".weight"), W(g, prefix + ".bias"), _c.Vision.PatchSize)
            : PatchConv(x, g.Weight("patch_embedding.weight", _w[prefix + ".weight"].Data, _w[prefix + ".weight"].Shape), g.Weight("patch_embedding.bias", _w[prefix + ".bias"].Data, _w[prefix + ".bias"].Shape), _c.Vision.PatchSize);
        return Transpose(Reshape(conv, -1, D, N), 0, 2, 1);
    }

    /// <summary>[CLS; patches]: [B,N,D] → [B,P,D].</summary>
    private Value PrependCls(Value patches)
    {
        var g = patches.Graph;
        var shape = BatchShape(patches, 1, D);
        var cls = TrainingForm ? W(g, ClassEmbedding) : g.Weight("class_embedding", _w[ClassEmbedding].Data, 1, 1, D);
        return Concat(1, Expand(cls, shape), patches);
    }

    private Value PositionEmbedding(OnnxGraph g) => TrainingForm
        ? W(g, PositionEmbeddingName)
        : g.Weight("position_embedding", _w[PositionEmbeddingName].Data, 1, P, D);

    /// <summary>time_embedding[:T] as [1,T,1,D].</summary>
    private Value TimeEmbedding(OnnxGraph g) => TrainingForm
        ? Reshape(SliceAxis(W(g, TimeEmbeddingName), 0, 0, T), 1, T, 1, D)
        : g.Weight("time_embedding", _w[TimeEmbeddingName].Data.AsSpan(0, T * D), 1, T, 1, D);

    /// <summary>
    /// The dynamic temporal scaling factor 1 + tanh(α_l)[:T] as [1,1,T,1]: folded to a constant for serving, computed
    /// from α in training graphs.
    /// </summary>
    private Value DynamicTemporalScaling(OnnxGraph g, string name)
    {
        if (TrainingForm)
        {
            return Reshape(1f + Tanh(SliceAxis(W(g, name), 1, 0, T)), 1, 1, T, 1);
        }

        var alpha = _w[name].Data;
        var factor = new float[T];
        for (int t = 0; t < T; t++)
        {
            factor[t] = (float)(1.0 + Math.Tanh(alpha[t]));
        }

        return g.Weight(name + ".factor", factor, 1, 1, T, 1);
    }

    // ───────────────────────────── text-dependent pooling ─────────────────────────────

    /// <summary>
    /// s[t,p] = &lt;l2norm(vision_proj(v[t,p])), q&gt; (τ is applied once, inside each softmax), then the grounded encoder's
    /// memory [v (T·P) ; f (T) ; g (P)] — T·P + T + P tokens, 5,201 for blip-base's T = 8, P = 577 — and the frame
    /// weights w[t] = softmax_t(s[t,0]/τ). With <paramref name="pooling"/> 0 the memory is cut to v alone (T·P tokens,
    /// BLIP's zero-shot protocol): the same tensor as a graph built without TDP, not a masked one.
    /// </summary>
    private PooledVideo TextDependentPooling(Value v, Value q, Value pooling)
    {
        var graph = v.Graph;
        var vp = L2Normalize(Linear(Reshape(v, -1, T * P, D), "vision_proj"));        // [K,T·P,E]
        var s = Reshape(MatMul(vp, Unsqueeze(q, 2)), -1, T, P);                        // [K,T,P]
        var sOverTau = s * (float)(1.0 / _c.Tdp.Tau);
        var frameWeights = Softmax(Reshape(SliceAxis(sOverTau, 2, 0, 1), -1, T), axis: 1);
        var temporalWeights = Softmax(sOverTau, axis: 1);                              // over t
        var spatialWeights = Softmax(SliceAxis(sOverTau, 2, 1, P), axis: 2);           // over p ≥ 1
        var f = SpatialPooling(v, spatialWeights);                                     // [K,T,D]
        var g = TemporalPooling(v, temporalWeights);                                   // [K,P,D]
        var full = Concat(1, Reshape(v, -1, T * P, D), f, g);                          // [K,T·P+T+P,D]
        var tokens = graph.Int64s(T * P) + (pooling * graph.Int64s(T + P));             // T·P + pooling·(T+P)
        var memory = Slice(full, graph.Int64s(0), tokens, graph.Int64s(1));
        return new(memory, frameWeights, temporalWeights, spatialWeights);
    }

    /// <summary>
    /// The grounded encoder's inputs — <c>input_ids</c>, <c>attention_mask</c> int64 [K,L] — and the text-dependent pooling
    /// of <see cref="PooledVideoInputs"/>; <paramref name="batch"/> names the K axis.
    /// </summary>
    private (Value Ids, Value Mask, PooledVideo Pooled) GroundedEncoderInputs(OnnxGraph g, string batch)
    {
        var ids = g.Input("input_ids", OnnxGraph.Int64, batch, "length");
        var mask = g.Input("attention_mask", OnnxGraph.Int64, batch, "length");
        return (ids, mask, PooledVideoInputs(g, batch));
    }

    /// <summary>Inputs <c>video_tokens</c> [K,T,P,D], <c>text_embedding</c> [K,E] and the optional <c>pooling</c>, pooled by <see cref="TextDependentPooling"/>.</summary>
    private PooledVideo PooledVideoInputs(OnnxGraph g, string batch)
    {
        var v = ToCompute(g.Input("video_tokens", OnnxGraph.Float, batch, T, P, D));
        var q = ToCompute(g.Input("text_embedding", OnnxGraph.Float, batch, E));
        return TextDependentPooling(v, q, PoolingInput(g));
    }

    /// <summary>The optional <c>pooling</c> input, int64 [1]: 1 = text-dependent pooling, 0 = none; default from the config.</summary>
    private Value PoolingInput(OnnxGraph g) => g.OptionalInt64Input(PoolingInputName, _c.Tdp.Enabled ? 1 : 0);

    /// <summary>f[t] = Σ_{p≥1} softmax_p(s[t,p]/τ) · v[t,p]: one token per frame, [K,T,D].</summary>
    private Value SpatialPooling(Value v, Value weights)
    {
        var patches = SliceAxis(v, 2, 1, P);                                           // [K,T,N,D]
        return Reshape(MatMul(Unsqueeze(weights, 2), patches), -1, T, D);              // [K,T,1,N]·[K,T,N,D]
    }

    /// <summary>g[p] = Σ_t softmax_t(s[t,p]/τ) · v[t,p]: one token per position, [K,P,D].</summary>
    private static Value TemporalPooling(Value v, Value weights) => ReduceSum(Unsqueeze(weights, 3) * v, keepDims: false, 1);

    // ───────────────────────────── BERT ─────────────────────────────

    /// <summary>
    /// BLIP's BERT (med.py) under <paramref name="prefix"/>: embeddings, then post-LN layers; cross-attention on
    /// <paramref name="memory"/> when given (keys masked by <paramref name="memoryMask"/>, int64 [B,M], when given).
    /// <paramref name="causal"/> makes self-attention causal, as in the answer decoder (BertLMHeadModel).
    /// </summary>
    private Value Bert(Value ids, Value mask, Value? memory, string prefix = TextEncoderPrefix, bool causal = false, Value? memoryMask = null)
    {
        var g = ids.Graph;
        var bert = new BertNames(prefix);
        var wordEmbeddings = Gather(W(g, WeightSpec.WordEmbeddings(_c, prefix)), ids, axis: 0);
        var length = SliceAxis(Shape(ids), 0, 1, 2);
        var positionEmbeddings = Slice(W(g, bert.PositionEmbeddings), g.Int64s(0), length, g.Int64s(0));
        var h = TextNorm(wordEmbeddings + positionEmbeddings, bert.EmbeddingsNorm);

        var self = new BertAttentionMask(causal ? CausalAttentionBias(mask, length) : AttentionMask(mask, _options.Attention), _options.Attention, IsBias: causal);
        var crossKind = _options.EffectiveCrossAttention;
        BertCrossAttention? cross = memory is { } m
            ? new(m, new(memoryMask is { } mm ? AttentionMask(mm, crossKind) : null, crossKind, IsBias: false))
            : null;
        for (int j = 0; j < _c.Text.NumLayers; j++)
        {
            h = BertLayer(h, bert.Layer(j), self, cross);
        }

        return h;
    }

    /// <summary>
    /// One post-LN BERT layer: <c>h = LN(h + SelfAttention(h))</c>, with memory <c>h = LN(h + CrossAttention(h, memory))</c>,
    /// then <c>h = LN(h + FFN(h))</c>.
    /// </summary>
    private Value BertLayer(Value h, BertLayerNames layer, BertAttentionMask self, BertCrossAttention? cross)
    {
        h = TextNorm(h + Linear(BertAttention(h, h, layer.SelfAttention, self), layer.SelfOutput), layer.SelfOutputNorm);
        if (cross is { } c)
        {
            h = TextNorm(h + Linear(BertAttention(h, c.Memory, layer.CrossAttention, c.Mask), layer.CrossOutput), layer.CrossOutputNorm);
        }

        return TextNorm(h + Linear(Gelu(Linear(h, layer.Intermediate)), layer.Output), layer.OutputNorm);
    }

    private Value BertAttention(Value x, Value kv, string prefix, BertAttentionMask mask) =>
        MultiHeadAttention(Linear(x, prefix + ".query"), Linear(kv, prefix + ".key"), Linear(kv, prefix + ".value"), _c.Text.NumHeads, _c.Text.HiddenSize, mask.Mask, mask.Kind, fusedBias: mask.IsBias);

    /// <summary>
    /// The padding mask in the form <paramref name="kind"/> of attention needs: int32 key_padding_mask [B,L] for the fused
    /// kernel, or BERT's additive bias (1 − mask)·(−10000) as [B,1,1,L] for the plain form. Both give identical results.
    /// </summary>
    private static Value AttentionMask(Value mask, AttentionKind kind)
    {
        if (kind == AttentionKind.Fused)
        {
            return Cast(mask, OnnxGraph.Int32);
        }

        var keep = Cast(mask, mask.Graph.ComputeType);
        return Unsqueeze((1f - keep) * -10000f, 1, 2);
    }

    /// <summary>
    /// The decoder's self-attention bias, as BLIP's BertLMHeadModel builds it: (1 − causal[i,j]·mask[j])·(−10000), [B,1,L,L],
    /// with causal the lower triangle of ones (a token sees itself and the tokens before it).
    /// </summary>
    private static Value CausalAttentionBias(Value mask, Value length)
    {
        int compute = mask.Graph.ComputeType;
        var positions = Positions(length);                                                           // [L]
        var lower = Cast(LessOrEqual(Unsqueeze(positions, 0), Unsqueeze(positions, 1)), compute);    // [L,L]: j ≤ i
        var keep = Unsqueeze(Cast(mask, compute), 1, 2);                                              // [B,1,1,L]
        var both = Unsqueeze(lower, 0, 1) * keep;                                                     // [B,1,L,L]
        return (1f - both) * -10000f;
    }

    /// <summary>0, 1, …, L − 1 for a length given as int64 [1].</summary>
    private static Value Positions(Value length)
    {
        var g = length.Graph;
        return Range(g.Int64Scalar(0), Squeeze(length, 0), g.Int64Scalar(1));
    }

    // ───────────────────────────── building blocks ─────────────────────────────

    /// <summary>Scaled dot-product attention over heads; q [B,Sq,W], k/v [B,Sk,W] already projected.</summary>
    /// <param name="fusedBias">For the fused kernel: <paramref name="mask"/> is an additive attention bias [B,1,Sq,Sk] (its attention_bias input), not a key padding mask.</param>
    private Value MultiHeadAttention(Value q, Value k, Value v, int heads, int width, Value? mask, AttentionKind? kind = null, bool fusedBias = false)
    {
        if ((kind ?? _options.Attention) == AttentionKind.Fused)
        {
            return fusedBias
                ? FusedMultiHeadAttention(q, k, v, heads, attentionBias: mask)
                : FusedMultiHeadAttention(q, k, v, heads, keyPaddingMask: mask);
        }

        int dh = width / heads;
        // q·(1/√dh) before the product, not (q·kᵀ)/√dh after it: in fp16 the unscaled q·kᵀ of real checkpoints can pass
        // 65504 (fp16's largest value) and become inf, while the scaled product stays at the magnitude softmax sees.
        var qh = Transpose(Reshape(q * (float)(1.0 / Math.Sqrt(dh)), 0, 0, heads, dh), 0, 2, 1, 3); // [B,h,Sq,dh]
        var kh = Transpose(Reshape(k, 0, 0, heads, dh), 0, 2, 3, 1);                                  // [B,h,dh,Sk]
        var vh = Transpose(Reshape(v, 0, 0, heads, dh), 0, 2, 1, 3);                                  // [B,h,Sk,dh]
        var scores = MatMul(qh, kh);
        if (mask is { } m)
        {
            scores = scores + m;
        }

        var context = MatMul(Softmax(scores, axis: -1), vh);
        return Reshape(Transpose(context, 0, 2, 1, 3), 0, 0, width);
    }

    /// <summary>x·Wᵀ + b with W stored [out,in] in the weights and transposed once here.</summary>
    private Value Linear(Value x, string prefix)
    {
        var g = x.Graph;
        if (TrainingForm)
        {
            return MatMul(x, Transpose(W(g, prefix + ".weight"), 1, 0)) + W(g, prefix + ".bias");
        }

        var w = _w[prefix + ".weight"];
        var b = _w[prefix + ".bias"];
        int outDim = (int)w.Shape[0];
        int inDim = (int)w.Shape[1];
        var transposed = new float[w.Data.Length];
        for (int o = 0; o < outDim; o++)
        {
            for (int i = 0; i < inDim; i++)
            {
                transposed[(i * outDim) + o] = w.Data[(o * inDim) + i];
            }
        }

        return MatMul(x, g.Weight(prefix + ".weight_t", transposed, inDim, outDim)) + g.Weight(prefix + ".bias", b.Data, outDim);
    }

    private Value LayerNorm(Value x, string prefix, double eps) =>
        LayerNormalization(x, W(x.Graph, prefix + ".weight"), W(x.Graph, prefix + ".bias"), (float)eps);

    private Value VisionNorm(Value x, string prefix) => LayerNorm(x, prefix, _c.Vision.LayerNormEps);

    private Value TextNorm(Value x, string prefix) => LayerNorm(x, prefix, _c.Text.LayerNormEps);

    /// <summary>
    /// Exact GELU: 0.5·x·(1 + erf(x/√2)), written <c>Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5</c>: the form ONNX
    /// Runtime's GeluFusion matches (it does not match x·(1/√2)), so ORT runs one Gelu, or BiasGelu with the preceding
    /// bias Add, instead of five element-wise ops (docs/model.md, "GELU").
    /// </summary>
    private static Value Gelu(Value x) => x * (Erf(x / (float)Math.Sqrt(2.0)) + 1f) * 0.5f;

    /// <summary>x / max(‖x‖₂, ε) over the last axis (torch.nn.functional.normalize): ε = 1e-12, or 1e-7 in fp16 graphs (1e-12 is below fp16's range).</summary>
    private Value L2Normalize(Value x) =>
        x / Max(ReduceL2(x, keepDims: true, -1), x.Graph.Scalar(_options.Precision == Precision.Fp16 ? 1e-7f : 1e-12f));

    /// <summary>
    /// A stored weight under its own name and shape: an initializer, or a graph input when it is trainable (declared
    /// once however often it is used, so shared weights collect gradients from every use).
    /// </summary>
    private Value W(OnnxGraph g, string name)
    {
        var w = _w[name];
        return _options.Trainable?.Contains(name) == true ? g.WeightInput(name, w.Shape) : g.Weight(name, w.Data, w.Shape);
    }

    private OnnxGraph NewGraph(string name) => new(name, _options.Precision);

    private static VisionLayerNames VisionLayer(int i) => new($"vision_model.encoder.layers.{i}.");

    private ModelProto Finish(OnnxGraph g) => g.ToModel(
        $"LiteVL {g.Name} ({_c.Preset}, T={T}, S={_c.Vision.ImageSize}, cls_mode={_c.ClsMode}, tdp={_c.Tdp.Enabled}, tau={_c.Tdp.Tau}, {_options.Precision}, {_options.Attention} attention)",
        new Dictionary<string, string>
        {
            ["litevl.version"] = _c.Version,
            ["litevl.graph"] = g.Name,
            ["litevl.precision"] = _options.Precision.ToString().ToLowerInvariant(),
            ["litevl.attention"] = _options.Attention.ToString().ToLowerInvariant(),
        });

    /// <summary>An attention mask in the form its kernel takes (see <see cref="AttentionMask"/>); <see cref="IsBias"/> for an additive [B,1,Sq,Sk] bias.</summary>
    private readonly record struct BertAttentionMask(Value? Mask, AttentionKind Kind, bool IsBias);

    /// <summary>Text-dependent pooling's results: the grounded encoder's memory [K,M,D] and the pooling weights.</summary>
    private readonly record struct PooledVideo(Value Memory, Value FrameWeights, Value TemporalWeights, Value SpatialWeights);

    /// <summary>What a BERT layer cross-attends to: the memory and its mask.</summary>
    private readonly record struct BertCrossAttention(Value Memory, BertAttentionMask Mask);

    /// <summary>Weight-name prefixes of one vision block.</summary>
    private sealed record VisionLayerNames(string Prefix)
    {
        public string TemporalNorm => Prefix + "temporal_layer_norm";

        public string TemporalQkv => Prefix + "temporal_attn.qkv";

        public string TemporalProjection => Prefix + "temporal_attn.projection";

        public string TemporalFc => Prefix + "temporal_fc";

        public string TemporalScaling => Prefix + "temporal_scaling";

        public string Norm1 => Prefix + "layer_norm1";

        public string Norm2 => Prefix + "layer_norm2";

        public string Qkv => Prefix + "self_attn.qkv";

        public string Projection => Prefix + "self_attn.projection";

        public string Fc1 => Prefix + "mlp.fc1";

        public string Fc2 => Prefix + "mlp.fc2";
    }

    /// <summary>Weight names of a BERT under <see cref="Prefix"/> (<c>text_encoder.</c>, <c>qa.text_encoder.</c>, …), built here only.</summary>
    private sealed record BertNames(string Prefix)
    {
        public string PositionEmbeddings => Prefix + "embeddings.position_embeddings.weight";

        public string EmbeddingsNorm => Prefix + "embeddings.LayerNorm";

        public BertLayerNames Layer(int j) => new($"{Prefix}encoder.layer.{j}.");
    }

    /// <summary>Weight-name prefixes of one BERT layer (med.py's BertLayer).</summary>
    private sealed record BertLayerNames(string Prefix)
    {
        public string SelfAttention => Prefix + "attention.self";

        public string SelfOutput => Prefix + "attention.output.dense";

        public string SelfOutputNorm => Prefix + "attention.output.LayerNorm";

        public string CrossAttention => Prefix + "crossattention.self";

        public string CrossOutput => Prefix + "crossattention.output.dense";

        public string CrossOutputNorm => Prefix + "crossattention.output.LayerNorm";

        public string Intermediate => Prefix + "intermediate.dense";

        public string Output => Prefix + "output.dense";

        public string OutputNorm => Prefix + "output.LayerNorm";
    }
}
