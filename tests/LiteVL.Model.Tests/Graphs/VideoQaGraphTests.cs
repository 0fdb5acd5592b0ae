using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Reference;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// The video QA graphs (question encoder, answer decoder) against the plain C# implementation on random tiny weights
/// with QA heads: max |Δ| ≤ 1e-4 in fp32, fused and plain attention; plus the decoder's causality and the weight layout.
/// </summary>
public sealed class VideoQaGraphTests(ITestOutputHelper output)
{
    private const double Fp32Tolerance = 1e-4;

    internal static ModelWeights TinyQa(int seed, bool tdp = true, bool shareWords = false) =>
        TestModels.Tiny(seed, c => c with { Qa = new QaConfig { ShareWordEmbeddings = shareWords }, Tdp = new TdpConfig { Enabled = tdp, Tau = 0.07 } });

    [Theory]
    [InlineData(true, AttentionKind.Fused, false)]
    [InlineData(true, AttentionKind.Plain, false)]
    [InlineData(false, AttentionKind.Fused, false)]
    [InlineData(true, AttentionKind.Fused, true)]
    public void QuestionEncoder_PaddedQuestions_MatchesReference(bool tdp, AttentionKind attention, bool shareWords)
    {
        var weights = TinyQa(51, tdp, shareWords);
        var c = weights.Config;
        const int k = 3;
        const int length = 10;
        var (ids, mask) = TestModels.RandomTokens(52, k, length, lengths: [10, 4, 7]);
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = 30523; // [ENC]
        }

