using LiteVL.Model.Weights;
using Onnx;
using static LiteVL.Model.Graphs.Ops;

namespace LiteVL.Model.Graphs;

/// <summary>
/// Video question answering (docs/model.md, "Video QA"): BLIP's VQA model (salesforce <c>blip_vqa.py</c>, Hugging Face
/// <c>BlipForQuestionAnswering</c>) over LiteVL's video tokens. The question encoder is the video-grounded encoder with
/// text-dependent pooling, the question as the query; the answer decoder is a BERT LM head with causal self-attention
/// and cross-attention to the question encoder's states.
/// </summary>
public sealed partial class LiteVLGraphBuilder
{
    public const string QuestionEncoderName = "question_encoder";
    public const string AnswerDecoderName = "answer_decoder";

    /// <summary>
    /// <c>input_ids</c>, <c>attention_mask</c> int64 [K,Lq] (the question, [ENC] first), <c>video_tokens</c> [K,T,P,D],
    /// <c>text_embedding</c> [K,E] (the question's unimodal embedding: the pooling query), optional <c>pooling</c> int64 [1]
    /// → <c>question_states</c> [K,Lq,H], <c>frame_weights</c> [K,T].
    /// </summary>
    public ModelProto QuestionEncoder()
    {
        RequireQa();
        var g = NewGraph(QuestionEncoderName);
        var (ids, mask, pooled) = GroundedEncoderInputs(g, "questions");
        var states = Bert(ids, mask, pooled.Memory, WeightSpec.QaEncoderPrefix);
        g.Output(states, "question_states", OnnxGraph.Float, "questions", "length", _c.Text.HiddenSize);
        g.Output(pooled.FrameWeights, "frame_weights", OnnxGraph.Float, "questions", T);
        return Finish(g);
    }

    /// <summary>
    /// <c>input_ids</c>, <c>attention_mask</c> int64 [K,La] (answers so far, [DEC] first), <c>question_states</c> [K,Lq,H],
    /// <c>question_mask</c> int64 [K,Lq] → <c>log_probs</c> [K,La,V]: log-softmax over the vocabulary of the next word
    /// piece after each position (float32 even in fp16 graphs), and <c>token_log_probs</c> [K,La]: at position i the
    /// log-probability of the piece the input has at i + 1 (0 at the last position) — what ranking sums, without
    /// fetching the [K,La,V] tensor (≈ 60 MB for 128 candidates of 4 pieces).
    /// </summary>
    public ModelProto AnswerDecoder()
    {
        RequireQa();
        var g = NewGraph(AnswerDecoderName);
        var ids = g.Input("input_ids", OnnxGraph.Int64, "answers", "length");
        var mask = g.Input("attention_mask", OnnxGraph.Int64, "answers", "length");
        var states = ToCompute(g.Input("question_states", OnnxGraph.Float, "answers", "question_length", _c.Text.HiddenSize));
        var questionMask = g.Input("question_mask", OnnxGraph.Int64, "answers", "question_length");
        var h = Bert(ids, mask, states, WeightSpec.QaDecoderPrefix, causal: true, memoryMask: questionMask);
        var logProbs = LogSoftmax(LmHead(h), axis: -1);
        var length = SliceAxis(Shape(ids), 0, 1, 2);
        var next = Concat(1, Slice(ids, g.Int64s(1), length + g.Int64s(1), g.Int64s(1)), SliceAxis(ids, 1, 0, 1) * g.Int64s(0)); // ids[:,1:] ‖ 0
        var picked = GatherElements(logProbs, Unsqueeze(next, 2), axis: 2);                                                     // [K,La,1]
        var last = Unsqueeze(Cast(Less(Unsqueeze(Positions(length), 0), length - g.Int64s(1)), OnnxGraph.Float), 2);           // [1,La,1]: 1 but at the last position
        g.Output(logProbs, "log_probs", OnnxGraph.Float, "answers", "length", _c.Text.VocabSize);
        g.Output(Reshape(picked * last, 0, -1), "token_log_probs", OnnxGraph.Float, "answers", "length");
        return Finish(g);
    }

    /// <summary>
    /// BERT's LM head: dense → GELU → LayerNorm, then the word-embedding matrix (tied) plus a bias; [K,L,H] → float32
    /// logits [K,L,V]. The served form multiplies by the embedding table with Gemm(transB) so that the table is stored
    /// once. The logits leave in float32, so the log-softmax over the vocabulary runs in float32 in fp16 graphs too.
    /// </summary>
    private Value LmHead(Value h)
    {
        const string head = WeightSpec.QaLmHeadPrefix;
        var g = h.Graph;
        var x = TextNorm(Gelu(Linear(h, head + "transform.dense")), head + "transform.LayerNorm");
        var table = W(g, WeightSpec.WordEmbeddings(_c, WeightSpec.QaDecoderPrefix));   // [V,H]
        var bias = W(g, head + "bias");
        if (TrainingForm)
        {
            return MatMul(x, Transpose(table, 1, 0)) + bias;
        }

        var outShape = Concat(0, SliceAxis(Shape(x), 0, 0, 2), g.Int64s(_c.Text.VocabSize));
        var logits = Gemm(Reshape(x, -1, _c.Text.HiddenSize), table, bias, transB: true);
        return Reshape(g.ComputeType == OnnxGraph.Float ? logits : Cast(logits, OnnxGraph.Float), outShape);
    }

