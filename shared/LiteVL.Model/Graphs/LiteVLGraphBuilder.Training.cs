using LiteVL.Model.Text;
using Onnx;

namespace LiteVL.Model.Graphs;

/// <summary>The retrieval fine-tuning loss (BLIP's <c>blip_retrieval.py</c>, without momentum encoder or queue).</summary>
public sealed partial class LiteVLGraphBuilder
{
    public const string RetrievalLossName = "retrieval_loss";

    /// <summary>Names of the loss graph's batch inputs and outputs.</summary>
    public static class LossIo
    {
        public const string Frames = "frames";
        public const string InputIds = "input_ids";
        public const string AttentionMask = "attention_mask";
        public const string ItmInputIds = "itm_input_ids";
        public const string ItcTargets = "itc_targets";
        public const string NegativeMask = "negative_mask";
        public const string NegativeUniforms = "negative_uniforms";
        public const string Temperature = "temp";
        public const string Loss = "loss";
        public const string LossItc = "loss_itc";
        public const string LossItm = "loss_itm";
    }

    /// <summary>
    /// The loss of one micro-batch of <paramref name="batch"/> (video, caption) examples, built in the training form
    /// (<see cref="GraphBuildOptions.Trainable"/> names the graph inputs that are trained):
    /// <list type="bullet">
    /// <item>ITC: s = v·tᵀ / temp between the l2-normalised video and text embeddings; cross-entropy of both directions
    /// against <c>itc_targets</c> [B,B] (the same-video matrix, each row normalised to sum 1, so captions of the same
    /// video are all positives); loss_itc = (i2t + t2i) / 2. <c>temp</c> [1] is an input (BLIP's learnable
    /// temperature; the optimiser clamps it to [0.001, 0.5]).</item>
    /// <item>ITM: for every example one hard negative video for its caption and one hard negative caption for its video,
    /// drawn with probability ∝ softmax(s) over the examples of other videos (<c>negative_mask</c> [B,B] = 1 where the
    /// videos differ) by inverse-CDF sampling with the uniforms <c>negative_uniforms</c> [2,B] in (0,1), so a run is
    /// reproducible from the trainer's seed. The 3B pairs (B positives, 2B negatives) go through text-dependent pooling
    /// and the grounded encoder exactly as served (first token [ENC]: <c>itm_input_ids</c>); cross-entropy of the ITM
    /// head against match for the positives and no-match for the negatives. The draw carries no gradient, as under
    /// BLIP's <c>torch.no_grad()</c>.</item>
    /// </list>
    /// Outputs <c>loss</c> = loss_itc + loss_itm, <c>loss_itc</c>, <c>loss_itm</c>.
    /// </summary>
    public ModelProto RetrievalLoss(int batch)
    {
        if (!TrainingForm)
        {
            throw new InvalidOperationException("The retrieval loss is a training graph: build it with GraphBuildOptions.Trainable set.");
        }

        if (_options.Attention != AttentionKind.Plain)
        {
            throw new InvalidOperationException("Training graphs use plain attention (the fused kernels have no gradient).");
        }

        Begin(RetrievalLossName);
        int s = _c.Vision.ImageSize;
        int length = BlipTokenizer.DefaultMaxLength;
        string frames = _g.Input(LossIo.Frames, OnnxGraph.UInt8, batch, T, s, s, 3);
        string ids = _g.Input(LossIo.InputIds, OnnxGraph.Int64, batch, length);
        string mask = _g.Input(LossIo.AttentionMask, OnnxGraph.Int64, batch, length);
        string itmIds = _g.Input(LossIo.ItmInputIds, OnnxGraph.Int64, batch, length);
        string targets = _g.Input(LossIo.ItcTargets, _g.ComputeType, batch, batch);
        string negativeMask = _g.Input(LossIo.NegativeMask, _g.ComputeType, batch, batch);
        string uniforms = _g.Input(LossIo.NegativeUniforms, _g.ComputeType, 2, batch);
        string temp = _g.Input(LossIo.Temperature, _g.ComputeType, 1);

        var (tokens, videoEmbedding) = EncodeVideo(frames);                                       // [B,T,P,D], [B,E]
        string textEmbedding = L2Normalize(Linear(Gather(Bert(ids, mask, memory: null), 0, axis: 1), "text_proj")); // [B,E]

        // ITC, both directions.
        string simI2T = _g.Op("Div", [_g.Op("MatMul", [videoEmbedding, _g.Op("Transpose", [textEmbedding], ("perm", new long[] { 1, 0 }))]), temp]);
        string simT2I = _g.Op("Transpose", [simI2T], ("perm", new long[] { 1, 0 }));
        string lossItc = Mul(Add(CrossEntropy(simI2T, targets), CrossEntropy(simT2I, targets)), _g.Scalar(0.5f));

        // Hard negatives: a video for every caption (from t2i) and a caption for every video (from i2t).
        string negativeVideo = SampleRows(_g.Op("Softmax", [simT2I], ("axis", 1L)), negativeMask, SliceAxis(uniforms, 0, 0, 1), batch);
        string negativeText = SampleRows(_g.Op("Softmax", [simI2T], ("axis", 1L)), negativeMask, SliceAxis(uniforms, 0, 1, 2), batch);
        string self = _g.Int64s(Enumerable.Range(0, batch).Select(i => (long)i).ToArray());
        string pairVideo = _g.Op("Concat", [self, negativeVideo, self], ("axis", 0L));               // [3B]
        string pairText = _g.Op("Concat", [self, self, negativeText], ("axis", 0L));                 // [3B]

        string pairTokens = _g.Op("Gather", [tokens, pairVideo], ("axis", 0L));                     // [3B,T,P,D]
        string pairQuery = _g.Op("Gather", [textEmbedding, pairText], ("axis", 0L));                // [3B,E]
        string pairIds = _g.Op("Gather", [itmIds, pairText], ("axis", 0L));
        string pairMask = _g.Op("Gather", [mask, pairText], ("axis", 0L));
        string memory = TextDependentPooling(pairTokens, pairQuery, _g.Int64s(_c.Tdp.Enabled ? 1 : 0)).Memory;
        string itm = Linear(Gather(Bert(pairIds, pairMask, memory), 0, axis: 1), "itm_head");      // [3B,2]

        var labels = new float[3 * batch * 2];
        for (int i = 0; i < 3 * batch; i++)
        {
            labels[(2 * i) + (i < batch ? 1 : 0)] = 1f;                                              // index 1 = match
        }

        string lossItm = CrossEntropy(itm, _g.Weight("itm_labels", labels, 3 * batch, 2));
        string loss = Add(lossItc, lossItm);
        _g.Output(loss, LossIo.Loss, OnnxGraph.Float);
        _g.Output(lossItc, LossIo.LossItc, OnnxGraph.Float);
        _g.Output(lossItm, LossIo.LossItm, OnnxGraph.Float);
        return Finish(RetrievalLossName);
    }

