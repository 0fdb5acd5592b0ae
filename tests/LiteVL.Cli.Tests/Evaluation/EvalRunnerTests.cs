using System.Net;
using System.Text.Json;
using LiteVL.Cli.Evaluation;

namespace LiteVL.Cli.Tests.Evaluation;

/// <summary>A platform in memory: files map to ids, states advance per poll, searches answer scripted orders.</summary>
internal sealed class FakeBackend : IEvalBackend
{
    public Dictionary<string, string> IdOfFile { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> RejectedFiles { get; } = new(StringComparer.Ordinal);

    /// <summary>States a video goes through, one per poll; the last one sticks.</summary>
    public Dictionary<string, Queue<VideoStatus>> States { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string[]> CoarseOrder { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string[]> RerankOrder { get; } = new(StringComparer.Ordinal);

    public List<SearchQuery> Searches { get; } = [];

    public List<string> Uploads { get; } = [];

    public Task<UploadOutcome> UploadAsync(string path, string title, CancellationToken ct)
    {
        lock (Uploads)
        {
            Uploads.Add(title);
        }

        return Task.FromResult(RejectedFiles.TryGetValue(title, out string? why)
            ? new UploadOutcome(null, false, why)
            : new UploadOutcome(IdOfFile[title], false, null));
    }

    public Task<VideoStatus> GetVideoAsync(string id, CancellationToken ct)
    {
        var queue = States.TryGetValue(id, out var q) ? q : new Queue<VideoStatus>([new VideoStatus("Indexed", null, "m1", 1)]);
        return Task.FromResult(queue.Count > 1 ? queue.Dequeue() : queue.Peek());
    }

    public Task<SearchOutcome> SearchAsync(SearchQuery query, CancellationToken ct)
    {
        Searches.Add(query);
        var order = (query.Rerank ? RerankOrder : CoarseOrder)[query.Query];
        return Task.FromResult(new SearchOutcome(order, query.Rerank ? 30 : 10, query.Rerank ? 20 : 0, query.Rerank, "m1", query.Rerank ? ["slow"] : [], query.Rerank ? query.Pooling ?? "tdp" : null));
    }

    /// <summary>Answers per (video id, question, mode); rank mode answers must be among the candidates asked with.</summary>
    public Dictionary<(string Video, string Question, string Mode), string> Answers { get; } = [];

    public List<AskQuery> Asks { get; } = [];

    public Task<AskOutcome> AskAsync(AskQuery query, CancellationToken ct)
    {
        Asks.Add(query);
        string answer = Answers[(query.VideoId, query.Question, query.Mode)];
        if (query.Mode == "rank" && query.Answers?.Contains(answer) != true)
        {
            throw new InvalidOperationException($"rank mode asked without '{answer}' among its candidates");
        }

        return Task.FromResult(new AskOutcome(answer, 0.5, query.Mode, "m1", query.Mode == "generate" ? ["question cut"] : [], query.Mode == "rank" ? 4 : 8));
    }
}

public sealed class EvalRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private EvalDataset Dataset(params (string Video, string Caption)[] pairs)
    {
        foreach (string video in pairs.Select(p => p.Video).Distinct())
        {
            File.WriteAllBytes(Path.Combine(_dir, video), [1, 2, 3]);
        }

        string text = string.Join('\n', pairs.Select(p => JsonSerializer.Serialize(new { video = p.Video, caption = p.Caption })));
        return EvalDataset.Parse(new StringReader(text), "set.jsonl");
    }

    private Task<EvalReport> Run(FakeBackend backend, EvalDataset dataset, int? candidates = 2, string? pooling = null, TextWriter? log = null) =>
        new EvalRunner(backend, log ?? TextWriter.Null, new EvalSettings(_dir, candidates, PollInterval: TimeSpan.Zero, IndexTimeout: TimeSpan.FromSeconds(30), Pooling: pooling))
            .RunAsync(dataset, "set.jsonl", "http://test", CancellationToken.None);

    [Theory]
    [InlineData(null, "pooling: tdp", "not BLIP's zero-shot protocol")]
    [InlineData("none", "pooling: none", "BLIP's zero-shot protocol (the grounded encoder attends to the T·P video tokens only)")]
    [InlineData("tdp", "pooling: tdp", "LiteVL's text-dependent pooling")]
    public async Task Protocol_AskedOfTheServer_AndPrintedAsTheServerReportsIt(string? pooling, string expected, string meaning)
    {
        var backend = Scripted();
        var log = new StringWriter();
        var report = await Run(backend, Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3")), pooling: pooling, log: log);
        Assert.All(backend.Searches.Where(q => q.Rerank), q => Assert.Equal(pooling, q.Pooling));
        Assert.All(backend.Searches.Where(q => !q.Rerank), q => Assert.Null(q.Pooling));
        Assert.Contains(expected, report.Protocol, StringComparison.Ordinal);
        Assert.Contains(meaning, report.Protocol, StringComparison.Ordinal);
        Assert.Contains($"protocol: {report.Protocol}", log.ToString(), StringComparison.Ordinal);
        Assert.Contains($"Protocol — {report.Protocol}", report.ToMarkdown(), StringComparison.Ordinal);
        Assert.Contains("\"protocol\"", report.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Protocol_MixedOrUnreportedPooling_IsSaidSo()
    {
        static SearchOutcome O(string? pooling) => new([], 0, 0, true, "m", [], pooling);
        Assert.Contains("mixed pooling (none, tdp)", EvalRunner.Protocol([O("tdp"), O("none")]), StringComparison.Ordinal);
        Assert.Contains("did not say", EvalRunner.Protocol([O(null)]), StringComparison.Ordinal);
    }

    /// <summary>v1..v3 index (v2 only after two polls), v4 fails; v1 has two captions; c4's video failed.</summary>
    private static FakeBackend Scripted()
    {
        var b = new FakeBackend();
        for (int i = 1; i <= 4; i++)
        {
            b.IdOfFile[$"v{i}.mp4"] = $"id{i}";
        }

        b.States["id2"] = new Queue<VideoStatus>([new VideoStatus("Extracting", null, null, 0), new VideoStatus("Encoding", null, null, 0), new VideoStatus("Indexed", null, "m1", 1)]);
        b.States["id4"] = new Queue<VideoStatus>([new VideoStatus("Failed", "extract: no video stream", null, 0)]);
        b.CoarseOrder["c1"] = ["id1", "id2", "id3"];   // rank 1
        b.CoarseOrder["c2"] = ["id1", "id3", "id2"];   // rank 3
        b.CoarseOrder["c3"] = ["id3", "id1", "id2"];   // rank 1
        b.CoarseOrder["c1b"] = ["id2", "id1", "id3"];  // rank 2
        b.RerankOrder["c1"] = ["id1", "id2"];          // rank 1
        b.RerankOrder["c2"] = ["id2", "id1"];          // rank 1
        b.RerankOrder["c3"] = ["id1", "id2"];          // id3 not re-ranked in; then the rest in coarse order: id1, id2, id3 → rank 3
        b.RerankOrder["c1b"] = ["id1", "id3"];         // rank 1
        return b;
    }

    [Fact]
    public async Task Run_ScriptedPlatform_RanksEveryCaptionAndExcludesTheFailedVideo()
    {
        var backend = Scripted();
        var report = await Run(backend, Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3"), ("v1.mp4", "c1b"), ("v4.mp4", "c4")));

        Assert.Equal(4, backend.Uploads.Count);
        Assert.Equal(3, report.Videos);
        Assert.Equal(4, report.Queries);
        var excluded = Assert.Single(report.Excluded);
        Assert.Equal("v4.mp4", excluded.File);
        Assert.Equal(1, excluded.Captions);
        Assert.Contains("no video stream", excluded.Reason, StringComparison.Ordinal);

        Assert.Equal(["1", "3", "1", "2"], report.PerQuery.Select(q => q.CoarseRank));
        Assert.Equal(["1", "1", "3", "1"], report.PerQuery.Select(q => q.RerankedRank));
        Assert.Equal(50.0, report.Coarse.Metrics.RecallAt1, 9);
        Assert.Equal(1.5, report.Coarse.Metrics.MedianRank, 9);
        Assert.Equal(1.75, report.Coarse.Metrics.MeanRank, 9);
        Assert.Equal(75.0, report.Reranked.Metrics.RecallAt1, 9);
        Assert.Equal(100.0, report.Reranked.Metrics.RecallAt5, 9);
        Assert.Equal(1.0, report.Reranked.Metrics.MedianRank, 9);
        Assert.Equal(1.5, report.Reranked.Metrics.MeanRank, 9);
        Assert.Equal(0, report.Reranked.NotReranked);
        Assert.Equal("m1", report.ModelVersion);
        Assert.Equal(["slow"], report.Warnings);
    }

    [Fact]
    public async Task Run_SendsCoarseThenRerankedSearchesOverTheIndexedVideosOnly()
    {
        var backend = Scripted();
        await Run(backend, Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3"), ("v1.mp4", "c1b"), ("v4.mp4", "c4")));

        // Each pass: one untimed warm-up search with the first caption, then every caption once.
        Assert.Equal(10, backend.Searches.Count);
        Assert.All(backend.Searches.Take(5), s => Assert.False(s.Rerank));
        Assert.All(backend.Searches.Skip(5), s => Assert.True(s.Rerank));
        Assert.All(backend.Searches, s => Assert.Equal(3, s.Limit));
        Assert.All(backend.Searches, s => Assert.Equal(["id1", "id2", "id3"], s.VideoIds.Order()));
        Assert.All(backend.Searches.Take(5), s => Assert.Equal(3, s.Candidates)); // enough to rank all 3 one-segment videos
        Assert.All(backend.Searches.Skip(5), s => Assert.Equal(2, s.Candidates));
        Assert.Equal(["c1", "c1", "c2", "c3", "c1b"], backend.Searches.Take(5).Select(s => s.Query));
        Assert.Equal(["c1", "c1", "c2", "c3", "c1b"], backend.Searches.Skip(5).Select(s => s.Query));
    }

    [Fact]
    public async Task Run_Timings_ComeFromTheServerPerPass()
    {
        var report = await Run(Scripted(), Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3"), ("v1.mp4", "c1b")));

        Assert.Equal(10, report.Coarse.Timings.MeanTotalMs, 9);
        Assert.Equal(10, report.Coarse.Timings.P95TotalMs, 9);
        Assert.Equal(0, report.Coarse.Timings.MeanRerankMs, 9);
        Assert.Equal(30, report.Reranked.Timings.P95TotalMs, 9);
        Assert.Equal(20, report.Reranked.Timings.MeanRerankMs, 9);
        Assert.True(report.Reranked.Timings.QueriesPerSecond > 0);
    }

    [Fact]
    public async Task Run_RejectedUpload_IsExcludedWithItsReason()
    {
        var backend = Scripted();
        backend.RejectedFiles["v3.mp4"] = "upload refused with 415: not a video";
        var report = await Run(backend, Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3")));

        Assert.Equal("upload refused with 415: not a video", Assert.Single(report.Excluded).Reason);
        Assert.Equal(2, report.Videos);
        Assert.Equal(2, report.Queries);
    }

    [Fact]
    public async Task Run_MoreThan100Videos_LimitsSearchesTo100AndCountsLaterRanksAsMisses()
    {
        var backend = new FakeBackend();
        var pairs = Enumerable.Range(0, 101).Select(i => ($"v{i}.mp4", $"c{i}")).ToArray();
        var all = Enumerable.Range(0, 101).Select(i => $"id{i}").ToArray();
        foreach (var (video, caption) in pairs)
        {
            string id = "id" + video[1..^4];
            backend.IdOfFile[video] = id;
            // Every query ranks its own video last (position 101): beyond the limit, so the server leaves it out.
            string[] order = [.. all.Where(x => x != id).Take(100)];
            backend.CoarseOrder[caption] = order;
            backend.RerankOrder[caption] = order[..2];
        }

        var report = await Run(backend, Dataset(pairs));

        Assert.Equal(100, report.SearchLimit);
        Assert.All(backend.Searches, s => Assert.Equal(100, s.Limit));
        Assert.Contains(report.Notes, n => n.Contains("at most 100 hits", StringComparison.Ordinal));
        Assert.Equal(0.0, report.Coarse.Metrics.RecallAt10, 9);
        Assert.Equal(101, report.Coarse.Metrics.Missed);
        Assert.True(report.Coarse.Metrics.MedianRankCensored);
        Assert.Contains("| coarse | 0.0 | 0.0 | 0.0 | > 100 | ≥ 101.0 | 101 | 101 |", report.ToMarkdown(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_MissingVideoFile_FailsBeforeUploading()
    {
        var backend = Scripted();
        var dataset = Dataset(("v1.mp4", "c1"));
        File.Delete(Path.Combine(_dir, "v1.mp4"));

        var e = await Assert.ThrowsAsync<FileNotFoundException>(() => Run(backend, dataset));
        Assert.Contains("v1.mp4", e.Message, StringComparison.Ordinal);
        Assert.Empty(backend.Uploads);
    }

    [Fact]
    public async Task Report_Json_HasMetricsCostsAndPerQueryRanks()
    {
        var report = await Run(Scripted(), Dataset(("v1.mp4", "c1"), ("v2.mp4", "c2"), ("v3.mp4", "c3"), ("v1.mp4", "c1b")));
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;

        Assert.Equal(50.0, root.GetProperty("coarse").GetProperty("metrics").GetProperty("recallAt1").GetDouble(), 9);
        Assert.Equal(20.0, root.GetProperty("reranked").GetProperty("timings").GetProperty("meanRerankMs").GetDouble(), 9);
        Assert.Equal(4, root.GetProperty("perQuery").GetArrayLength());
        Assert.Equal(3, root.GetProperty("videos").GetInt32());
        string markdown = report.ToMarkdown();
        Assert.Contains("| coarse | 50.0 | 100.0 | 100.0 | 1.5 | 1.8 | 4 | 3 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| re-ranked | 75.0 | 100.0 | 100.0 | 1 | 1.5 | 4 | 3 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| re-ranked | 30.0 | 30.0 | 20.0 | 20.0 | ", markdown, StringComparison.Ordinal);
    }
}

public sealed class HttpEvalBackendParsingTests
{
    [Fact]
    public void ParseSearchResponse_ReadsHitsInOrderTimingsAndFlags()
    {
        const string body = """
            {"query": "a man is playing a guitar", "modelVersion": "blip-base-1", "reranked": true, "warnings": ["w1"],
             "hits": [{"videoId": "7b1c", "title": "video1.mp4", "score": 1.23, "segments": []},
                      {"videoId": "0a2d", "title": "video2.mp4", "score": 0.5, "segments": [{"index": 0}]}],
             "timings": {"encodeTextMs": 1.5, "coarseSearchMs": 2, "loadTokensMs": 3, "rerankMs": 40.5, "totalMs": 50.25}}
            """;

        var o = HttpEvalBackend.ParseSearchResponse(body);

        Assert.Equal(["7b1c", "0a2d"], o.VideoIds);
        Assert.Equal(50.25, o.TotalMs);
        Assert.Equal(40.5, o.RerankMs);
        Assert.True(o.Reranked);
        Assert.Equal("blip-base-1", o.ModelVersion);
        Assert.Equal(["w1"], o.Warnings);
        Assert.Throws<InvalidDataException>(() => HttpEvalBackend.ParseSearchResponse("{\"items\": []}"));
    }

    [Fact]
    public void SearchRequestJson_FollowsTheApiContract()
    {
        using var doc = JsonDocument.Parse(HttpEvalBackend.SearchRequestJson(new SearchQuery("a \"cat\"", 100, 32, true, ["id1", "id2"])));
        var root = doc.RootElement;

        Assert.Equal("a \"cat\"", root.GetProperty("query").GetString());
        Assert.Equal(100, root.GetProperty("limit").GetInt32());
        Assert.Equal(32, root.GetProperty("candidates").GetInt32());
        Assert.True(root.GetProperty("rerank").GetBoolean());
        Assert.Equal(["id1", "id2"], root.GetProperty("filter").GetProperty("videoIds").EnumerateArray().Select(e => e.GetString()));

        using var noCandidates = JsonDocument.Parse(HttpEvalBackend.SearchRequestJson(new SearchQuery("x", 5, null, false, [])));
        Assert.False(noCandidates.RootElement.TryGetProperty("candidates", out _));
        Assert.False(noCandidates.RootElement.GetProperty("rerank").GetBoolean());
    }

    [Fact]
    public void ParseUploadAndVideo_ReadIdsStatesAndFailures()
    {
        var ok = HttpEvalBackend.ParseUploadResponse(HttpStatusCode.Accepted, """{"id": "9f", "state": "Uploaded", "sha256": "ab", "duplicate": true}""");
        Assert.Equal(new UploadOutcome("9f", true, null), ok);

        var refused = HttpEvalBackend.ParseUploadResponse(HttpStatusCode.UnsupportedMediaType, """{"title": "Not a video", "detail": "The first bytes are no video container."}""");
        Assert.Null(refused.Id);
        Assert.Equal("upload refused with 415: The first bytes are no video container.", refused.Rejection);

        var failed = HttpEvalBackend.ParseVideoStatus("""{"id": "9f", "state": "Failed", "segmentCount": 0, "failure": {"stage": "Extracting", "reason": "no video stream"}}""");
        Assert.Equal(new VideoStatus("Failed", "Extracting: no video stream", null, 0), failed);

        var indexed = HttpEvalBackend.ParseVideoStatus("""{"id": "9f", "state": "Indexed", "segmentCount": 2, "modelVersion": "m1", "failure": null}""");
        Assert.Equal(new VideoStatus("Indexed", null, "m1", 2), indexed);
    }
}

public sealed class EvalCommandTests
{
    [Fact]
    public void Eval_WithoutDataset_IsAUsageError()
    {
        var (exit, _, error) = Cli.Run("eval", "--key", "k");
        Assert.NotEqual(0, exit);
        Assert.Contains("--dataset", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--pooling", "--pooling", "none", "--task", "qa")]
    [InlineData("--candidates", "--candidates", "8", "--task", "qa")]
    [InlineData("--model", "--model", "m", "--task", "retrieval")]
    [InlineData("--answers", "--answers", "a.txt", "--key", "k")]
    [InlineData("--limit", "--task", "qa", "--model", "m", "--limit", "5")]
    [InlineData("--server", "--task", "qa", "--model", "m", "--server", "http://127.0.0.1:1")]
    public void Eval_AnOptionTheChosenEvaluationDoesNotUse_IsAUsageError(string unused, params string[] args)
    {
        var (exit, _, error) = Cli.Run(["eval", "--dataset", "set.jsonl", .. args]);
        Assert.NotEqual(0, exit);
        Assert.Contains($"{unused} does not apply here", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_MissingKey_AndUnreachableServer_AreUserErrors()
    {
        string dir = Directory.CreateTempSubdirectory("litevl-evalcli-").FullName;
        try
        {
            string dataset = Path.Combine(dir, "set.jsonl");
            File.WriteAllText(dataset, "{\"video\": \"a.mp4\", \"caption\": \"a cat\"}\n");
            File.WriteAllBytes(Path.Combine(dir, "a.mp4"), [0, 0, 0, 24]);

            var noKey = Cli.Run("eval", "--dataset", dataset);
            Assert.Equal(1, noKey.Exit);
            Assert.Contains("--key", noKey.Error, StringComparison.Ordinal);

            var unreachable = Cli.Run("eval", "--dataset", dataset, "--key", "k", "--server", "http://127.0.0.1:1");
            Assert.Equal(1, unreachable.Exit);
            Assert.Contains("cannot reach http://127.0.0.1:1/", unreachable.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public sealed class QaEvalRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-qaeval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// v1 and v2 index with the answering model m1, v3 fails, v4 was indexed with another model. Five questions on the
    /// usable videos: rank mode right on 4 (colour 2/2, shape 1/2 with different letter case, direction 1/1), generate
    /// right on 2 (colour 1/2, direction 1/1).
    /// </summary>
    [Fact]
    public async Task Run_AsksEveryQuestionInBothModes_AndScoresPerType_LeavingOutWhatCannotBeAnswered()
    {
        var b = new FakeBackend();
        for (int i = 1; i <= 4; i++)
        {
            b.IdOfFile[$"v{i}.mp4"] = $"id{i}";
            File.WriteAllBytes(Path.Combine(_dir, $"v{i}.mp4"), [1, 2, 3]);
        }

        b.States["id3"] = new Queue<VideoStatus>([new VideoStatus("Failed", "extract: no video stream", null, 0)]);
        b.States["id4"] = new Queue<VideoStatus>([new VideoStatus("Indexed", null, "m0", 1)]);
        QaLine Q(int line, string video, string question, string answer, string type) => new(line, video, question, answer, type);
        var lines = new List<QaLine>
        {
            Q(1, "v1.mp4", "what colour?", "red", "colour"),
            Q(2, "v1.mp4", "what shape?", "Circle", "shape"),
            Q(3, "v2.mp4", "what colour?", "blue", "colour"),
            Q(4, "v2.mp4", "what shape?", "square", "shape"),
            Q(5, "v2.mp4", "which way?", "left", "direction"),
            Q(6, "v3.mp4", "what colour?", "red", "colour"),
            Q(7, "v4.mp4", "what colour?", "red", "colour"),
        };
        string[] answers = ["blue", "circle", "left", "red", "right", "square"];
        void Say(string id, string question, string rank, string generate)
        {
            b.Answers[(id, question, "rank")] = rank;
            b.Answers[(id, question, "generate")] = generate;
        }

        Say("id1", "what colour?", "red", "red");
        Say("id1", "what shape?", "circle", "square");
        Say("id2", "what colour?", "blue", "red");
        Say("id2", "what shape?", "circle", "circle");
        Say("id2", "which way?", "left", "left");

        var log = new StringWriter();
        var report = await new QaEvalRunner(b, log, new EvalSettings(_dir, PollInterval: TimeSpan.Zero, IndexTimeout: TimeSpan.FromSeconds(30)))
            .RunAsync(lines, answers, "qa.jsonl", "http://test", CancellationToken.None);

        // One warm-up, then each of the 5 answerable questions once per mode; never the failed or stale videos.
        Assert.Equal(1 + (2 * 5), b.Asks.Count);
        Assert.DoesNotContain(b.Asks, a => a.VideoId is "id3" or "id4");
        Assert.All(b.Asks.Where(a => a.Mode == "rank"), a => Assert.Equal(answers, a.Answers));
        Assert.All(b.Asks.Where(a => a.Mode == "generate"), a => Assert.Null(a.Answers));

        var byType = report.Scores.ToDictionary(x => x.Type);
        Assert.Equal(["colour", "direction", "shape", "all"], report.Scores.Select(x => x.Type));
        Assert.Equal((2, 100.0, 50.0), (byType["colour"].Questions, byType["colour"].RankAccuracy, byType["colour"].GenerateAccuracy));
        Assert.Equal((2, 50.0, 0.0), (byType["shape"].Questions, byType["shape"].RankAccuracy, byType["shape"].GenerateAccuracy));
        Assert.Equal((1, 100.0, 100.0), (byType["direction"].Questions, byType["direction"].RankAccuracy, byType["direction"].GenerateAccuracy));
        Assert.Equal((5, 80.0, 40.0), (byType["all"].Questions, byType["all"].RankAccuracy, byType["all"].GenerateAccuracy));

        Assert.Equal("m1", report.ModelVersion);
        Assert.Equal(2, report.Videos);
        Assert.Equal(["v3.mp4", "v4.mp4"], report.Excluded.Select(e => e.File).Order(StringComparer.Ordinal));
        Assert.Contains("no video stream", report.Excluded.Single(e => e.File == "v3.mp4").Reason, StringComparison.Ordinal);
        Assert.Contains("indexed with model m0, but m1 answers", report.Excluded.Single(e => e.File == "v4.mp4").Reason, StringComparison.Ordinal);
        Assert.Equal([(4.0, "rank"), (8.0, "generate")], report.Timings.Select(t => (t.MeanMs, t.Mode)));
        Assert.Equal(["question cut"], report.Warnings);
        Assert.Equal("circle", report.Questions.Single(q => q.Line == 4).Ranked);

        string markdown = report.ToMarkdown();
        Assert.Contains("| colour | 2 | 100.0 % | 50.0 % |", markdown, StringComparison.Ordinal);
        Assert.Contains("| **all** | 5 | 80.0 % | 40.0 % |", markdown, StringComparison.Ordinal);
        Assert.Contains("excluded: v3.mp4 (1 questions): Failed: extract: no video stream", markdown, StringComparison.Ordinal);
        Assert.Contains("\"generated\": \"square\"", report.ToJson(), StringComparison.Ordinal);
        Assert.Contains("rank: 5 questions in", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AskRequest_AndResponse_MatchTheApi()
    {
        Assert.Equal("""{"question":"what colour?","answers":["red","blue"],"mode":"rank"}""", HttpEvalBackend.AskRequestJson(new AskQuery("id", "what colour?", ["red", "blue"], "rank")));
        Assert.Equal("""{"question":"what colour?","mode":"generate"}""", HttpEvalBackend.AskRequestJson(new AskQuery("id", "what colour?", null, "generate")));
        var outcome = HttpEvalBackend.ParseAskResponse(
            """{"answer": "red", "score": 0.81, "alternatives": [{"answer": "blue", "score": 0.1}], "evidenceTime": 1.5, "segment": {"index": 0, "start": 0, "end": 4}, "mode": "rank", "modelVersion": "small-1", "warnings": ["cut"]}""",
            12.5);
        Assert.Equal(new AskOutcome("red", 0.81, "rank", "small-1", outcome.Warnings, 12.5), outcome);
        Assert.Equal(["cut"], outcome.Warnings);
        Assert.Throws<InvalidDataException>(() => HttpEvalBackend.ParseAskResponse("""{"title": "oops"}""", 1));
    }

    [Fact]
    public void EvalQa_WithoutModel_GoesToTheApi_AndSaysWhatIsMissing()
    {
        string dataset = Path.Combine(_dir, "qa.jsonl");
        File.WriteAllText(dataset, "{\"video\": \"a.mp4\", \"question\": \"what colour?\", \"answer\": \"red\"}\n");
        File.WriteAllBytes(Path.Combine(_dir, "a.mp4"), [0, 0, 0, 24]);

        var noKey = Cli.Run("eval", "--task", "qa", "--dataset", dataset);
        Assert.Equal(1, noKey.Exit);
        Assert.Contains("--key", noKey.Error, StringComparison.Ordinal);

        var unreachable = Cli.Run("eval", "--task", "qa", "--dataset", dataset, "--key", "k", "--server", "http://127.0.0.1:1");
        Assert.Equal(1, unreachable.Exit);
        Assert.Contains("cannot reach http://127.0.0.1:1/", unreachable.Error, StringComparison.Ordinal);
    }
}
