using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Graphs;

/// <summary>
/// Batching is only a speed-up: every item of a batch (any size, any position, any padding) gives what it gives alone.
/// A reshape that mixes the batch with T or P, a mask broadcast over the wrong axis, or pooling across candidates fails here.
/// </summary>
public sealed class BatchInvarianceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    private const int Enc = 30523; // [ENC], the reranker's first token

    [Theory]
    [InlineData(AttentionKind.Fused, ClsMode.PerFrame)]
    [InlineData(AttentionKind.Plain, ClsMode.PerFrame)]
    [InlineData(AttentionKind.Fused, ClsMode.Shared)]
    public void VideoEncoder_Batches1To4_EachItemEqualsItAlone(AttentionKind attention, ClsMode mode)
    {
        var weights = TestModels.Tiny(seed: 51, c => c with { ClsMode = mode });
        var c = weights.Config;
        int s = c.Vision.ImageSize;
        int perVideo = c.NumFrames * s * s * 3;
        int tokenSize = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        var videos = Enumerable.Range(0, 4).Select(i => TestModels.RandomFrames(60 + i, perVideo)).ToArray();
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).VideoEncoder());
        var alone = videos.Select(v => runner.Run(("frames", v, [1, c.NumFrames, s, s, 3]))).ToArray();

        for (int batch = 1; batch <= 4; batch++)
        {
            // Reversed order, so a video sits at a different position in every batch size.
            int[] order = Enumerable.Range(0, batch).Reverse().ToArray();
            var frames = order.SelectMany(i => videos[i]).ToArray();
            var outputs = runner.Run(("frames", frames, [batch, c.NumFrames, s, s, 3]));
            Assert.Equal([batch, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize], outputs["video_tokens"].Shape);
            Assert.Equal([batch, c.EmbedDim], outputs["video_embedding"].Shape);
            for (int b = 0; b < batch; b++)
            {
                var single = alone[order[b]];
                double dTokens = Compare.MaxAbsDiff(Compare.Slice(outputs["video_tokens"].Data, b, tokenSize), single["video_tokens"].Data);
                double dEmb = Compare.MaxAbsDiff(Compare.Slice(outputs["video_embedding"].Data, b, c.EmbedDim), single["video_embedding"].Data);
                output.WriteLine($"{attention} {mode} B={batch} item {b} (video {order[b]}): max|Δ| tokens {dTokens:E2}, embedding {dEmb:E2}");
                Assert.True(dTokens <= Tolerance, $"B={batch}, item {b}: video_tokens differ from the video alone by {dTokens}");
                Assert.True(dEmb <= Tolerance, $"B={batch}, item {b}: video_embedding differs from the video alone by {dEmb}");
            }
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused)]
    [InlineData(AttentionKind.Plain)]
    public void TextEncoder_Batches1To4WithPadding_EachItemEqualsItAloneUnpadded(AttentionKind attention)
    {
        var weights = TestModels.Tiny(seed: 52);
        var c = weights.Config;
        int[] lengths = [4, 17, 9, 2];
        var texts = lengths.Select((len, i) => TestModels.RandomTokens(70 + i, 1, len).Ids).ToArray();
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).TextEncoder());
        var alone = texts.Select(ids => runner.Run(("input_ids", ids, [1, ids.Length]), ("attention_mask", Ones(ids.Length), [1, ids.Length]))["text_embedding"].Data).ToArray();

        for (int batch = 1; batch <= 4; batch++)
        {
            int[] order = Enumerable.Range(0, batch).Reverse().ToArray();
            int length = order.Max(i => lengths[i]) + 3; // every item padded, the longest too
            var ids = new long[batch * length];
            var mask = new long[batch * length];
            for (int b = 0; b < batch; b++)
            {
                texts[order[b]].CopyTo(ids, b * length);
                Array.Fill(mask, 1, b * length, lengths[order[b]]);
            }

            var outputs = runner.Run(("input_ids", ids, [batch, length]), ("attention_mask", mask, [batch, length]));
            Assert.Equal([batch, c.EmbedDim], outputs["text_embedding"].Shape);
            for (int b = 0; b < batch; b++)
            {
                double d = Compare.MaxAbsDiff(Compare.Slice(outputs["text_embedding"].Data, b, c.EmbedDim), alone[order[b]]);
                output.WriteLine($"{attention} B={batch} L={length} item {b} (length {lengths[order[b]]}): max|Δ| {d:E2}");
                Assert.True(d <= Tolerance, $"B={batch}, item {b}: text_embedding differs from the text alone by {d}");
            }
        }
    }

    [Theory]
    [InlineData(AttentionKind.Fused, true)]
    [InlineData(AttentionKind.Plain, true)]
    [InlineData(AttentionKind.Fused, false)]
    public void Reranker_Candidates1To5_EachCandidateEqualsItAlone(AttentionKind attention, bool tdp)
    {
        var weights = TestModels.Tiny(seed: 53, c => c with { Tdp = c.Tdp with { Enabled = tdp } });
        var c = weights.Config;
        int tokenSize = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        int[] lengths = [7, 12, 3, 10, 5];
        var texts = lengths.Select((len, i) => TestModels.RandomTokens(80 + i, 1, len).Ids).ToArray();
        foreach (var t in texts)
        {
            t[0] = Enc;
        }

        var (videoTokens, textEmbeddings) = GraphFidelityTests.RandomRerankInputs(c, 5, seed: 54);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention, attention)).Reranker());
        var alone = Enumerable.Range(0, 5).Select(i => runner.Run(
            ("input_ids", texts[i], [1, lengths[i]]),
            ("attention_mask", Ones(lengths[i]), [1, lengths[i]]),
            ("video_tokens", Compare.Slice(videoTokens, i, tokenSize).ToArray(), [1, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", Compare.Slice(textEmbeddings, i, c.EmbedDim).ToArray(), [1, c.EmbedDim]))).ToArray();

        for (int k = 1; k <= 5; k++)
        {
            int[] order = Enumerable.Range(0, k).Reverse().ToArray();
            int length = order.Max(i => lengths[i]) + 2;
            var ids = new long[k * length];
            var mask = new long[k * length];
            var v = new float[k * tokenSize];
            var q = new float[k * c.EmbedDim];
            for (int j = 0; j < k; j++)
            {
                int i = order[j];
                texts[i].CopyTo(ids, j * length);
                Array.Fill(mask, 1, j * length, lengths[i]);
                Compare.Slice(videoTokens, i, tokenSize).CopyTo(v.AsSpan(j * tokenSize));
                Compare.Slice(textEmbeddings, i, c.EmbedDim).CopyTo(q.AsSpan(j * c.EmbedDim));
            }

            var outputs = runner.Run(
                ("input_ids", ids, [k, length]),
                ("attention_mask", mask, [k, length]),
                ("video_tokens", v, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
                ("text_embedding", q, [k, c.EmbedDim]));
            Assert.Equal([k, 2], outputs["itm_logits"].Shape);
            Assert.Equal([k, c.NumFrames], outputs["frame_weights"].Shape);
            for (int j = 0; j < k; j++)
            {
                var single = alone[order[j]];
                double dItm = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, j, 2), single["itm_logits"].Data);
                double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, j, c.NumFrames), single["frame_weights"].Data);
                output.WriteLine($"{attention} tdp={tdp} K={k} candidate {j} (item {order[j]}): max|Δ| itm {dItm:E2}, frame weights {dW:E2}");
                Assert.True(dItm <= Tolerance, $"K={k}, candidate {j}: itm_logits differ from the candidate alone by {dItm}");
                Assert.True(dW <= Tolerance, $"K={k}, candidate {j}: frame_weights differ from the candidate alone by {dW}");
            }
        }
    }

    [Fact]
    public void Reranker_CandidatesDiffer_OutputsDiffer()
    {
        // Guards the invariance tests above against a graph that ignores its inputs: distinct candidates score differently.
        var weights = TestModels.Tiny(seed: 55);
        var c = weights.Config;
        const int k = 2;
        var (ids, mask) = TestModels.RandomTokens(90, k, 8);
        ids[0] = ids[8] = Enc;
        var (v, q) = GraphFidelityTests.RandomRerankInputs(c, k, seed: 56);
        using var runner = new GraphRunner(new LiteVLGraphBuilder(weights).Reranker());
        var outputs = runner.Run(
            ("input_ids", ids, [k, 8]),
            ("attention_mask", mask, [k, 8]),
            ("video_tokens", v, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
            ("text_embedding", q, [k, c.EmbedDim]));
        double dItm = Compare.MaxAbsDiff(Compare.Slice(outputs["itm_logits"].Data, 0, 2), Compare.Slice(outputs["itm_logits"].Data, 1, 2));
        double dW = Compare.MaxAbsDiff(Compare.Slice(outputs["frame_weights"].Data, 0, c.NumFrames), Compare.Slice(outputs["frame_weights"].Data, 1, c.NumFrames));
        output.WriteLine($"between two candidates: max|Δ| itm {dItm:E2}, frame weights {dW:E2}");
        Assert.True(dItm > 1000 * Tolerance, $"two different candidates got ITM logits only {dItm} apart");
        Assert.True(dW > 1000 * Tolerance, $"two different candidates got frame weights only {dW} apart");
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();
}
