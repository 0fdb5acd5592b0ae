using LiteVL.Model.Config;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using LiteVL.Search;

namespace LiteVL.QueryApi.Tests;

public sealed class SearchServiceTests(ITestOutputHelper output)
{
    private const string Query = "a dog catches a frisbee in the park";

    [Fact]
    public async Task Rerank_DisagreeingWithCoarseScores_ChangesTheOrder()
    {
        await using var rig = await SearchRig.CreateAsync();
        var q = rig.Model.EncodeTexts([Query]);
        var tokensA = rig.RandomTokens(1);
        var tokensB = rig.RandomTokens(2);
        var logits = rig.Model.Rerank(Query, [.. tokensA, .. tokensB], 2, q);
        double gap = Math.Abs(logits.MatchLogit(0) - logits.MatchLogit(1));
        Assert.True(gap > 1e-4, "the two token sets must score differently");

        // Constructed, not by luck: the video the re-ranker prefers gets the LOWER coarse score, by half the logit gap.
        var (preferred, other) = logits.MatchLogit(0) > logits.MatchLogit(1) ? (tokensA, tokensB) : (tokensB, tokensA);
        var otherVector = q;
        var preferredVector = Tilt(q, rig.RandomUnitVector(9), 1 - (gap / 2));
        var preferredId = await rig.AddVideoAsync("acme", "preferred by the re-ranker", [(preferred, preferredVector)]);
        var otherId = await rig.AddVideoAsync("acme", "preferred by the coarse search", [(other, otherVector)]);

        var coarse = await rig.SearchAsync("acme", new SearchRequest(Query, Rerank: false));
        var reranked = await rig.SearchAsync("acme", new SearchRequest(Query, Rerank: true));
        output.WriteLine($"logit gap {gap:F5}; coarse order {string.Join(", ", coarse.Hits.Select(h => h.Title))}; re-ranked {string.Join(", ", reranked.Hits.Select(h => h.Title))}");
        Assert.Equal([otherId, preferredId], coarse.Hits.Select(h => h.VideoId));
        Assert.Equal([preferredId, otherId], reranked.Hits.Select(h => h.VideoId));
        Assert.False(coarse.Reranked);
        Assert.True(reranked.Reranked);
        var top = reranked.Hits[0].Segments[0];
        Assert.Equal(top.MatchLogit!.Value + top.CoarseScore, top.Score, 5);
        Assert.Null(coarse.Hits[0].Segments[0].MatchLogit);
    }

    [Fact]
    public async Task A_model_that_says_not_to_rerank_by_default_serves_the_coarse_ranking_unless_the_request_asks()
    {
        await using var rig = await SearchRig.CreateAsync(configure: c => c with { RerankByDefault = false });
        var q = rig.Model.EncodeTexts([Query]);
        await rig.AddVideoAsync("acme", "one", [(rig.RandomTokens(1), q)]);

        var byDefault = await rig.SearchAsync("acme", new SearchRequest(Query));
        var asked = await rig.SearchAsync("acme", new SearchRequest(Query, Rerank: true));
        Assert.False(byDefault.Reranked);
        Assert.Null(byDefault.Hits[0].Segments[0].MatchLogit);
        Assert.True(asked.Reranked);
        Assert.NotNull(asked.Hits[0].Segments[0].MatchLogit);

        // A model that does not say re-ranks by default.
        await using var plain = await SearchRig.CreateAsync();
        await plain.AddVideoAsync("acme", "one", [(plain.RandomTokens(1), plain.Model.EncodeTexts([Query]))]);
        Assert.Null(plain.Config.RerankByDefault);
        Assert.True((await plain.SearchAsync("acme", new SearchRequest(Query))).Reranked);
    }