    public const string QaLossName = "qa_loss";

    /// <summary>Names of the QA loss graph's inputs and output.</summary>
    public static class QaLossIo
    {
        public const string VideoTokens = "video_tokens";
        public const string Frames = "frames";
        public const string TextEmbedding = "text_embedding";
        public const string QuestionIds = "question_ids";
        public const string QuestionMask = "question_mask";
        public const string AnswerIds = "answer_ids";
        public const string AnswerMask = "answer_mask";
        public const string Loss = "loss";
    }

    /// <summary>
    /// BLIP VQA's answer loss for a batch of (video tokens, question, answer), built in the training form: the question
    /// encoder over the TDP memory (pooling as the config says; the query is <c>text_embedding</c>, the question's
    /// unimodal embedding), the decoder over the answer with teacher forcing, then per answer the sum over its pieces after
    /// [DEC] ([SEP] included) of the label-smoothed cross-entropy (1 − ε)·(−log p[target]) + ε·(−mean_v log p[v]), ε =
    /// <see cref="Config.QaConfig.LabelSmoothing"/> (PyTorch's label_smoothing, as BLIP's BertLMHeadModel), and the mean over
    /// the batch (BLIP: <c>loss.sum() / batch</c> with every answer weight 1). Inputs <c>video_tokens</c> [B,T,P,D],
    /// <c>text_embedding</c> [B,E], <c>question_ids</c>/<c>question_mask</c> [B,Lq] ([ENC] first), <c>answer_ids</c>/
    /// <c>answer_mask</c> [B,La] ([DEC] first, right-padded); output <c>loss</c> [].
    /// </summary>
    /// <param name="fromFrames">
    /// Take <c>frames</c> uint8 [B,T,S,S,3] instead of <c>video_tokens</c> and run the video encoder in the graph, so that
    /// its weights can be trained by the answer loss too (<c>litevl train --task qa --params temporal</c>).
    /// </param>
    public ModelProto QaLoss(int batch, int questionLength, int answerLength, bool fromFrames = false)
    {
        var qa = _c.Qa ?? throw new InvalidOperationException("The QA loss needs a model with QA heads (a qa section in its config).");
        if (!TrainingForm || _options.Attention != AttentionKind.Plain)
        {
            throw new InvalidOperationException("The QA loss is a training graph: build it with GraphBuildOptions.Trainable set and plain attention.");
        }

        var g = NewGraph(QaLossName);
        int v = _c.Text.VocabSize;
        int size = _c.Vision.ImageSize;
        var tokens = fromFrames
            ? EncodeVideo(g.Input(QaLossIo.Frames, OnnxGraph.UInt8, batch, T, size, size, 3)).Tokens
            : g.Input(QaLossIo.VideoTokens, OnnxGraph.Float, batch, T, P, D);
        var query = g.Input(QaLossIo.TextEmbedding, OnnxGraph.Float, batch, E);
        var questionIds = g.Input(QaLossIo.QuestionIds, OnnxGraph.Int64, batch, questionLength);
        var questionMask = g.Input(QaLossIo.QuestionMask, OnnxGraph.Int64, batch, questionLength);
        var answerIds = g.Input(QaLossIo.AnswerIds, OnnxGraph.Int64, batch, answerLength);
        var answerMask = g.Input(QaLossIo.AnswerMask, OnnxGraph.Int64, batch, answerLength);

        var pooled = TextDependentPooling(tokens, query, g.Int64s(_c.Tdp.Enabled ? 1 : 0));
        var states = Bert(questionIds, questionMask, pooled.Memory, WeightSpec.QaEncoderPrefix);
        var h = Bert(answerIds, answerMask, states, WeightSpec.QaDecoderPrefix, causal: true, memoryMask: questionMask);
        var logProbs = SliceAxis(LogSoftmax(LmHead(h), axis: -1), 1, 0, answerLength - 1);             // [B,La−1,V]: predicts pieces 1..La−1
        var targets = SliceAxis(answerIds, 1, 1, answerLength);                                          // [B,La−1]
        var counted = Cast(SliceAxis(answerMask, 1, 1, answerLength), OnnxGraph.Float);                 // padding counts 0
        var oneHot = OneHot(targets, g.Int64s(v), g.Weight("one_hot_values", [0f, 1f], 2), axis: -1);
        var nll = -ReduceSum(oneHot * logProbs, keepDims: false, -1);
        var uniform = -ReduceMean(logProbs, keepDims: false, -1);
        float eps = (float)qa.LabelSmoothing;
        var perPiece = (nll * (1f - eps)) + (uniform * eps);
        var total = ReduceSum(perPiece * counted, keepDims: false, 0, 1);
        g.Output(total * (1f / batch), QaLossIo.Loss, OnnxGraph.Float);
        return Finish(g);
    }

    private void RequireQa()
    {
        if (_c.Qa is null)
        {
            throw new InvalidOperationException(
                $"This '{_c.Preset}' model has no video QA heads (config.json has no \"qa\" section): add them with 'litevl model init --qa' or 'litevl model import-qa'.");
        }
    }
}
