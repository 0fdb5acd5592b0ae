using LiteVL.Model.Text;
using Onnx;
using static LiteVL.Model.Graphs.Ops;

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

        var g = NewGraph(RetrievalLossName);
        int s = _c.Vision.ImageSize;
        int length = BlipTokenizer.DefaultMaxLength;
        var frames = g.Input(LossIo.Frames, OnnxGraph.UInt8, batch, T, s, s, 3);
        var ids = g.Input(LossIo.InputIds, OnnxGraph.Int64, batch, length);
        var mask = g.Input(LossIo.AttentionMask, OnnxGraph.Int64, batch, length);
        var itmIds = g.Input(LossIo.ItmInputIds, OnnxGraph.Int64, batch, length);
        var targets = g.Input(LossIo.ItcTargets, g.ComputeType, batch, batch);
        var negativeMask = g.Input(LossIo.NegativeMask, g.ComputeType, batch, batch);
        var uniforms = g.Input(LossIo.NegativeUniforms, g.ComputeType, 2, batch);
        var temp = g.Input(LossIo.Temperature, g.ComputeType, 1);

        var (tokens, videoEmbedding) = EncodeVideo(frames);                                          // [B,T,P,D], [B,E]
        var textEmbedding = L2Normalize(Linear(Gather(Bert(ids, mask, memory: null), 0, axis: 1), "text_proj")); // [B,E]

        // ITC, both directions.
        var simI2T = MatMul(videoEmbedding, Transpose(textEmbedding, 1, 0)) / temp;
        var simT2I = Transpose(simI2T, 1, 0);
        var lossItc = (CrossEntropy(simI2T, targets) + CrossEntropy(simT2I, targets)) * 0.5f;

        // Hard negatives: a video for every caption (from t2i) and a caption for every video (from i2t).
        var negativeVideo = SampleRows(Softmax(simT2I, axis: 1), negativeMask, SliceAxis(uniforms, 0, 0, 1), batch);
        var negativeText = SampleRows(Softmax(simI2T, axis: 1), negativeMask, SliceAxis(uniforms, 0, 1, 2), batch);
        var self = g.Int64s(Enumerable.Range(0, batch).Select(i => (long)i).ToArray());
        var pairVideo = Concat(0, self, negativeVideo, self);                                        // [3B]
        var pairText = Concat(0, self, self, negativeText);                                          // [3B]

        var pairTokens = Gather(tokens, pairVideo, axis: 0);                                         // [3B,T,P,D]
        var pairQuery = Gather(textEmbedding, pairText, axis: 0);                                    // [3B,E]
        var pairIds = Gather(itmIds, pairText, axis: 0);
        var pairMask = Gather(mask, pairText, axis: 0);
        var memory = TextDependentPooling(pairTokens, pairQuery, g.Int64s(_c.Tdp.Enabled ? 1 : 0)).Memory;
        var itm = Linear(Gather(Bert(pairIds, pairMask, memory), 0, axis: 1), "itm_head");         // [3B,2]

        var labels = new float[3 * batch * 2];
        for (int i = 0; i < 3 * batch; i++)
        {
            labels[(2 * i) + (i < batch ? 1 : 0)] = 1f;                                              // index 1 = match
        }

        var lossItm = CrossEntropy(itm, g.Weight("itm_labels", labels, 3 * batch, 2));
        g.Output(lossItc + lossItm, LossIo.Loss, OnnxGraph.Float);
        g.Output(lossItc, LossIo.LossItc, OnnxGraph.Float);
        g.Output(lossItm, LossIo.LossItm, OnnxGraph.Float);
        return Finish(g);
    }

    /// <summary>Mean over rows of −Σ_j targets[i,j] · log_softmax(logits)[i,j]; a scalar.</summary>
    private static Value CrossEntropy(Value logits, Value targets) =>
        -ReduceMean(ReduceSum(LogSoftmax(logits, axis: 1) * targets, keepDims: false, 1), keepDims: false, 0);

    /// <summary>
    /// One index per row drawn from weights ∝ <paramref name="probabilities"/> ⊙ <paramref name="allowed"/> (a tiny floor
    /// keeps a row whose softmax underflowed drawable): the first j with cdf[j] ≥ u·cdf[B−1]. Integer-valued, so no
    /// gradient flows through the draw.
    /// </summary>
    private static Value SampleRows(Value probabilities, Value allowed, Value uniformRow, int batch)
    {
        var g = probabilities.Graph;
        var weights = (probabilities + 1e-12f) * allowed;                                        // [B,B]
        var cdf = CumSum(weights, g.Int64Scalar(1));
        var total = SliceAxis(cdf, 1, batch - 1, batch);                                         // [B,1]
        var threshold = total * Transpose(uniformRow, 1, 0);                                     // [B,1]
        var below = Cast(Less(cdf, threshold), OnnxGraph.Int64);
        var index = ReduceSum(below, keepDims: false, 1);                                        // [B]
        return Min(index, g.Int64s(batch - 1));
    }
}
