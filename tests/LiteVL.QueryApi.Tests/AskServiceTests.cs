using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Model.Runtime;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using LiteVL.Search;

namespace LiteVL.QueryApi.Tests;

/// <summary><c>POST /v1/videos/{id}/ask</c> on the tiny model with random QA heads, checked against <see cref="VideoQa"/> run directly.</summary>
public sealed class AskServiceTests(ITestOutputHelper output)
{
    private const string Question = "what colour is the car";
    private static readonly string[] Candidates = ["red", "blue", "green", "a dog", "nothing at all"];
    private static readonly string[] Red = ["red"];
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Rank_OverHttp_ReturnsOneOfTheCandidates_WithVideoQasProbability_AndEvidenceInTheSegment()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true, http: true);
        var id = await rig.AddVideoAsync("acme", "one segment", [(rig.RandomTokens(1), rig.RandomUnitVector(1))]);

        using var response = await rig.Client("acme").PostAsJsonAsync($"/v1/videos/{id}/ask", new { question = Question, answers = Candidates });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<AskResponse>(Json))!;

        var expected = new VideoQa(rig.Model).Rank([new QaQuery(Question, await rig.StoredTokensAsync(id, 0))], Candidates)[0];
        output.WriteLine($"answer {answer.Answer} p={answer.Score:E3}; VideoQa {expected.Best.Answer} p={expected.Best.Probability:E3}");
        Assert.Contains(answer.Answer, Candidates);
        Assert.Equal(expected.Best.Answer, answer.Answer);
        Assert.Equal(expected.Best.Probability, answer.Score, 1e-6);
        Assert.InRange(answer.Score, double.Epsilon, 1);
        Assert.Equal(expected.Ranked.Skip(1).Select(c => c.Answer), answer.Alternatives.Select(a => a.Answer));
        Assert.True(answer.Alternatives.All(a => a.Score <= answer.Score), "alternatives must not beat the answer");
        Assert.Equal("rank", answer.Mode);
        Assert.Equal(rig.Config.Version, answer.ModelVersion);
        Assert.Equal(new AskSegment(0, 0, 10), answer.Segment);
        double frameTime = (expected.EvidenceFrame + 0.5) * 10 / rig.Config.NumFrames; // the rig's frame times
        Assert.Equal(frameTime, answer.EvidenceTime!.Value, 9);
        Assert.Empty(answer.Warnings!);

        // A question past the model's 35 tokens is answered from its beginning, and the response says so.
        string longQuestion = Question + string.Concat(Enumerable.Repeat(" and what colour is the other car", 8));
        using var cut = await rig.Client("acme").PostAsJsonAsync($"/v1/videos/{id}/ask", new { question = longQuestion, answers = Candidates });
        Assert.Equal(HttpStatusCode.OK, cut.StatusCode);
        var cutAnswer = (await cut.Content.ReadFromJsonAsync<AskResponse>(Json))!;
        Assert.Contains(cutAnswer.Warnings!, w => w.Contains("longer than the model's 35 tokens", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Generate_WithoutAnswers_IsTheDefault_AndWritesVideoQasText()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true, http: true);
        var id = await rig.AddVideoAsync("acme", "one segment", [(rig.RandomTokens(2), rig.RandomUnitVector(2))]);

        using var response = await rig.Client("acme").PostAsJsonAsync($"/v1/videos/{id}/ask", new { question = Question });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<AskResponse>(Json))!;

        var expected = new VideoQa(rig.Model).Generate([new QaQuery(Question, await rig.StoredTokensAsync(id, 0))])[0];
        output.WriteLine($"generated \"{answer.Answer}\" p={answer.Score:E3}");
        Assert.Equal("generate", answer.Mode);
        Assert.False(string.IsNullOrWhiteSpace(answer.Answer));
        Assert.Equal(expected.Best.Answer, answer.Answer);
        Assert.Equal(expected.Best.Probability, answer.Score, 1e-6);
    }

    [Fact]
    public async Task AnotherTenantsVideo_OrAnUnknownOne_IsNotFound_AndAVideoNotIndexedIsAConflict()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true, http: true);
        var theirs = await rig.AddVideoAsync("other", "theirs", [(rig.RandomTokens(3), rig.RandomUnitVector(3))]);
        var body = new { question = Question, answers = Candidates };

        foreach (string id in new[] { theirs.ToString(), Guid.NewGuid().ToString(), "not-a-guid" })
        {
            var (status, detail) = await PostAsync(rig, "acme", id, body);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Contains("There is no video", detail, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(rig, "other", theirs.ToString(), body)).Status);

        await using (var scope = rig.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().Videos.Where(v => v.Id == theirs)
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.State, VideoState.Encoding));
        }

        var (conflict, why) = await PostAsync(rig, "other", theirs.ToString(), body);
        Assert.Equal(HttpStatusCode.Conflict, conflict);
        Assert.Contains("The video is Encoding", why, StringComparison.Ordinal);
        Assert.Contains($"Indexed with the current model {rig.Config.Version}", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadQuestions_AreRefusedWith400AndAMessage()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true, http: true);
        var id = (await rig.AddVideoAsync("acme", "v", [(rig.RandomTokens(4), rig.RandomUnitVector(4))])).ToString();
        var cases = new (object Body, string Message)[]
        {
            (new { question = "" }, "The question is empty"),
            (new { question = "  \t " }, "The question is empty"),
            (new { question = "?!? ... ;;; ###" }, "no words once punctuation is removed"),
            (new { question = new string('x', 501) }, "501 characters; the limit is 500"),
            (new { question = Question, answers = Enumerable.Range(0, 257).Select(i => $"answer {i}").ToArray() }, "257 candidate answers were given; the limit is 256"),
            (new { question = Question, answers = new[] { "red", "  " } }, "Candidate answer 2 is empty"),
            (new { question = Question, answers = new[] { "red" }, mode = "explain" }, "mode must be \"rank\" or \"generate\", not \"explain\""),
            (new { question = Question, mode = "rank" }, "mode \"rank\" needs candidate answers"),
        };
        foreach (var (body, message) in cases)
        {
            var (status, detail) = await PostAsync(rig, "acme", id, body);
            output.WriteLine($"{status}: {detail}");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Contains(message, detail, StringComparison.Ordinal);
        }

        // The same request, well formed, is answered: the refusals above come from what was wrong in each.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(rig, "acme", id, new { question = Question, answers = Red, mode = "rank" })).Status);
    }

    [Fact]
    public async Task ModelWithoutQaHeads_IsAConflict_ThatSaysHowToAddThem()
    {
        await using var rig = await SearchRig.CreateAsync(qa: false, http: true);
        var id = await rig.AddVideoAsync("acme", "v", [(rig.RandomTokens(5), rig.RandomUnitVector(5))]);
        var (status, detail) = await PostAsync(rig, "acme", id.ToString(), new { question = Question, answers = Candidates });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("has no video QA heads", detail, StringComparison.Ordinal);
        Assert.Contains("litevl model import-qa --checkpoint", detail, StringComparison.Ordinal);
        Assert.Contains("litevl model init --preset tiny --qa", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LongVideo_AsksTheBestMatchingSegments_AndReportsTheOneThatAnswered()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true);
        const int segments = 5;
        var tokens = Enumerable.Range(0, segments).Select(s => rig.RandomTokens(100 + s)).ToArray();
        var qa = new VideoQa(rig.Model);

        // Which segment would win if every segment were asked: it is given the lowest cosine, so only an answer taken from
        // the best-matching three (not from all five, nor from the first three) is right.
        var probe = await rig.AddVideoAsync("acme", "probe", [.. tokens.Select((t, s) => (t, rig.RandomUnitVector(s)))]);
        var stored = new List<QaQuery>();
        for (int s = 0; s < segments; s++)
        {
            stored.Add(new QaQuery(Question, await rig.StoredTokensAsync(probe, s)));
        }

        var all = qa.Rank(stored, Candidates);
        int overall = Enumerable.Range(0, segments).MaxBy(s => all[s].Best.Probability);
        var order = Enumerable.Range(0, segments).Where(s => s != overall).Reverse().Append(overall).ToArray(); // best match first
        var cosines = new double[segments];
        for (int rank = 0; rank < segments; rank++)
        {
            cosines[order[rank]] = 0.9 - (0.2 * rank);
        }

        var q = rig.Model.EncodeTexts([Question]);
        var id = await rig.AddVideoAsync("acme", "long", [.. tokens.Select((t, s) => (t, AtCosine(q, rig.RandomUnitVector(50 + s), cosines[s])))]);
        var asked = order.Take(3).ToArray();
        int expected = asked.MaxBy(s => all[s].Best.Probability);
        output.WriteLine($"probabilities {string.Join(", ", all.Select(r => r.Best.Probability.ToString("E3", System.Globalization.CultureInfo.InvariantCulture)))}; overall best {overall}; asked {string.Join(",", asked)}; expected {expected}");

        var answer = await rig.AskAsync("acme", id, new AskRequest(Question, Candidates));
        Assert.NotEqual(overall, answer.Segment.Index);
        Assert.Equal(expected, answer.Segment.Index);
        Assert.Equal(new AskSegment(expected, expected * 10, (expected * 10) + 10), answer.Segment);
        Assert.Equal(all[expected].Best.Answer, answer.Answer);
        Assert.Equal(all[expected].Best.Probability, answer.Score, 1e-6);
        Assert.InRange(answer.EvidenceTime!.Value, answer.Segment.Start, answer.Segment.End);
        Assert.Equal((expected * 10) + ((all[expected].EvidenceFrame + 0.5) * 10 / rig.Config.NumFrames), answer.EvidenceTime!.Value, 9);
    }

    [Fact]
    public async Task LongVideo_WithoutPointsInTheIndex_IsScoredByTheReranker()
    {
        await using var rig = await SearchRig.CreateAsync(qa: true, settings: new Dictionary<string, string?> { ["LiteVL:Ask:SegmentsToAsk"] = "2" });
        const int segments = 4;
        var id = await rig.AddVideoAsync("acme", "long", [.. Enumerable.Range(0, segments).Select(s => (rig.RandomTokens(200 + s), rig.RandomUnitVector(200 + s)))]);
        Assert.Equal(segments, await rig.Index.DeleteVideoAsync(rig.Config.Version, id));

        var stored = new float[segments][];
        for (int s = 0; s < segments; s++)
        {
            stored[s] = await rig.StoredTokensAsync(id, s);
        }

        var reranked = rig.Model.Rerank(Question, [.. stored.SelectMany(t => t)], segments, rig.Model.EncodeTexts([Question]));
        var asked = Enumerable.Range(0, segments).OrderByDescending(reranked.MatchLogit).Take(2).ToArray();
        var results = new VideoQa(rig.Model).Generate([.. asked.Select(s => new QaQuery(Question, stored[s]))]);
        int best = results[1].Best.Probability > results[0].Best.Probability ? 1 : 0;
        output.WriteLine($"asked {string.Join(",", asked)}; expected segment {asked[best]} \"{results[best].Best.Answer}\"");

        var answer = await rig.AskAsync("acme", id, new AskRequest(Question, Mode: "generate"));
        Assert.Equal(asked[best], answer.Segment.Index);
        Assert.Equal(results[best].Best.Answer, answer.Answer);
        Assert.Equal(results[best].Best.Probability, answer.Score, 1e-6);
    }

    private static async Task<(HttpStatusCode Status, string Detail)> PostAsync(SearchRig rig, string tenant, string id, object body)
    {
        using var response = await rig.Client(tenant).PostAsJsonAsync($"/v1/videos/{id}/ask", body);
        string content = await response.Content.ReadAsStringAsync();
        if (response.IsSuccessStatusCode)
        {
            return (response.StatusCode, content);
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(content);
        return (response.StatusCode, problem.RootElement.GetProperty("detail").GetString()!);
    }

    /// <summary>A unit vector at cosine <paramref name="cosine"/> from <paramref name="q"/>, tilted towards <paramref name="direction"/>.</summary>
    private static float[] AtCosine(float[] q, float[] direction, double cosine)
    {
        double dot = q.Zip(direction).Sum(p => (double)p.First * p.Second);
        var u = direction.Select((d, i) => d - (dot * q[i])).ToArray();
        double norm = Math.Sqrt(u.Sum(x => x * x));
        double sine = Math.Sqrt(1 - (cosine * cosine));
        return q.Select((x, i) => (float)((cosine * x) + (sine * u[i] / norm))).ToArray();
    }
}
