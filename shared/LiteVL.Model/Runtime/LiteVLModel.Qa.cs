using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Runtime;

/// <summary>The question encoder's output for <see cref="Questions"/> questions: states [Q,L,H] with their mask [Q,L], frame weights [Q,T].</summary>
public sealed record QuestionEncoding(int Questions, int Length, float[] States, long[] Mask, float[] FrameWeights);

/// <summary>The two video QA graphs, one call each; <see cref="VideoQa"/> builds ranking and generation on them.</summary>
public sealed partial class LiteVLModel
{
    /// <summary>
    /// Runs the question encoder: <paramref name="questions"/>[i] about the video whose tokens [T,P,D] are row i of
    /// <paramref name="videoTokens"/> ([Q,T,P,D]). Each question is tokenized for the grounded encoder ([ENC] first) and
    /// pooled with its own unimodal embedding as the query.
    /// </summary>
    public QuestionEncoding EncodeQuestions(IReadOnlyList<string> questions, float[] videoTokens, PoolingMode? pooling = null)
    {
        RequireQa();
        var mode = pooling ?? Config.DefaultPooling;
        int count = questions.Count;
        var v = Config.Vision;
        long perVideo = (long)Config.NumFrames * v.TokensPerFrame * v.HiddenSize;
        if (count == 0 || videoTokens.LongLength != count * perVideo)
        {
            throw new ModelInputException(
                $"{LiteVLGraphBuilder.QuestionEncoderName}: video_tokens has {videoTokens.LongLength} values, expected questions×T×(1+N)×D = {count}×{Config.NumFrames}×{v.TokensPerFrame}×{v.HiddenSize} = {count * perVideo}.");
        }

        float[] queries = EncodeTexts(questions);
        var tokens = Tokenizer.Encode(questions, grounded: true);
        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromInt64(tokens.InputIds, count, tokens.Length),
            ["attention_mask"] = HostTensor.FromInt64(tokens.AttentionMask, count, tokens.Length),
            ["video_tokens"] = HostTensor.FromFloats(videoTokens, count, Config.NumFrames, v.TokensPerFrame, v.HiddenSize),
            ["text_embedding"] = HostTensor.FromFloats(queries, count, Config.EmbedDim),
        };
        if (QuestionEncoder.HasInput(LiteVLGraphBuilder.PoolingInputName))
        {
            inputs[LiteVLGraphBuilder.PoolingInputName] = HostTensor.FromInt64([mode == PoolingMode.Tdp ? 1 : 0], 1);
        }

        var outputs = QuestionEncoder.Run(inputs);
        return new QuestionEncoding(count, tokens.Length, outputs["question_states"].AsSpan<float>().ToArray(), tokens.AttentionMask, outputs["frame_weights"].AsSpan<float>().ToArray());
    }

    /// <summary>
    /// Runs the answer decoder on <paramref name="rows"/> answer prefixes [rows,length] ([DEC] first), row r attending to
    /// question <paramref name="questionOf"/>[r] of <paramref name="questions"/>. Returns the log-probabilities
    /// [rows,length,V] of the next piece after each position, or with <paramref name="ownPiecesOnly"/> only those of the
    /// pieces the rows hold, [rows,length] (position i: piece i + 1; 0 at the last), which is all that scoring needs.
    /// </summary>
    public float[] DecodeAnswers(QuestionEncoding questions, IReadOnlyList<int> questionOf, long[] ids, long[] mask, int rows, int length, bool ownPiecesOnly = false)
    {
        RequireQa();
        int h = Config.Text.HiddenSize;
        int lq = questions.Length;
        if (questionOf.Count != rows || ids.Length != rows * length || mask.Length != rows * length)
        {
            throw new ModelInputException($"{LiteVLGraphBuilder.AnswerDecoderName}: {rows} rows of length {length} need {rows * length} ids and mask values and {rows} question indices.");
        }

        var states = new float[(long)rows * lq * h];
        var questionMask = new long[rows * lq];
        for (int r = 0; r < rows; r++)
        {
            int q = questionOf[r];
            questions.States.AsSpan(q * lq * h, lq * h).CopyTo(states.AsSpan(r * lq * h));
            questions.Mask.AsSpan(q * lq, lq).CopyTo(questionMask.AsSpan(r * lq));
        }

        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromInt64(ids, rows, length),
            ["attention_mask"] = HostTensor.FromInt64(mask, rows, length),
            ["question_states"] = HostTensor.FromFloats(states, rows, lq, h),
            ["question_mask"] = HostTensor.FromInt64(questionMask, rows, lq),
        };
        string output = ownPiecesOnly ? TokenLogProbsOutput : LogProbsOutput;
        if (!AnswerDecoder.OutputNames.Contains(output))
        {
            throw new ModelInputException($"{LiteVLGraphBuilder.AnswerDecoderName} in {Directory} has no '{output}' output (built by an earlier version): rebuild it with 'litevl model build --model {Directory}'.");
        }

        return AnswerDecoder.Run(inputs, [output])[output].AsSpan<float>().ToArray();
    }

    private const string LogProbsOutput = "log_probs";
    private const string TokenLogProbsOutput = "token_log_probs";

    internal static IReadOnlyList<InputSpec> QuestionEncoderInputs(ModelConfig c) =>
    [
        new("input_ids", TensorDType.Int64, [-1, -1], ["questions", "length"]),
        new("attention_mask", TensorDType.Int64, [-1, -1], ["questions", "length"]),
        new("video_tokens", TensorDType.Float32, [-1, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize], ["questions", "T", "1+N", "D"]),
        new("text_embedding", TensorDType.Float32, [-1, c.EmbedDim], ["questions", "embed_dim"]),
        new(LiteVLGraphBuilder.PoolingInputName, TensorDType.Int64, [1], ["pooling"], Optional: true),
    ];

    internal static IReadOnlyList<InputSpec> AnswerDecoderInputs(ModelConfig c) =>
    [
        new("input_ids", TensorDType.Int64, [-1, -1], ["answers", "length"]),
        new("attention_mask", TensorDType.Int64, [-1, -1], ["answers", "length"]),
        new("question_states", TensorDType.Float32, [-1, -1, c.Text.HiddenSize], ["answers", "question_length", "H"]),
        new("question_mask", TensorDType.Int64, [-1, -1], ["answers", "question_length"]),
    ];

    /// <summary>The QA settings, or the error that says how to add QA heads.</summary>
    internal QaConfig RequireQa() => Config.Qa ?? throw new ModelInputException(
        $"The model in {Directory} has no video QA heads (its config.json has no \"qa\" section). Add them with 'litevl model import-qa' (a BLIP VQA checkpoint) or 'litevl train --task qa'.");
}