    /// <summary>Mean over rows of −Σ_j targets[i,j] · log_softmax(logits)[i,j]; a scalar.</summary>
    private string CrossEntropy(string logits, string targets)
    {
        string perRow = _g.Op("ReduceSum", [Mul(_g.Op("LogSoftmax", [logits], ("axis", 1L)), targets), _g.Int64s(1)], ("keepdims", 0L));
        return _g.Op("Neg", [_g.Op("ReduceMean", [perRow], ("axes", new long[] { 0 }), ("keepdims", 0L))]);
    }

    /// <summary>
    /// One index per row drawn from weights ∝ <paramref name="probabilities"/> ⊙ <paramref name="allowed"/> (a tiny floor
    /// keeps a row whose softmax underflowed drawable): the first j with cdf[j] ≥ u·cdf[B−1]. Integer-valued, so no
    /// gradient flows through the draw.
    /// </summary>
    private string SampleRows(string probabilities, string allowed, string uniformRow, int batch)
    {
        string weights = Mul(Add(probabilities, _g.Scalar(1e-12f)), allowed);                    // [B,B]
        string cdf = _g.Op("CumSum", [weights, _g.Int64Scalar(1)]);
        string total = SliceAxis(cdf, 1, batch - 1, batch);                                      // [B,1]
        string threshold = Mul(total, _g.Op("Transpose", [uniformRow], ("perm", new long[] { 1, 0 }))); // [B,1]
        string below = _g.Op("Cast", [_g.Op("Less", [cdf, threshold])], ("to", (long)OnnxGraph.Int64));
        string index = _g.Op("ReduceSum", [below, _g.Int64s(1)], ("keepdims", 0L));              // [B]
        return _g.Op("Min", [index, _g.Int64s(batch - 1)]);
    }
}
