using LiteVL.Model.Weights;
using Onnx;

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
        Begin(QuestionEncoderName);
        string ids = _g.Input("input_ids", OnnxGraph.Int64, "questions", "length");
        string mask = _g.Input("attention_mask", OnnxGraph.Int64, "questions", "length");
        string v = ToCompute(_g.Input("video_tokens", OnnxGraph.Float, "questions", T, P, D));
        string q = ToCompute(_g.Input("text_embedding", OnnxGraph.Float, "questions", E));
        var pooled = TextDependentPooling(v, q, PoolingInput());
        string states = Bert(ids, mask, pooled.Memory, WeightSpec.QaEncoderPrefix);
        _g.Output(states, "question_states", OnnxGraph.Float, "questions", "length", _c.Text.HiddenSize);
        _g.Output(pooled.FrameWeights, "frame_weights", OnnxGraph.Float, "questions", T);
        return Finish(QuestionEncoderName);
    }

    /// <summary>
    /// <c>input_ids</c>, <c>attention_mask</c> int64 [K,La] (answers so far, [DEC] first), <c>question_states</c> [K,Lq,H],
    /// <c>question_mask</c> int64 [K,Lq] → <c>log_probs</c> [K,La,V]: log-softmax over the vocabulary of the next word
    /// piece after each position (float32 even in fp16 graphs).
    /// </summary>
    public ModelProto AnswerDecoder()
    {
        RequireQa();
        Begin(AnswerDecoderName);
        string ids = _g.Input("input_ids", OnnxGraph.Int64, "answers", "length");
        string mask = _g.Input("attention_mask", OnnxGraph.Int64, "answers", "length");
        string states = ToCompute(_g.Input("question_states", OnnxGraph.Float, "answers", "question_length", _c.Text.HiddenSize));
        string questionMask = _g.Input("question_mask", OnnxGraph.Int64, "answers", "question_length");
        string h = Bert(ids, mask, states, WeightSpec.QaDecoderPrefix, causal: true, memoryMask: questionMask);
        string logits = LmHead(h);
        _g.Output(_g.Op("LogSoftmax", [logits], ("axis", -1L)), "log_probs", OnnxGraph.Float, "answers", "length", _c.Text.VocabSize);
        return Finish(AnswerDecoderName);
    }

    /// <summary>
    /// BERT's LM head: dense → GELU → LayerNorm, then the word-embedding matrix (tied) plus a bias; [K,L,H] → float32
    /// logits [K,L,V]. The served form multiplies by the embedding table with Gemm(transB) so that the table is stored
    /// once. The logits leave in float32, so the log-softmax over the vocabulary runs in float32 in fp16 graphs too.
    /// </summary>
    private string LmHead(string h)
    {
        const string head = WeightSpec.QaLmHeadPrefix;
        string x = LayerNorm(Gelu(Linear(h, head + "transform.dense")), head + "transform.LayerNorm", _c.Text.LayerNormEps);
        string table = W(WeightSpec.QaDecoderPrefix + "embeddings.word_embeddings.weight");   // [V,H]
        string bias = W(head + "bias");
        if (TrainingForm)
        {
            return Add(_g.Op("MatMul", [x, _g.Op("Transpose", [table], ("perm", new long[] { 1, 0 }))]), bias);
        }

        string outShape = _g.Op("Concat", [SliceAxis(_g.Op("Shape", [x]), 0, 0, 2), _g.Int64s(_c.Text.VocabSize)], ("axis", 0L));
        string flat = Reshape(x, -1, _c.Text.HiddenSize);
        string logits = _g.Op("Gemm", [flat, table, bias], ("transB", 1L));
        string asFloat = _g.ComputeType == OnnxGraph.Float ? logits : _g.Op("Cast", [logits], ("to", (long)OnnxGraph.Float));
        return _g.Op("Reshape", [asFloat, outShape]);
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