    [Fact]
    public async Task Rerank_KCandidatesAtOnce_ScoresEqualOneAtATime_AndEvidenceLiesInTheSegment()
    {
        await using var rig = await SearchRig.CreateAsync();
        for (int v = 0; v < 4; v++)
        {
            await rig.AddVideoAsync("acme", $"video {v}", [.. Enumerable.Range(0, 3).Select(s => (rig.RandomTokens((v * 10) + s), rig.RandomUnitVector((v * 10) + s + 100)))]);
        }

        var response = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 12));
        var q = rig.Model.EncodeTexts([Query]);
        int checkedSegments = 0;
        await using var scope = rig.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        var features = scope.ServiceProvider.GetRequiredService<LiteVL.Storage.Blobs.FeatureStore>();
        foreach (var hit in response.Hits)
        {
            foreach (var segment in hit.Segments)
            {
                var tokens = new float[rig.TokensPerSegment];
                var key = await db.Segments.Where(s => s.VideoId == hit.VideoId && s.Index == segment.Index).Select(s => s.TokensKey!).SingleAsync();
                await features.ReadAsync(key, tokens, rig.Config.NumFrames, rig.Config.Vision.TokensPerFrame, rig.Config.Vision.HiddenSize);
                double alone = rig.Model.Rerank(Query, tokens, 1, q).MatchLogit(0);
                Assert.Equal(alone, segment.MatchLogit!.Value, 4);
                Assert.InRange(segment.EvidenceTime!.Value, segment.Start, segment.End);
                checkedSegments++;
            }
        }

        Assert.Equal(12, checkedSegments);
        Assert.Equal(4, response.Hits.Count);
        Assert.True(response.Hits.Zip(response.Hits.Skip(1)).All(p => p.First.Score >= p.Second.Score), "hits must be ordered by score");
        Assert.True(response.Timings.TotalMs >= response.Timings.RerankMs);
    }

    [Fact]
    public async Task CoarseSearch_NamesTheSameEvidenceFrameAsTheReranker_WithoutAMatchLogit()
    {
        await using var rig = await SearchRig.CreateAsync();
        for (int v = 0; v < 4; v++)
        {
            await rig.AddVideoAsync("acme", $"video {v}", [.. Enumerable.Range(0, 3).Select(s => (rig.RandomTokens((v * 10) + s), rig.RandomUnitVector((v * 10) + s + 100)))]);
        }

        var coarse = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 12, Rerank: false));
        var reranked = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 12, Rerank: true));
        var rerankedEvidence = reranked.Hits.SelectMany(h => h.Segments.Select(s => ((h.VideoId, s.Index), s.EvidenceTime))).ToDictionary();
        var shown = coarse.Hits.SelectMany(h => h.Segments.Select(s => (h.VideoId, Segment: s))).ToList();
        Assert.Equal(12, shown.Count);
        var times = shown.Select(x => x.Segment.EvidenceTime!.Value).ToList();
        output.WriteLine($"coarse evidence times: {string.Join(", ", times.Select(t => t.ToString("F2")))}");
        Assert.True(times.Distinct().Count() > 1, "random segments should not all have their evidence at one time");
        foreach (var (videoId, segment) in shown)
        {
            Assert.Null(segment.MatchLogit);
            Assert.InRange(segment.EvidenceTime!.Value, segment.Start, segment.End);
            Assert.Equal(rerankedEvidence[(videoId, segment.Index)], segment.EvidenceTime);
        }

        // A segment whose tokens vanished since the database was asked keeps its hit, without evidence, and says so.
        var (goneVideo, goneSegment) = shown[0];
        rig.Services.GetRequiredService<LiteVL.Storage.Blobs.IBlobStore>().Delete(LiteVL.Storage.Blobs.BlobKeys.Tokens(goneVideo, rig.Config.Version, goneSegment.Index));
        var after = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 12, Rerank: false));
        var segments = after.Hits.SelectMany(h => h.Segments.Select(s => (h.VideoId, Segment: s))).ToList();
        Assert.Equal(12, segments.Count);
        Assert.Null(segments.Single(x => x.VideoId == goneVideo && x.Segment.Index == goneSegment.Index).Segment.EvidenceTime);
        Assert.Equal(11, segments.Count(x => x.Segment.EvidenceTime is not null));
        Assert.Contains(after.Warnings, w => w.Contains("1 segment(s) have no evidence frame", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pooling_ChosenPerSearch_NoneIsBlipsZeroShotProtocol_DefaultIsTheModels()
    {
        await using var rig = await SearchRig.CreateAsync();
        for (int v = 0; v < 3; v++)
        {
            await rig.AddVideoAsync("acme", $"video {v}", [(rig.RandomTokens(200 + v), rig.RandomUnitVector(300 + v))]);
        }

        var q = rig.Model.EncodeTexts([Query]);
        var byDefault = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 3));
        var none = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 3, Pooling: PoolingMode.None));
        var tdp = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Candidates: 3, Pooling: PoolingMode.Tdp));
        var coarse = await rig.SearchAsync("acme", new SearchRequest(Query, Limit: 10, Rerank: false, Pooling: PoolingMode.None));
        Assert.Equal(PoolingMode.Tdp, rig.Config.DefaultPooling);
        Assert.Equal(PoolingMode.Tdp, byDefault.Pooling);
        Assert.Equal(PoolingMode.None, none.Pooling);
        Assert.Equal(PoolingMode.Tdp, tdp.Pooling);
        Assert.Null(coarse.Pooling);

        await using var scope = rig.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        var features = scope.ServiceProvider.GetRequiredService<LiteVL.Storage.Blobs.FeatureStore>();
        double largestDifference = 0;
        foreach (var hit in none.Hits)
        {
            var tokens = new float[rig.TokensPerSegment];
            var key = await db.Segments.Where(s => s.VideoId == hit.VideoId && s.Index == 0).Select(s => s.TokensKey!).SingleAsync();
            await features.ReadAsync(key, tokens, rig.Config.NumFrames, rig.Config.Vision.TokensPerFrame, rig.Config.Vision.HiddenSize);
            double withoutPooling = rig.Model.Rerank(Query, tokens, 1, q, PoolingMode.None).MatchLogit(0);
            double withPooling = rig.Model.Rerank(Query, tokens, 1, q, PoolingMode.Tdp).MatchLogit(0);
            Assert.Equal(withoutPooling, hit.Segments[0].MatchLogit!.Value, 4);
            Assert.Equal(withPooling, tdp.Hits.Single(h => h.VideoId == hit.VideoId).Segments[0].MatchLogit!.Value, 4);
            Assert.Equal(withPooling, byDefault.Hits.Single(h => h.VideoId == hit.VideoId).Segments[0].MatchLogit!.Value, 4);
            largestDifference = Math.Max(largestDifference, Math.Abs(withPooling - withoutPooling));
        }

        // The tiny model's weights (std 0.02) make the 25 pooled tokens a small share of the memory: measured 1.2e-4, above
        // the 4-decimal agreement asserted above, so the two protocols are told apart.
        output.WriteLine($"largest |logit(TDP) - logit(none)|: {largestDifference:E2}");
        Assert.True(largestDifference > 5e-5, $"TDP on and off scored alike (largest difference {largestDifference})");
    }

    [Fact]
    public void SearchRequest_PoolingField_ReadsTdpAndNone_AndResponseWritesIt()
    {
        var json = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
        Assert.Equal(PoolingMode.None, System.Text.Json.JsonSerializer.Deserialize<SearchRequest>("""{"query":"a cat","pooling":"none"}""", json)!.Pooling);
        Assert.Equal(PoolingMode.Tdp, System.Text.Json.JsonSerializer.Deserialize<SearchRequest>("""{"query":"a cat","pooling":"tdp"}""", json)!.Pooling);
        Assert.Null(System.Text.Json.JsonSerializer.Deserialize<SearchRequest>("""{"query":"a cat"}""", json)!.Pooling);
        var response = new SearchResponse("q", "v", true, [], [], new SearchTimings(0, 0, 0, 0, 0), PoolingMode.None);
        Assert.Contains("\"pooling\":\"none\"", System.Text.Json.JsonSerializer.Serialize(response, json), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_NeverReturnsAnotherTenantsVideo_WhateverTheFilter()
    {
        await using var rig = await SearchRig.CreateAsync();
        var q = rig.Model.EncodeTexts([Query]);
        var mine = await rig.AddVideoAsync("acme", "mine", [(rig.RandomTokens(1), rig.RandomUnitVector(1))], ["shared-tag"]);
        var theirs = await rig.AddVideoAsync("other", "theirs", [(rig.RandomTokens(2), q)], ["shared-tag"]);
        foreach (var filter in new SearchFilter?[] { null, new(Tags: ["shared-tag"]), new(VideoIds: [theirs]), new(VideoIds: [theirs, mine]) })
        {
            var response = await rig.SearchAsync("acme", new SearchRequest(Query, Filter: filter));
            Assert.DoesNotContain(response.Hits, h => h.VideoId == theirs);
        }

        Assert.Equal([theirs], (await rig.SearchAsync("other", new SearchRequest(Query))).Hits.Select(h => h.VideoId));
    }

    [Fact]
    public async Task Cache_NeverServesTokensOfADeletedOrReEncodedVideo()
    {
        await using var rig = await SearchRig.CreateAsync();
        var id = await rig.AddVideoAsync("acme", "changing", [(rig.RandomTokens(1), rig.RandomUnitVector(1))]);
        var first = (await rig.SearchAsync("acme", new SearchRequest(Query))).Hits.Single().Segments[0].MatchLogit!.Value;
        Assert.Equal(first, (await rig.SearchAsync("acme", new SearchRequest(Query))).Hits.Single().Segments[0].MatchLogit!.Value, 6); // served from the cache

        // Re-encoded: new tokens under the same key, and the video's state changed as re-indexing does.
        var c = rig.Config;
        await rig.Services.GetRequiredService<LiteVL.Storage.Blobs.FeatureStore>().WriteAsync(
            LiteVL.Storage.Blobs.BlobKeys.Tokens(id, c.Version, 0), rig.RandomTokens(2), c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize);
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            await db.Videos.Where(v => v.Id == id).ExecuteUpdateAsync(s => s.SetProperty(v => v.StateChangedAt, DateTime.UtcNow.AddSeconds(1)));
        }

        var q = rig.Model.EncodeTexts([Query]);
        double expected = rig.Model.Rerank(Query, rig.RandomTokens(2), 1, q).MatchLogit(0);
        double second = (await rig.SearchAsync("acme", new SearchRequest(Query))).Hits.Single().Segments[0].MatchLogit!.Value;
        Assert.NotEqual(first, second, 6);
        Assert.Equal(expected, second, 4);

        // Deleted (row gone, points and cached tokens still there): never returned.
        await using (var scope = rig.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().Videos.Where(v => v.Id == id).ExecuteDeleteAsync();
        }

        Assert.Empty((await rig.SearchAsync("acme", new SearchRequest(Query))).Hits);
    }

    [Fact]
    public async Task Search_32Concurrent_AllAnsweredLikeOneAtATime()
    {
        await using var rig = await SearchRig.CreateAsync();
        for (int v = 0; v < 6; v++)
        {
            await rig.AddVideoAsync("acme", $"video {v}", [(rig.RandomTokens(v), rig.RandomUnitVector(v + 50)), (rig.RandomTokens(v + 20), rig.RandomUnitVector(v + 70))]);
        }

        string[] queries = [.. Enumerable.Range(0, 8).Select(i => $"query number {i} about a {(i % 2 == 0 ? "cat" : "car")} at night")];
        var expected = new Dictionary<string, SearchResponse>();
        foreach (string query in queries)
        {
            expected[query] = await rig.SearchAsync("acme", new SearchRequest(query, Candidates: 8));
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () => (queries[i % queries.Length], await rig.SearchAsync("acme", new SearchRequest(queries[i % queries.Length], Candidates: 8))))));
        foreach (var (query, response) in results)
        {
            var want = expected[query];
            Assert.Equal(want.Hits.Select(h => h.VideoId), response.Hits.Select(h => h.VideoId));
            Assert.Equal(want.Hits.Select(h => h.Score), response.Hits.Select(h => h.Score), new Tolerance(1e-5));
        }
    }

    [Theory]
    [InlineData("", null, null, "empty")]
    [InlineData("   \t ", null, null, "empty")]
    [InlineData("!!! ... ;;; ### ~~", null, null, "no words")]
    [InlineData("a cat", 0, null, "limit must be between 1 and 100")]
    [InlineData("a cat", 101, null, "limit must be between 1 and 100")]
    [InlineData("a cat", null, 0, "candidates must be between 1 and 256")]
    [InlineData("a cat", null, 1000, "candidates must be between 1 and 256")]
    public async Task BadRequests_AreRefusedWithAMessage(string query, int? limit, int? candidates, string message)
    {
        await using var rig = await SearchRig.CreateAsync();
        var e = await Assert.ThrowsAsync<SearchRequestException>(() => rig.SearchAsync("acme", new SearchRequest(query, limit, candidates)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LongQueries_AreTruncatedWithAWarning_AndOverTheHardCapRefused()
    {
        await using var rig = await SearchRig.CreateAsync();
        await rig.AddVideoAsync("acme", "v", [(rig.RandomTokens(1), rig.RandomUnitVector(1))]);
        string longQuery = string.Join(' ', Enumerable.Repeat("a person walks slowly along the beach", 10));
        var response = await rig.SearchAsync("acme", new SearchRequest(longQuery));
        Assert.Contains(response.Warnings, w => w.Contains("longer than the model's 35 tokens", StringComparison.Ordinal));
        Assert.Single(response.Hits);
        var e = await Assert.ThrowsAsync<SearchRequestException>(() => rig.SearchAsync("acme", new SearchRequest(new string('x', 1001))));
        Assert.Contains("1001 characters", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A unit vector at cosine <paramref name="cosine"/> from <paramref name="q"/>, tilted towards <paramref name="direction"/>.</summary>
    private static float[] Tilt(float[] q, float[] direction, double cosine)
    {
        double dot = q.Zip(direction).Sum(p => (double)p.First * p.Second);
        var u = direction.Select((d, i) => d - (dot * q[i])).ToArray();
        double norm = Math.Sqrt(u.Sum(x => x * x));
        double sine = Math.Sqrt(1 - (cosine * cosine));
        return q.Select((x, i) => (float)((cosine * x) + (sine * u[i] / norm))).ToArray();
    }

    private sealed class Tolerance(double epsilon) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= epsilon;

        public int GetHashCode(double obj) => 0;
    }
}