        var (videoTokens, textEmbedding) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 53);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).QuestionEncoder());
        var outputs = runner.Run(
            ("input_ids", ids, [k, length]),
            ("attention_mask", mask, [k, length]),
            ("video_tokens", videoTokens, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", textEmbedding, [k, c.EmbedDim]));
        Assert.Equal([k, length, c.Text.HiddenSize], outputs["question_states"].Shape);
        var reference = new ReferenceLiteVL(weights);
        int h = c.Text.HiddenSize;
        for (int i = 0; i < k; i++)
        {
            var (states, frameWeights) = reference.QuestionStates(
                ids[(i * length)..((i + 1) * length)],
                mask[(i * length)..((i + 1) * length)],
                GraphFidelityTests.Unflatten(videoTokens, i, c),
                textEmbedding.AsSpan(i * c.EmbedDim, c.EmbedDim).ToArray().Select(f => (double)f).ToArray());
            double dS = Compare.MaxAbsDiff(outputs["question_states"].Data.AsSpan(i * length * h, length * h), Compare.Flatten(states));
            double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, i, c.NumFrames), frameWeights);
            output.WriteLine($"tdp={tdp} {attention} question {i}: max|Δ| states {dS:E2}, frame weights {dW:E2}");
            Assert.True(dS <= Fp32Tolerance, $"question_states differ by {dS}");
            Assert.True(dW <= Fp32Tolerance, $"frame_weights differ by {dW}");
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused, false)]
    [InlineData(AttentionKind.Plain, false)]
    [InlineData(AttentionKind.Fused, true)]
    public void AnswerDecoder_PaddedAnswersAndQuestions_MatchesReference(AttentionKind attention, bool shareWords)
    {
        var weights = TinyQa(54, shareWords: shareWords);
        var c = weights.Config;
        const int k = 3;
        const int length = 6;
        const int questionLength = 9;
        var inputs = DecoderInputs(c, k, length, questionLength, answerLengths: [6, 3, 4], questionLengths: [9, 5, 2], seed: 55);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).AnswerDecoder());
        var outputs = runner.Run(inputs.Feed(k, length, questionLength, c.Text.HiddenSize));
        var logProbs = outputs["log_probs"];
        var own = outputs["token_log_probs"];
        Assert.Equal([k, length], own.Shape);
        int v = c.Text.VocabSize;
        Assert.Equal([k, length, v], logProbs.Shape);
        var reference = new ReferenceLiteVL(weights);
        for (int i = 0; i < k; i++)
        {
            var expected = reference.AnswerLogProbs(
                inputs.Ids[(i * length)..((i + 1) * length)],
                inputs.Mask[(i * length)..((i + 1) * length)],
                Rows(inputs.States, i, questionLength, c.Text.HiddenSize),
                inputs.QuestionMask[(i * questionLength)..((i + 1) * questionLength)]);
            double d = Compare.MaxAbsDiff(logProbs.Data.AsSpan(i * length * v, length * v), Compare.Flatten(expected));
            var expectedOwn = Enumerable.Range(0, length).Select(p => p + 1 < length ? expected[p][inputs.Ids[(i * length) + p + 1]] : 0.0).ToList();
            double dOwn = Compare.MaxAbsDiff(own.Data.AsSpan(i * length, length), expectedOwn);
            output.WriteLine($"{attention} answer {i}: max|Δ| log_probs {d:E2}, token_log_probs {dOwn:E2}");
            Assert.True(d <= Fp32Tolerance, $"log_probs of answer {i} differ by {d}");
            Assert.True(dOwn <= Fp32Tolerance, $"token_log_probs of answer {i} differ by {dOwn}");
        }
    }

    [Fact]
    public void AnswerDecoder_LaterWordPieces_DoNotChangeEarlierPredictions()
    {
        // Causal self-attention: position i sees pieces 0..i only. Changing the last piece must leave every earlier
        // position's distribution alone and change the last one's (a full-attention decoder fails the first half).
        var weights = TinyQa(56);
        var c = weights.Config;
        const int length = 5;
        var inputs = DecoderInputs(c, 1, length, 4, answerLengths: [5], questionLengths: [4], seed: 57);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights).AnswerDecoder());
        var before = runner.Run(inputs.Feed(1, length, 4, c.Text.HiddenSize))["log_probs"].Data;
        inputs.Ids[length - 1] = inputs.Ids[length - 1] == 2000 ? 2001 : 2000;
        var after = runner.Run(inputs.Feed(1, length, 4, c.Text.HiddenSize))["log_probs"].Data;
        int v = c.Text.VocabSize;
        double earlier = Compare.MaxAbsDiff(before.AsSpan(0, (length - 1) * v), after.AsSpan(0, (length - 1) * v));
        double last = Compare.MaxAbsDiff(before.AsSpan((length - 1) * v, v), after.AsSpan((length - 1) * v, v));
        output.WriteLine($"max|Δ| at earlier positions {earlier:E2}, at the changed one {last:E2}");
        Assert.True(earlier <= 1e-6, $"earlier positions moved by {earlier}");
        Assert.True(last > 1e-3, $"the changed position moved by only {last}");
    }

    [Fact]
    public void AnswerDecoder_LogProbs_AreDistributionsOverTheVocabulary()
    {
        var weights = TinyQa(58);
        var c = weights.Config;
        var inputs = DecoderInputs(c, 2, 3, 4, answerLengths: [3, 2], questionLengths: [4, 3], seed: 59);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp16)).AnswerDecoder());
        var logProbs = runner.Run(inputs.Feed(2, 3, 4, c.Text.HiddenSize))["log_probs"].Data;
        int v = c.Text.VocabSize;
        for (int row = 0; row < 6; row++)
        {
            double total = 0;
            for (int id = 0; id < v; id++)
            {
                total += Math.Exp(logProbs[(row * v) + id]);
            }

            Assert.InRange(total, 0.999, 1.001);
        }
    }

    [Fact]
    public void QaWeights_FollowBlipVqaNames_AndRetrievalModelsHaveNone()
    {
        var plain = WeightSpec.For(Presets.Get(Presets.Tiny)).Select(e => e.Name).ToList();
        var withQa = WeightSpec.For(Presets.Get(Presets.Tiny) with { Qa = new QaConfig() }).ToDictionary(e => e.Name, e => e.Shape);
        Assert.DoesNotContain(plain, WeightSpec.IsQa);
        Assert.All(plain, n => Assert.True(withQa.ContainsKey(n), n));
        var c = Presets.Get(Presets.Tiny);
        long h = c.Text.HiddenSize, d = c.Vision.HiddenSize;
        Assert.Equal([h, d], withQa["qa.text_encoder.encoder.layer.0.crossattention.self.key.weight"]);
        Assert.Equal([h, h], withQa["qa.text_decoder.bert.encoder.layer.1.crossattention.self.value.weight"]);
        Assert.Equal([c.Text.VocabSize], withQa["qa.text_decoder.cls.predictions.bias"]);
        Assert.Equal([h, h], withQa["qa.text_decoder.cls.predictions.transform.dense.weight"]);
        Assert.False(withQa.ContainsKey("qa.text_decoder.cls.predictions.decoder.weight"), "the LM head is tied to the decoder's word embeddings");

        // A question encoder that shares the retrieval text encoder's word embeddings stores none and reads that table;
        // the decoder keeps its own (its output matrix).
        var shared = Presets.Get(Presets.Tiny) with { Qa = new QaConfig { ShareWordEmbeddings = true } };
        Assert.DoesNotContain(WeightSpec.For(shared), e => e.Name == "qa.text_encoder.embeddings.word_embeddings.weight");
        Assert.Contains(WeightSpec.For(shared), e => e.Name == "qa.text_decoder.bert.embeddings.word_embeddings.weight");
        Assert.Equal("text_encoder.embeddings.word_embeddings.weight", WeightSpec.WordEmbeddings(shared, WeightSpec.QaEncoderPrefix));
        Assert.Equal("qa.text_decoder.bert.embeddings.word_embeddings.weight", WeightSpec.WordEmbeddings(shared, WeightSpec.QaDecoderPrefix));
        Assert.Equal("qa.text_encoder.embeddings.word_embeddings.weight", WeightSpec.WordEmbeddings(Presets.Get(Presets.Tiny) with { Qa = new QaConfig() }, WeightSpec.QaEncoderPrefix));
    }

    [Fact]
    public void QaGraphs_OnAModelWithoutQaHeads_SayHowToAddThem()
    {
        var builder = new LiteVLGraphBuilder(TestModels.Tiny(60));
        var e = Assert.Throws<InvalidOperationException>(() => builder.AnswerDecoder());
        Assert.Contains("import-qa", e.Message, StringComparison.Ordinal);
    }

    internal sealed record DecoderFeed(long[] Ids, long[] Mask, float[] States, long[] QuestionMask)
    {
        public (string Name, object Data, long[] Shape)[] Feed(int k, int length, int questionLength, int hidden) =>
        [
            ("input_ids", Ids, [k, length]),
            ("attention_mask", Mask, [k, length]),
            ("question_states", States, [k, questionLength, hidden]),
            ("question_mask", QuestionMask, [k, questionLength]),
        ];
    }

    /// <summary>Right-padded answers ([DEC] first) and random question states with right-padded masks.</summary>
    internal static DecoderFeed DecoderInputs(ModelConfig c, int k, int length, int questionLength, int[] answerLengths, int[] questionLengths, int seed)
    {
        var (ids, mask) = TestModels.RandomTokens(seed, k, length, lengths: answerLengths);
        for (int i = 0; i < k; i++)
        {
            ids[i * length] = 30522; // [DEC]
        }

        var rng = new Random(seed + 1);
        var states = new float[k * questionLength * c.Text.HiddenSize];
        for (int i = 0; i < states.Length; i++)
        {
            states[i] = (float)((rng.NextDouble() * 4) - 2);
        }

        var questionMask = new long[k * questionLength];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < questionLengths[i]; j++)
            {
                questionMask[(i * questionLength) + j] = 1;
            }
        }

        return new DecoderFeed(ids, mask, states, questionMask);
    }

    private static double[][] Rows(float[] data, int item, int rows, int width) =>
        Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, width).Select(x => (double)data[(((item * rows) + r) * width) + x]).ToArray()).ToArray();
}
