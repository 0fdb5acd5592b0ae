using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Tests.Reference;
using LiteVL.Model.Text;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Runtime;

/// <summary>A tiny model directory with video QA heads (random weights, std 0.08 so that answers are far from ties).</summary>
public sealed class TinyQaModelFixture : IDisposable
{
    public TinyQaModelFixture()
    {
        ModelDir = Path.Combine(Path.GetTempPath(), "litevl-qa-tests-" + Guid.NewGuid().ToString("N"));
        var config = Presets.Get(Presets.Tiny) with { Qa = new QaConfig { MaxAnswerLength = 6 } };
        Weights = ModelWeights.Random(config, seed: 61, kernelStd: 0.08f);
        ModelDirectory.Write(Weights, ModelDir);
        Model = LiteVLModel.Open(ModelDir);
        Weights = ModelWeights.Load(Model.Config, Path.Combine(ModelDir, ModelWeights.FileName));
    }

    public string ModelDir { get; }

    public ModelWeights Weights { get; }

    public LiteVLModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(ModelDir, recursive: true);
    }
}

/// <summary>
/// <see cref="VideoQa"/>'s ranking and generation against the same procedures written out on the plain C# reference
/// model (first-token top-k then full log-likelihood; greedy decoding), on a real model directory.
/// </summary>
public sealed class VideoQaTests(TinyQaModelFixture fixture, ITestOutputHelper output) : IClassFixture<TinyQaModelFixture>
{
    private static readonly string[] Candidates = ["red", "blue square", "left", "it grows", "a green circle", "yes"];

    [Theory]
    [InlineData(6)]
    [InlineData(3)]
    public void Rank_MatchesTheReferenceProcedure_FirstTokenTopKThenFullLikelihood(int k)
    {
        var qa = new VideoQa(fixture.Model);
        var queries = Queries(2);
        var results = qa.Rank(queries, Candidates, k);
        var reference = new ReferenceLiteVL(fixture.Weights);
        for (int i = 0; i < queries.Length; i++)
        {
            var (states, qMask, _) = ReferenceQuestion(reference, queries[i]);
            var firstToken = reference.AnswerLogProbs([BlipTokenizer.DecId], [1], states, qMask)[0];
            var answers = Candidates.Select(qa.TokenizeAnswer).ToArray();
            var topK = Enumerable.Range(0, Candidates.Length).OrderByDescending(c => firstToken[answers[c][1]]).ThenBy(c => c).Take(k).ToList();
            var expected = topK
                .Select(c => (Answer: Candidates[c], Ll: LogLikelihood(reference, answers[c], states, qMask)))
                .OrderByDescending(x => x.Ll)
                .ToList();
            output.WriteLine($"question {i}, k={k}: {string.Join(", ", results[i].Ranked.Select(r => $"{r.Answer} {r.LogLikelihood:F3}"))}");
            Assert.Equal(expected.Select(x => x.Answer), results[i].Ranked.Select(r => r.Answer));
            for (int r = 0; r < k; r++)
            {
                Assert.Equal(expected[r].Ll, results[i].Ranked[r].LogLikelihood, 1e-3);
                Assert.Equal(Math.Exp(expected[r].Ll), results[i].Ranked[r].Probability, 1e-6);
            }
        }
    }

    [Fact]
    public void Generate_OneBeam_IsGreedyDecodingOfTheReference()
    {
        var qa = new VideoQa(fixture.Model);
        var queries = Queries(2);
        var results = qa.Generate(queries, beams: 1);
        var reference = new ReferenceLiteVL(fixture.Weights);
        int maxPieces = fixture.Model.Config.Qa!.MaxAnswerLength;
        for (int i = 0; i < queries.Length; i++)
        {
            var (states, qMask, _) = ReferenceQuestion(reference, queries[i]);
            var ids = new List<long> { BlipTokenizer.DecId };
            double ll = 0;
            for (int step = 1; step <= maxPieces; step++)
            {
                var lp = reference.AnswerLogProbs([.. ids], [.. ids.Select(_ => 1L)], states, qMask)[^1];
                int best = Enumerable.Range(0, lp.Length)
                    .Where(id => id is not (BlipTokenizer.PadId or BlipTokenizer.ClsId or BlipTokenizer.DecId or BlipTokenizer.EncId) && (step > 1 || id != BlipTokenizer.SepId))
                    .MaxBy(id => lp[id]);
                ids.Add(best);
                ll += lp[best];
                if (best == BlipTokenizer.SepId)
                {
                    break;
                }
            }

            string text = fixture.Model.Tokenizer.Decode(ids);
            output.WriteLine($"question {i}: greedy '{text}' ({ids.Count - 1} pieces, log-likelihood {ll:F3}); generated '{results[i].Best.Answer}' {results[i].Best.LogLikelihood:F3}");
            Assert.Single(results[i].Ranked);
            Assert.Equal(text, results[i].Best.Answer);
            Assert.Equal(ll, results[i].Best.LogLikelihood, 1e-3);
        }
    }

