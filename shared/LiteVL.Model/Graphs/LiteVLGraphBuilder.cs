using LiteVL.Model.Config;
using LiteVL.Model.Weights;
using Onnx;

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
/// <c>x = x + TemporalFc(TemporalAttention(LN(x)) * (1 + tanh α))</c> and so on. Shapes in comments:
/// B batch, T frames, P = 1 + N tokens per frame, D vision width, H text width, E = 256, L text length.
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

    private readonly ModelWeights _w;
    private readonly ModelConfig _c;
    private readonly GraphBuildOptions _options;
    private OnnxGraph _g = null!;
    private HashSet<string> _declaredInputs = new(StringComparer.Ordinal);

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
        Begin(VideoEncoderName);
        int s = _c.Vision.ImageSize;
        string frames = _g.Input("frames", OnnxGraph.UInt8, "batch", T, s, s, 3);
        var (tokens, embedding) = EncodeVideo(frames);
        _g.Output(tokens, "video_tokens", OnnxGraph.Float, "batch", T, P, D);
        _g.Output(embedding, "video_embedding", OnnxGraph.Float, "batch", E);
        return Finish(VideoEncoderName);
    }

    /// <summary>BLIP's image encoder (no temporal branch): <c>frames</c> uint8 [B,S,S,3] → <c>image_tokens</c> [B,P,D], <c>image_embedding</c> [B,E].</summary>
    public ModelProto ImageEncoder()
    {
        Begin(ImageEncoderName);
        int s = _c.Vision.ImageSize;
        string frames = _g.Input("frames", OnnxGraph.UInt8, "batch", s, s, 3);
        string patches = PatchEmbed(Normalize(frames));
        string x = Add(PrependCls(patches), PositionEmbedding());          // [B,P,D]
        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            x = SpatialBlock(x, VisionLayer(i));
        }

        x = LayerNorm(x, "vision_model.post_layernorm", _c.Vision.LayerNormEps);
        string embedding = L2Normalize(Linear(Gather(x, 0, axis: 1), "vision_proj"));
        _g.Output(x, "image_tokens", OnnxGraph.Float, "batch", P, D);
        _g.Output(embedding, "image_embedding", OnnxGraph.Float, "batch", E);
        return Finish(ImageEncoderName);
    }

    /// <summary><c>input_ids</c>, <c>attention_mask</c> int64 [B,L] → <c>text_embedding</c> [B,E] = l2norm(text_proj(h_cls)).</summary>
    /// <param name="includeHiddenStates">Also output BERT's <c>last_hidden_state</c> [B,L,H] (for checks against other BERT exports).</param>
    public ModelProto TextEncoder(bool includeHiddenStates = false)
    {
        Begin(TextEncoderName);
        string ids = _g.Input("input_ids", OnnxGraph.Int64, "batch", "length");
        string mask = _g.Input("attention_mask", OnnxGraph.Int64, "batch", "length");
        string h = Bert(ids, mask, memory: null);
        string embedding = L2Normalize(Linear(Gather(h, 0, axis: 1), "text_proj"));
        _g.Output(embedding, "text_embedding", OnnxGraph.Float, "batch", E);
        if (includeHiddenStates)
        {
            _g.Output(h, "last_hidden_state", OnnxGraph.Float, "batch", "length", _c.Text.HiddenSize);
        }

        return Finish(TextEncoderName);
    }

    /// <summary>
    /// Text-dependent pooling then the video-grounded encoder (docs/model.md, "Re-ranking"):
    /// <c>input_ids</c>, <c>attention_mask</c> [K,L], <c>video_tokens</c> [K,T,P,D], <c>text_embedding</c> [K,E],
    /// optional <c>pooling</c> int64 [1] (1 = TDP, 0 = none; default from the config's <c>tdp.enabled</c>)
    /// → <c>itm_logits</c> [K,2], <c>frame_weights</c> [K,T].
    /// </summary>
    public ModelProto Reranker()
    {
        Begin(RerankerName);
        string ids = _g.Input("input_ids", OnnxGraph.Int64, "candidates", "length");
        string mask = _g.Input("attention_mask", OnnxGraph.Int64, "candidates", "length");
        string v = ToCompute(_g.Input("video_tokens", OnnxGraph.Float, "candidates", T, P, D));
        string q = ToCompute(_g.Input("text_embedding", OnnxGraph.Float, "candidates", E));
        string pooling = PoolingInput();

        var pooled = TextDependentPooling(v, q, pooling);
        string memory = pooled.Memory;
        string frameWeights = pooled.FrameWeights;

        string h = Bert(ids, mask, memory);
        string itm = Linear(Gather(h, 0, axis: 1), "itm_head");
        _g.Output(itm, "itm_logits", OnnxGraph.Float, "candidates", 2);
        _g.Output(frameWeights, "frame_weights", OnnxGraph.Float, "candidates", T);
        return Finish(RerankerName);
    }

    /// <summary>
    /// Text-dependent pooling alone, for inspection and tests: <c>video_tokens</c> [K,T,P,D], <c>text_embedding</c> [K,E] →
    /// <c>memory</c> [K,M,D] (M = T·P + T + P with TDP, T·P with <c>pooling</c> 0), <c>frame_weights</c> [K,T],
    /// <c>temporal_weights</c> [K,T,P] (sum to 1 over T) and <c>spatial_weights</c> [K,T,N] (sum to 1 over N).
    /// </summary>
    public ModelProto Pooling()
    {
        Begin("pooling");
        string v = ToCompute(_g.Input("video_tokens", OnnxGraph.Float, "candidates", T, P, D));
        string q = ToCompute(_g.Input("text_embedding", OnnxGraph.Float, "candidates", E));
        var pooled = TextDependentPooling(v, q, PoolingInput());
        _g.Output(pooled.Memory, "memory", OnnxGraph.Float, "candidates", "memory_tokens", D);
        _g.Output(pooled.FrameWeights, "frame_weights", OnnxGraph.Float, "candidates", T);
        _g.Output(pooled.TemporalWeights, "temporal_weights", OnnxGraph.Float, "candidates", T, P);
        _g.Output(pooled.SpatialWeights, "spatial_weights", OnnxGraph.Float, "candidates", T, N);
        return Finish("pooling");
    }

    // ───────────────────────────── video encoder ─────────────────────────────

    /// <summary><c>frames</c> uint8 [B,T,S,S,3] → video tokens [B,T,P,D] and the l2-normalised video embedding [B,E].</summary>
    private (string Tokens, string Embedding) EncodeVideo(string frames)
    {
        int s = _c.Vision.ImageSize;
        string pixels = Reshape(frames, -1, s, s, 3);                  // [B·T,S,S,3]
        string patches = PatchEmbed(Normalize(pixels));               // [B·T,N,D]
        return _c.ClsMode == ClsMode.PerFrame ? PerFrameVideoEncoder(patches) : SharedClsVideoEncoder(patches, frames);
    }

    private (string Tokens, string Embedding) PerFrameVideoEncoder(string patches)
    {
        // Every frame: its own CLS, BLIP position embedding, plus time_embedding[t].
        string x = Add(PrependCls(patches), PositionEmbedding());                       // [B·T,P,D]
        x = Reshape(Add(Reshape(x, -1, T, P, D), TimeEmbedding()), -1, P, D);
        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            var layer = VisionLayer(i);
            x = Add(x, TemporalBranch(x, layer, tokens: P));
            x = SpatialBlock(x, layer);
        }

        x = LayerNorm(x, "vision_model.post_layernorm", _c.Vision.LayerNormEps);
        string tokens = Reshape(x, -1, T, P, D);
        // BLIP's video protocol: l2norm(mean_t(vision_proj(cls_t))).
        string clsProj = Reshape(Linear(Gather(x, 0, axis: 1), "vision_proj"), -1, T, E);
        string embedding = L2Normalize(_g.Op("ReduceMean", [clsProj], ("axes", new long[] { 1 }), ("keepdims", 0L)));
        return (tokens, embedding);
    }

    private (string Tokens, string Embedding) SharedClsVideoEncoder(string patches, string frames)
    {
        // TimeSformer: patches get position + time embeddings; one CLS per video gets position 0.
        var (patchPos, clsPlusPosition) = SharedClsEmbeddings();
        string p = Reshape(Add(Reshape(Add(patches, patchPos), -1, T, N, D), TimeEmbedding()), -1, N, D); // [B·T,N,D]
        string batchShape = _g.Op("Concat", [SliceAxis(_g.Op("Shape", [frames]), 0, 0, 1), _g.Int64s(1, D)], ("axis", 0L));
        string c = _g.Op("Expand", [clsPlusPosition, batchShape]); // [B,1,D]

        for (int i = 0; i < _c.Vision.NumLayers; i++)
        {
            var layer = VisionLayer(i);
            p = Add(p, TemporalBranch(p, layer, tokens: N));
            // Spatial attention per frame over [cls; patches_t]; the CLS takes the frame-mean of its outputs.
            string clsPerFrame = Reshape(_g.Op("Tile", [c, _g.Int64s(1, T, 1)]), -1, 1, D);            // [B·T,1,D]
            string y = Attention(LayerNorm(_g.Op("Concat", [clsPerFrame, p], ("axis", 1L)), layer.Norm1, _c.Vision.LayerNormEps), layer.Qkv, layer.Projection);
            p = Add(p, SliceAxis(y, 1, 1, P));
            c = Add(c, _g.Op("ReduceMean", [Reshape(SliceAxis(y, 1, 0, 1), -1, T, D)], ("axes", new long[] { 1 }), ("keepdims", 1L)));
            p = Add(p, Mlp(LayerNorm(p, layer.Norm2, _c.Vision.LayerNormEps), layer));
            c = Add(c, Mlp(LayerNorm(c, layer.Norm2, _c.Vision.LayerNormEps), layer));
        }

        p = LayerNorm(p, "vision_model.post_layernorm", _c.Vision.LayerNormEps);
        c = LayerNorm(c, "vision_model.post_layernorm", _c.Vision.LayerNormEps);
        // The contract keeps [B,T,P,D]: position 0 of every frame carries the shared CLS.
        string tokens = Reshape(_g.Op("Concat", [Reshape(_g.Op("Tile", [c, _g.Int64s(1, T, 1)]), -1, 1, D), p], ("axis", 1L)), -1, T, P, D);
        string embedding = L2Normalize(Linear(Reshape(c, -1, D), "vision_proj"));
        return (tokens, embedding);
    }

    /// <summary>Shared-CLS mode: the patches' position embeddings [1,N,D] and class_embedding + position 0 [1,1,D].</summary>
    private (string PatchPositions, string ClsPlusPosition) SharedClsEmbeddings()
    {
        const string posName = "vision_model.embeddings.position_embedding";
        const string clsName = "vision_model.embeddings.class_embedding";
        if (TrainingForm)
        {
            string position = W(posName);
            return (SliceAxis(position, 1, 1, P), Add(W(clsName), SliceAxis(position, 1, 0, 1)));
        }

        var pos = _w[posName].Data;
        var cls = new float[D];
        var clsEmb = _w[clsName].Data;
        for (int i = 0; i < D; i++)
        {
            cls[i] = clsEmb[i] + pos[i];
        }

        return (_g.Weight("position_embedding_patches", pos.AsSpan(D), 1, N, D), _g.Weight("cls_plus_position", cls, 1, 1, D));
    }

    /// <summary>
    /// <c>temporal_fc(temporal_attn(temporal_layer_norm(x)) · (1 + tanh(temporal_scaling)))</c>, attention over t for every
    /// token position separately. <paramref name="x"/> is [B·T, tokens, D]; the result has the same shape.
    /// </summary>
    private string TemporalBranch(string x, VisionLayerNames layer, int tokens)
    {
        string byPosition = Reshape(_g.Op("Transpose", [Reshape(x, -1, T, tokens, D)], ("perm", new long[] { 0, 2, 1, 3 })), -1, T, D); // [B·tokens,T,D]
        string h = Attention(LayerNorm(byPosition, layer.TemporalNorm, _c.Vision.LayerNormEps), layer.TemporalQkv, layer.TemporalProjection);
        string scaled = Mul(Reshape(h, -1, tokens, T, D), DynamicTemporalScaling(layer.TemporalScaling)); // [B,tokens,T,D]
        string fc = Linear(scaled, layer.TemporalFc);
        return Reshape(_g.Op("Transpose", [fc], ("perm", new long[] { 0, 2, 1, 3 })), -1, tokens, D);
    }

    /// <summary>BLIP's pre-LN ViT block: <c>x += attn(LN1 x); x += mlp(LN2 x)</c> on [B·T, tokens, D].</summary>
    private string SpatialBlock(string x, VisionLayerNames layer)
    {
        x = Add(x, Attention(LayerNorm(x, layer.Norm1, _c.Vision.LayerNormEps), layer.Qkv, layer.Projection));
        return Add(x, Mlp(LayerNorm(x, layer.Norm2, _c.Vision.LayerNormEps), layer));
    }

    /// <summary>Vision self-attention with BLIP's stacked qkv projection (spatial or temporal weights).</summary>
    private string Attention(string x, string qkvPrefix, string projectionPrefix)
    {
        string[] qkv = _g.OpMulti("Split", [Linear(x, qkvPrefix), _g.Int64s(D, D, D)], 3, ("axis", -1L));
        return Linear(MultiHeadAttention(qkv[0], qkv[1], qkv[2], _c.Vision.NumHeads, D, mask: null), projectionPrefix);
    }

    private string Mlp(string x, VisionLayerNames layer) => Linear(Gelu(Linear(x, layer.Fc1)), layer.Fc2);

    /// <summary>(x/255 − mean)/std per RGB channel, as [B,3,S,S] for the patch convolution.</summary>
    private string Normalize(string pixelsNhwc)
    {
        var pre = _c.Preprocessing;
        var scale = new float[3];
        var shift = new float[3];
        for (int ch = 0; ch < 3; ch++)
        {
            scale[ch] = 1f / (255f * pre.Std[ch]);
            shift[ch] = -pre.Mean[ch] / pre.Std[ch];
        }

        string x = _g.Op("Transpose", [_g.Op("Cast", [pixelsNhwc], ("to", (long)_g.ComputeType))], ("perm", new long[] { 0, 3, 1, 2 }));
        return Add(Mul(x, _g.Weight("pixel_scale", scale, 1, 3, 1, 1)), _g.Weight("pixel_shift", shift, 1, 3, 1, 1));
    }

    /// <summary>16×16 patches by a strided convolution with bias: [B,3,S,S] → [B,N,D].</summary>
    private string PatchEmbed(string x)
    {
        int k = _c.Vision.PatchSize;
        const string prefix = "vision_model.embeddings.patch_embedding";
        var w = _w[prefix + ".weight"];
        var b = _w[prefix + ".bias"];
        string conv = _g.Op(
            "Conv",
            TrainingForm
                ? [x, W(prefix + ".weight"), W(prefix + ".bias")]
                : [x, _g.Weight("patch_embedding.weight", w.Data, w.Shape), _g.Weight("patch_embedding.bias", b.Data, b.Shape)],
            ("kernel_shape", new long[] { k, k }),
            ("strides", new long[] { k, k }));
        return _g.Op("Transpose", [Reshape(conv, -1, D, N)], ("perm", new long[] { 0, 2, 1 }));
    }

    private string PrependCls(string patches)
    {
        var cls = _w["vision_model.embeddings.class_embedding"];
        string shape = _g.Op("Concat", [SliceAxis(_g.Op("Shape", [patches]), 0, 0, 1), _g.Int64s(1, D)], ("axis", 0L));
        string clsWeight = TrainingForm ? W("vision_model.embeddings.class_embedding") : _g.Weight("class_embedding", cls.Data, 1, 1, D);
        string clsRows = _g.Op("Expand", [clsWeight, shape]);
        return _g.Op("Concat", [clsRows, patches], ("axis", 1L));
    }

    private string PositionEmbedding() => TrainingForm
        ? W("vision_model.embeddings.position_embedding")
        : _g.Weight("position_embedding", _w["vision_model.embeddings.position_embedding"].Data, 1, P, D);

    /// <summary>time_embedding[:T] as [1,T,1,D].</summary>
    private string TimeEmbedding() => TrainingForm
        ? Reshape(SliceAxis(W("vision_model.embeddings.time_embedding"), 0, 0, T), 1, T, 1, D)
        : _g.Weight("time_embedding", _w["vision_model.embeddings.time_embedding"].Data.AsSpan(0, T * D), 1, T, 1, D);

    /// <summary>
    /// The dynamic temporal scaling factor 1 + tanh(α_l)[:T] as [1,1,T,1]: folded to a constant for serving, computed
    /// from α in training graphs.
    /// </summary>
    private string DynamicTemporalScaling(string name)
    {
        if (TrainingForm)
        {
            return Reshape(Add(_g.Scalar(1f), _g.Op("Tanh", [SliceAxis(W(name), 1, 0, T)])), 1, 1, T, 1);
        }

        var alpha = _w[name].Data;
        var factor = new float[T];
        for (int t = 0; t < T; t++)
        {
            factor[t] = (float)(1.0 + Math.Tanh(alpha[t]));
        }

        return _g.Weight(name + ".factor", factor, 1, 1, T, 1);
    }

    // ───────────────────────────── text-dependent pooling ─────────────────────────────

    /// <summary>
    /// s[t,p] = &lt;l2norm(vision_proj(v[t,p])), q&gt; (τ is applied once, inside each softmax), then the grounded encoder's
    /// memory [v (T·P) ; f (T) ; g (P)] — T·P + T + P tokens, 5,201 for blip-base's T = 8, P = 577 — and the frame
    /// weights w[t] = softmax_t(s[t,0]/τ). With <paramref name="pooling"/> 0 the memory is cut to v alone (T·P tokens,
    /// BLIP's zero-shot protocol): the same tensor as a graph built without TDP, not a masked one.
    /// </summary>
    private (string Memory, string FrameWeights, string TemporalWeights, string SpatialWeights) TextDependentPooling(string v, string q, string pooling)
    {
        string vp = L2Normalize(Linear(Reshape(v, -1, T * P, D), "vision_proj"));     // [K,T·P,E]
        string s = Reshape(_g.Op("MatMul", [vp, Unsqueeze(q, 2)]), -1, T, P);           // [K,T,P]
        string sOverTau = Mul(s, _g.Scalar((float)(1.0 / _c.Tdp.Tau)));
        string frameWeights = _g.Op("Softmax", [Reshape(SliceAxis(sOverTau, 2, 0, 1), -1, T)], ("axis", 1L));
        string temporalWeights = _g.Op("Softmax", [sOverTau], ("axis", 1L));                         // over t
        string spatialWeights = _g.Op("Softmax", [SliceAxis(sOverTau, 2, 1, P)], ("axis", 2L));       // over p ≥ 1
        string f = SpatialPooling(v, spatialWeights);                                   // [K,T,D]
        string g = TemporalPooling(v, temporalWeights);                                 // [K,P,D]
        string full = _g.Op("Concat", [Reshape(v, -1, T * P, D), f, g], ("axis", 1L));  // [K,T·P+T+P,D]
        string tokens = Add(_g.Int64s(T * P), _g.Op("Mul", [pooling, _g.Int64s(T + P)])); // T·P + pooling·(T+P)
        string memory = _g.Op("Slice", [full, _g.Int64s(0), tokens, _g.Int64s(1)]);
        return (memory, frameWeights, temporalWeights, spatialWeights);
    }

    /// <summary>The optional <c>pooling</c> input, int64 [1]: 1 = text-dependent pooling, 0 = none; default from the config.</summary>
    private string PoolingInput() => _g.OptionalInt64Input(PoolingInputName, _c.Tdp.Enabled ? 1 : 0);

    /// <summary>f[t] = Σ_{p≥1} softmax_p(s[t,p]/τ) · v[t,p]: one token per frame, [K,T,D].</summary>
    private string SpatialPooling(string v, string weights)
    {
        string patches = SliceAxis(v, 2, 1, P);                                                      // [K,T,N,D]
        return Reshape(_g.Op("MatMul", [Unsqueeze(weights, 2), patches]), -1, T, D);               // [K,T,1,N]·[K,T,N,D]
    }

    /// <summary>g[p] = Σ_t softmax_t(s[t,p]/τ) · v[t,p]: one token per position, [K,P,D].</summary>
    private string TemporalPooling(string v, string weights)
    {
        return _g.Op("ReduceSum", [Mul(Unsqueeze(weights, 3), v), _g.Int64s(1)], ("keepdims", 0L));
    }

    // ───────────────────────────── BERT ─────────────────────────────

    /// <summary>
    /// BLIP's BERT (med.py) under <paramref name="prefix"/>: embeddings, then post-LN layers; cross-attention on
    /// <paramref name="memory"/> when given (keys masked by <paramref name="memoryMask"/>, int64 [B,M], when given).
    /// <paramref name="causal"/> makes self-attention causal, as in the answer decoder (BertLMHeadModel).
    /// </summary>
    private string Bert(string ids, string mask, string? memory, string prefix = "text_encoder.", bool causal = false, string? memoryMask = null)
    {
        var t = _c.Text;
        string emb = prefix + "embeddings.";
        string wordEmbeddings = _g.Op("Gather", [W(WeightSpec.WordEmbeddings(_c, prefix)), ids], ("axis", 0L));
        string length = SliceAxis(_g.Op("Shape", [ids]), 0, 1, 2);
        string positionEmbeddings = _g.Op("Slice", [W(emb + "position_embeddings.weight"), _g.Int64s(0), length, _g.Int64s(0)]);
        string h = LayerNorm(Add(wordEmbeddings, positionEmbeddings), emb + "LayerNorm", t.LayerNormEps);

        string selfMask = causal ? CausalAttentionBias(mask, length) : AttentionMask(mask, _options.Attention);
        string? crossMask = memoryMask is null ? null : AttentionMask(memoryMask, _options.EffectiveCrossAttention);
        for (int j = 0; j < t.NumLayers; j++)
        {
            string p = $"{prefix}encoder.layer.{j}.";
            h = LayerNorm(Add(h, Linear(BertAttention(h, h, p + "attention.self", selfMask, _options.Attention, causalBias: causal), p + "attention.output.dense")), p + "attention.output.LayerNorm", t.LayerNormEps);
            if (memory is not null)
            {
                h = LayerNorm(Add(h, Linear(BertAttention(h, memory, p + "crossattention.self", crossMask, _options.EffectiveCrossAttention), p + "crossattention.output.dense")), p + "crossattention.output.LayerNorm", t.LayerNormEps);
            }

            string ffn = Linear(Gelu(Linear(h, p + "intermediate.dense")), p + "output.dense");
            h = LayerNorm(Add(h, ffn), p + "output.LayerNorm", t.LayerNormEps);
        }

        return h;
    }

    private string BertAttention(string x, string kv, string prefix, string? mask, AttentionKind kind, bool causalBias = false) =>
        MultiHeadAttention(Linear(x, prefix + ".query"), Linear(kv, prefix + ".key"), Linear(kv, prefix + ".value"), _c.Text.NumHeads, _c.Text.HiddenSize, mask, kind, fusedBias: causalBias);

    /// <summary>
    /// The padding mask in the form <paramref name="kind"/> of attention needs: int32 key_padding_mask [B,L] for the fused
    /// kernel, or BERT's additive bias (1 − mask)·(−10000) as [B,1,1,L] for the plain form. Both give identical results.
    /// </summary>
    private string AttentionMask(string mask, AttentionKind kind)
    {
        if (kind == AttentionKind.Fused)
        {
            return _g.Op("Cast", [mask], ("to", (long)OnnxGraph.Int32));
        }

        string keep = _g.Op("Cast", [mask], ("to", (long)_g.ComputeType));
        string bias = Mul(_g.Op("Sub", [_g.Scalar(1f), keep]), _g.Scalar(-10000f));
        return _g.Op("Unsqueeze", [bias, _g.Int64s(1, 2)]);
    }

    /// <summary>
    /// The decoder's self-attention bias, as BLIP's BertLMHeadModel builds it: (1 − causal[i,j]·mask[j])·(−10000), [B,1,L,L],
    /// with causal the lower triangle of ones (a token sees itself and the tokens before it).
    /// </summary>
    private string CausalAttentionBias(string mask, string length)
    {
        string positions = _g.Op("Range", [_g.Int64Scalar(0), _g.Op("Squeeze", [length, _g.Int64s(0)]), _g.Int64Scalar(1)]); // [L]
        string seen = _g.Op("LessOrEqual", [Unsqueeze(positions, 0), Unsqueeze(positions, 1)]);                      // [L,L]: j ≤ i
        string lower = _g.Op("Cast", [seen], ("to", (long)_g.ComputeType));
        string keep = _g.Op("Unsqueeze", [_g.Op("Cast", [mask], ("to", (long)_g.ComputeType)), _g.Int64s(1, 2)]);   // [B,1,1,L]
        string both = Mul(_g.Op("Unsqueeze", [lower, _g.Int64s(0, 1)]), keep);                                         // [B,1,L,L]
        return Mul(_g.Op("Sub", [_g.Scalar(1f), both]), _g.Scalar(-10000f));
    }

    // ───────────────────────────── building blocks ─────────────────────────────

    /// <summary>Scaled dot-product attention over heads; q [B,Sq,W], k/v [B,Sk,W] already projected.</summary>
    /// <param name="fusedBias">For the fused kernel: <paramref name="mask"/> is an additive attention bias [B,1,Sq,Sk] (its attention_bias input), not a key padding mask.</param>
    private string MultiHeadAttention(string q, string k, string v, int heads, int width, string? mask, AttentionKind? kind = null, bool fusedBias = false)
    {
        if ((kind ?? _options.Attention) == AttentionKind.Fused)
        {
            string[] inputs = mask is null ? [q, k, v] : fusedBias ? [q, k, v, string.Empty, string.Empty, mask] : [q, k, v, string.Empty, mask];
            return _g.OpIn(OnnxGraph.MicrosoftDomain, "MultiHeadAttention", inputs, ("num_heads", (long)heads));
        }

        int dh = width / heads;
        // q·(1/√dh) before the product, not (q·kᵀ)/√dh after it: in fp16 the unscaled q·kᵀ of real checkpoints can pass
        // 65504 (fp16's largest value) and become inf, while the scaled product stays at the magnitude softmax sees.
        string qScaled = Mul(q, _g.Scalar((float)(1.0 / Math.Sqrt(dh))));
        string qh = _g.Op("Transpose", [Reshape(qScaled, 0, 0, heads, dh)], ("perm", new long[] { 0, 2, 1, 3 }));   // [B,h,Sq,dh]
        string kh = _g.Op("Transpose", [Reshape(k, 0, 0, heads, dh)], ("perm", new long[] { 0, 2, 3, 1 }));   // [B,h,dh,Sk]
        string vh = _g.Op("Transpose", [Reshape(v, 0, 0, heads, dh)], ("perm", new long[] { 0, 2, 1, 3 }));   // [B,h,Sk,dh]
        string scores = _g.Op("MatMul", [qh, kh]);
        if (mask is not null)
        {
            scores = Add(scores, mask);
        }

        string context = _g.Op("MatMul", [_g.Op("Softmax", [scores], ("axis", -1L)), vh]);
        return Reshape(_g.Op("Transpose", [context], ("perm", new long[] { 0, 2, 1, 3 })), 0, 0, width);
    }

    /// <summary>x·Wᵀ + b with W stored [out,in] in the weights and transposed once here.</summary>
    private string Linear(string x, string prefix)
    {
        if (TrainingForm)
        {
            return Add(_g.Op("MatMul", [x, _g.Op("Transpose", [W(prefix + ".weight")], ("perm", new long[] { 1, 0 }))]), W(prefix + ".bias"));
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

        string matmul = _g.Op("MatMul", [x, _g.Weight(prefix + ".weight_t", transposed, inDim, outDim)]);
        return Add(matmul, _g.Weight(prefix + ".bias", b.Data, outDim));
    }

    private string LayerNorm(string x, string prefix, double eps) =>
        _g.Op(
            "LayerNormalization",
            [x, W(prefix + ".weight"), W(prefix + ".bias")],
            ("axis", -1L),
            ("epsilon", (float)eps));

    /// <summary>
    /// Exact GELU: 0.5·x·(1 + erf(x/√2)), written <c>Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5</c>: the form ONNX
    /// Runtime's GeluFusion matches (it does not match x·(1/√2)), so ORT runs one Gelu, or BiasGelu with the preceding
    /// bias Add, instead of five element-wise ops (docs/model.md, "GELU").
    /// </summary>
    private string Gelu(string x)
    {
        string erf = _g.Op("Erf", [_g.Op("Div", [x, _g.Scalar((float)Math.Sqrt(2.0))])]);
        return Mul(Mul(x, Add(erf, _g.Scalar(1f))), _g.Scalar(0.5f));
    }

    /// <summary>x / max(‖x‖₂, ε) over the last axis (torch.nn.functional.normalize): ε = 1e-12, or 1e-7 in fp16 graphs (1e-12 is below fp16's range).</summary>
    private string L2Normalize(string x)
    {
        string norm = _g.Op("ReduceL2", [x], ("axes", new long[] { -1 }), ("keepdims", 1L));
        return _g.Op("Div", [x, _g.Op("Max", [norm, _g.Scalar(_options.Precision == Precision.Fp16 ? 1e-7f : 1e-12f)])]);
    }

    /// <summary>
    /// A stored weight under its own name and shape: an initializer, or a graph input when it is trainable (declared
    /// once however often it is used, so shared weights collect gradients from every use).
    /// </summary>
    private string W(string name)
    {
        var w = _w[name];
        if (_options.Trainable?.Contains(name) == true)
        {
            if (_declaredInputs.Add(name))
            {
                _g.Input(name, _g.ComputeType, w.Shape.Cast<object>().ToArray());
            }

            return name;
        }

        return _g.Weight(name, w.Data, w.Shape);
    }

    private void Begin(string name)
    {
        _g = new OnnxGraph(name, _options.Precision);
        _declaredInputs = new HashSet<string>(StringComparer.Ordinal);
    }

    private string ToCompute(string x) =>
        _g.ComputeType == OnnxGraph.Float ? x : _g.Op("Cast", [x], ("to", (long)_g.ComputeType));

    private string Add(string a, string b) => _g.Op("Add", [a, b]);

    private string Mul(string a, string b) => _g.Op("Mul", [a, b]);

    private string Reshape(string x, params long[] shape) => _g.Op("Reshape", [x, _g.Int64s(shape)]);

    private string Unsqueeze(string x, long axis) => _g.Op("Unsqueeze", [x, _g.Int64s(axis)]);

    private string Gather(string x, long index, long axis) => _g.Op("Gather", [x, _g.Int64Scalar(index)], ("axis", axis));

    private string SliceAxis(string x, long axis, long start, long end) =>
        _g.Op("Slice", [x, _g.Int64s(start), _g.Int64s(end), _g.Int64s(axis)]);

    private static VisionLayerNames VisionLayer(int i) => new($"vision_model.encoder.layers.{i}.");

    private ModelProto Finish(string name) => _g.ToModel(
        $"LiteVL {name} ({_c.Preset}, T={T}, S={_c.Vision.ImageSize}, cls_mode={_c.ClsMode}, tdp={_c.Tdp.Enabled}, tau={_c.Tdp.Tau}, {_options.Precision}, {_options.Attention} attention)",
        new Dictionary<string, string>
        {
            ["litevl.version"] = _c.Version,
            ["litevl.graph"] = name,
            ["litevl.precision"] = _options.Precision.ToString().ToLowerInvariant(),
            ["litevl.attention"] = _options.Attention.ToString().ToLowerInvariant(),
        });

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
}