    [Fact]
    public void Generate_ThreeBeams_RanksDistinctAnswersByLengthNormalisedLikelihood_AndNeverWorseThanGreedyAtTheFirstPiece()
    {
        var qa = new VideoQa(fixture.Model);
        var queries = Queries(1);
        var beams = qa.Generate(queries, beams: 3)[0];
        var greedy = qa.Generate(queries, beams: 1)[0].Best;
        output.WriteLine(string.Join(" | ", beams.Ranked.Select(r => $"'{r.Answer}' {r.LogLikelihood:F3}")) + $" ; greedy '{greedy.Answer}' {greedy.LogLikelihood:F3}");
        Assert.InRange(beams.Ranked.Count, 1, 3);
        Assert.Equal(beams.Ranked.Count, beams.Ranked.Select(r => r.Answer).Distinct().Count());
        Assert.All(beams.Ranked, r => Assert.False(string.IsNullOrWhiteSpace(r.Answer)));
        Assert.Equal(fixture.Model.Config.NumFrames, beams.FrameWeights.Length);
        Assert.Equal(1.0, beams.FrameWeights.Sum(), 1e-4);
    }

    [Fact]
    public void EvidenceFrame_IsTheFrameWithTheLargestPoolingWeight_AsTheReferenceComputesIt()
    {
        var qa = new VideoQa(fixture.Model);
        var query = Queries(1)[0];
        var result = qa.Rank([query], Candidates, 2)[0];
        var (_, _, frameWeights) = ReferenceQuestion(new ReferenceLiteVL(fixture.Weights), query);
        int expected = Array.IndexOf(frameWeights, frameWeights.Max());
        Assert.Equal(expected, result.EvidenceFrame);
    }

    [Fact]
    public void Bad_input_gets_a_message_that_says_what_is_wrong()
    {
        var qa = new VideoQa(fixture.Model);
        var query = Queries(1)[0];
        Assert.Contains("at least one candidate", Assert.Throws<ModelInputException>(() => qa.Rank([query], [], 3)).Message, StringComparison.Ordinal);
        Assert.Contains("expected T×(1+N)×D", Assert.Throws<ModelInputException>(() => qa.Rank([query with { VideoTokens = new float[5] }], Candidates, 3)).Message, StringComparison.Ordinal);
        Assert.Contains("at least one beam", Assert.Throws<ModelInputException>(() => qa.Generate([query], beams: 0)).Message, StringComparison.Ordinal);
    }

    private QaQuery[] Queries(int count)
    {
        var c = fixture.Model.Config;
        var (tokens, _) = GraphFidelityTests.RandomRerankInputs(c, count, seed: 62);
        int per = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        string[] questions = ["what colour is the shape?", "which way does it move?", "does it grow or shrink?"];
        return [.. Enumerable.Range(0, count).Select(i => new QaQuery(questions[i % questions.Length], tokens.AsSpan(i * per, per).ToArray()))];
    }

    private (double[][] States, long[] Mask, double[] FrameWeights) ReferenceQuestion(ReferenceLiteVL reference, QaQuery query)
    {
        var model = fixture.Model;
        var c = model.Config;
        var tokens = model.Tokenizer.Encode([query.Question], grounded: true);
        double[] q = model.EncodeTexts([query.Question]).Select(f => (double)f).ToArray();
        var (states, frameWeights) = reference.QuestionStates(tokens.InputIds, tokens.AttentionMask, GraphFidelityTests.Unflatten(query.VideoTokens, 0, c), q);
        return (states, tokens.AttentionMask, frameWeights);
    }

    private static double LogLikelihood(ReferenceLiteVL reference, long[] answer, double[][] states, long[] qMask)
    {
        var lp = reference.AnswerLogProbs(answer, [.. answer.Select(_ => 1L)], states, qMask);
        return Enumerable.Range(1, answer.Length - 1).Sum(i => lp[i - 1][answer[i]]);
    }
}
