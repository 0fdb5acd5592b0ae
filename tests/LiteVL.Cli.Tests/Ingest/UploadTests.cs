using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LiteVL.Cli.Ingest;

namespace LiteVL.Cli.Tests.Ingest;

/// <summary>
/// A protocol stub of the Upload API's <c>POST /v1/videos</c> and <c>GET /v1/videos</c> (not the real server, which its own
/// tests cover): parses the multipart body, dedups by SHA-256 (202 with duplicate: true), answers 415 ProblemDetails when the
/// file does not start like a video, 413 past <see cref="MaxBytes"/>, 401 for a wrong key.
/// </summary>
internal sealed class UploadApiProtocolStub : HttpMessageHandler
{
    public const string Key = "lvk_test";

    public ConcurrentDictionary<string, string> Videos { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<(string Title, string Tags, string FileName)> Received { get; } = new();

    public long MaxBytes { get; init; } = 1 << 20;

    public int Posts => _posts;

    private int _posts;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.Authorization?.Parameter != Key) return Problem(HttpStatusCode.Unauthorized, "Unauthorized", "Missing or invalid API key.");
        if (request.Method == HttpMethod.Get) return List(request.RequestUri!);
        Interlocked.Increment(ref _posts);
        // In process the body is the client's MultipartFormDataContent itself: read its parts as the server's MultipartReader would.
        if (request.Content is not MultipartFormDataContent multipart) return Problem(HttpStatusCode.UnsupportedMediaType, "Unsupported content type", "Send multipart/form-data.");
        string title = "", tags = "", fileName = "";
        byte[]? file = null;
        foreach (var part in multipart)
        {
            string name = part.Headers.ContentDisposition!.Name!.Trim('"');
            if (name == "title") title = await part.ReadAsStringAsync(cancellationToken);
            else if (name == "tags") tags = await part.ReadAsStringAsync(cancellationToken);
            else if (name == "file")
            {
                fileName = part.Headers.ContentDisposition.FileName!.Trim('"');
                file = await part.ReadAsByteArrayAsync(cancellationToken);
            }
        }

        if (file is null) return Problem(HttpStatusCode.BadRequest, "No file", "The multipart body has no part named 'file'.");
        Received.Enqueue((title, tags, fileName));
        if (file.Length > MaxBytes) return Problem(HttpStatusCode.RequestEntityTooLarge, "Video too large", $"The upload exceeds the limit of {MaxBytes} bytes.");
        if (!Encoding.ASCII.GetString(file, 0, Math.Min(file.Length, 5)).StartsWith("VIDEO", StringComparison.Ordinal))
            return Problem(HttpStatusCode.UnsupportedMediaType, "Not a video", "The file does not start like any supported video container.");
        string sha = Convert.ToHexStringLower(SHA256.HashData(file));
        bool duplicate = true;
        string id = Videos.GetOrAdd(sha, _ =>
        {
            duplicate = false;
            return Guid.NewGuid().ToString();
        });
        return Json(HttpStatusCode.Accepted, new { id, state = "Uploaded", sha256 = sha, duplicate });
    }

    private static HttpResponseMessage List(Uri uri)
    {
        string state = uri.Query.Contains("state=Failed", StringComparison.Ordinal) ? "Failed" : "other";
        int total = state == "Failed" ? 12 : 3;
        var items = state == "Failed"
            ? new object[] { new { id = Guid.Empty, title = "broken clip", state, sizeBytes = 10, segmentCount = 0, createdAt = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), failureReason = "no video stream" } }
            : [];
        return Json(HttpStatusCode.OK, new { items, page = 1, pageSize = 1, total });
    }

    private static HttpResponseMessage Json(HttpStatusCode status, object body) =>
        new(status) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };

    private static HttpResponseMessage Problem(HttpStatusCode status, string title, string detail) =>
        new(status) { Content = new StringContent(JsonSerializer.Serialize(new { type = "about:blank", title, status = (int)status, detail }), Encoding.UTF8, "application/problem+json") };
}

public sealed class UploadTests : IDisposable
{
    private const string Server = "http://stub.test";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static HttpClient Client(UploadApiProtocolStub stub, string key = UploadApiProtocolStub.Key)
    {
        var http = new HttpClient(stub) { BaseAddress = new Uri(Server + "/") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return http;
    }

    private static async Task<(IReadOnlyList<IngestOutcome> Outcomes, IngestPlan Plan)> Ingest(UploadApiProtocolStub stub, string statePath, params string[] paths)
    {
        var plan = new PathCollector(tags: ["t1"]).Collect(paths);
        using var http = Client(stub);
        var uploader = new IngestUploader(http, IngestState.Load(statePath), Server, concurrency: 3) { RetryDelay = TimeSpan.Zero };
        var progress = IngestUploader.ProgressFor(plan.Items);
        var outcomes = await uploader.RunAsync(plan.Items, progress, CancellationToken.None);
        Assert.Equal(plan.Items.Count, progress.Done);
        return (outcomes, plan);
    }

    [Fact]
    public async Task Upload_ReportsUploadedAndRejected_ThenResumesFromTheStateFile()
    {
        _dir.File("in/a.mp4", "VIDEO a");
        _dir.File("in/b.mp4", "VIDEO b");
        _dir.File("in/fake.mp4", "just text");
        string state = Path.Combine(_dir.Root, "state.json");
        var stub = new UploadApiProtocolStub();

        var (first, plan) = await Ingest(stub, state, Path.Combine(_dir.Root, "in"));
        using (plan)
        {
            Assert.Equal(2, first.Count(o => o.Kind == IngestOutcomeKind.Uploaded));
            var rejected = Assert.Single(first, o => o.Kind == IngestOutcomeKind.Rejected);
            Assert.Equal("415 The file does not start like any supported video container.", rejected.Reason);
            Assert.Equal(IngestSummary.ExitSomeRejected, IngestSummary.ExitCode(first, plan.Rejections));
            Assert.Contains(stub.Received, r => r.Title == "a" && r.Tags == "t1" && r.FileName == "a.mp4");
        }

        int postsBefore = stub.Posts;
        var (second, plan2) = await Ingest(stub, state, Path.Combine(_dir.Root, "in"));
        using (plan2)
        {
            Assert.Equal(2, second.Count(o => o.Kind == IngestOutcomeKind.Resumed));
            Assert.Equal(postsBefore + 1, stub.Posts);  // only the rejected file is tried again
            Assert.Equal(first.Where(o => o.VideoId is not null).Select(o => o.VideoId).Order(), second.Where(o => o.Kind == IngestOutcomeKind.Resumed).Select(o => o.VideoId).Order());
        }
    }

    [Fact]
    public async Task Upload_WithoutStateEntry_GetsTheServersDuplicateAnswer_AndSameContentIsSentOnce()
    {
        _dir.File("x/one.mp4", "VIDEO same");
        _dir.File("x/two.mp4", "VIDEO same");
        var stub = new UploadApiProtocolStub();

        var (first, p1) = await Ingest(stub, Path.Combine(_dir.Root, "s1.json"), Path.Combine(_dir.Root, "x"));
        p1.Dispose();
        Assert.Equal(1, stub.Posts);
        Assert.Single(first, o => o.Kind == IngestOutcomeKind.Uploaded);
        Assert.Single(first, o => o.Kind == IngestOutcomeKind.Duplicate);

        var (second, p2) = await Ingest(stub, Path.Combine(_dir.Root, "s2.json"), Path.Combine(_dir.Root, "x", "one.mp4"));
        p2.Dispose();
        var dup = Assert.Single(second);
        Assert.Equal(IngestOutcomeKind.Duplicate, dup.Kind);
        Assert.Equal(first[0].VideoId ?? first[1].VideoId, dup.VideoId);
        Assert.Equal(0, IngestSummary.ExitCode(second, []));
        Assert.True(IngestState.Load(Path.Combine(_dir.Root, "s2.json")).TryGet(Server, dup.Sha256!, out _));
    }

    [Fact]
    public async Task Upload_TooLarge_IsRejectedWithTheServersDetail()
    {
        _dir.File("big.mp4", "VIDEO" + new string('x', 2000));
        var stub = new UploadApiProtocolStub { MaxBytes = 1000 };
        var (outcomes, plan) = await Ingest(stub, Path.Combine(_dir.Root, "s.json"), Path.Combine(_dir.Root, "big.mp4"));
        plan.Dispose();
        Assert.Equal("413 The upload exceeds the limit of 1000 bytes.", Assert.Single(outcomes).Reason);
    }

    [Fact]
    public async Task Upload_WrongKey_StopsTheRun()
    {
        _dir.File("a.mp4", "VIDEO a");
        using var plan = new PathCollector().Collect([Path.Combine(_dir.Root, "a.mp4")]);
        using var http = Client(new UploadApiProtocolStub(), key: "wrong");
        var uploader = new IngestUploader(http, IngestState.Load(Path.Combine(_dir.Root, "s.json")), Server, 2);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => uploader.RunAsync(plan.Items, IngestUploader.ProgressFor(plan.Items), CancellationToken.None));
        Assert.Equal("the server answered 401: Missing or invalid API key.", e.Message);
    }

    [Fact]
    public void Summary_ListsEveryFile_AndTotals()
    {
        var outcomes = new[]
        {
            new IngestOutcome("a.mp4", IngestOutcomeKind.Uploaded, "11111111-1111-1111-1111-111111111111", "aa", 2048, null),
            new IngestOutcome("b.mp4", IngestOutcomeKind.Duplicate, "22222222-2222-2222-2222-222222222222", "bb", 10, null),
            new IngestOutcome("c.mp4", IngestOutcomeKind.Resumed, "33333333-3333-3333-3333-333333333333", "cc", 10, "in the state file"),
            new IngestOutcome("d.mp4", IngestOutcomeKind.Rejected, null, "dd", 10, "415 not a video"),
        };
        var local = new[] { new LocalRejection("x.zip!../e.mp4", "path escapes the extraction folder (zip-slip)") };
        using var o = new StringWriter(CultureInfo.InvariantCulture);

        IngestSummary.Write(o, outcomes, local, TimeSpan.FromSeconds(2));

        string[] lines = o.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("status", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("uploaded   a.mp4", lines[1], StringComparison.Ordinal);
        Assert.Contains("2.0 KiB", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("duplicate  b.mp4", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("skipped    c.mp4", lines[3], StringComparison.Ordinal);
        Assert.EndsWith("415 not a video", lines[4], StringComparison.Ordinal);
        Assert.EndsWith("(zip-slip)", lines[5], StringComparison.Ordinal);
        Assert.Equal("total 5: uploaded 1, duplicate 1, already done (state file) 1, rejected 2; 2.0 KiB uploaded in 2.0 s", lines[6]);
        Assert.Equal(3, IngestSummary.ExitCode(outcomes, local));
        Assert.Equal(0, IngestSummary.ExitCode(outcomes[..3], []));
        Assert.Equal("0/4 files  0 B / 1.0 MiB  0 B/s  0 s", ProgressPrinter.Line(new IngestProgress { TotalFiles = 4, TotalBytes = 1 << 20 }, TimeSpan.Zero));
    }

    [Fact]
    public async Task Status_CountsEveryState_AndListsRecentFailures()
    {
        using var http = Client(new UploadApiProtocolStub());
        var report = await StatusClient.FetchAsync(http, CancellationToken.None);
        Assert.Equal(StatusClient.States, report.Counts.Select(c => c.State));
        Assert.Equal(12, report.Counts.Single(c => c.State == "Failed").Count);
        using var o = new StringWriter(CultureInfo.InvariantCulture);
        StatusClient.Write(o, report);
        string text = o.ToString();
        Assert.Contains("total             33", text, StringComparison.Ordinal);
        Assert.Contains("most recent failures (1 of 12):", text, StringComparison.Ordinal);
        Assert.Contains("2026-01-02 03:04:05  broken clip", text, StringComparison.Ordinal);
        Assert.Contains("no video stream", text, StringComparison.Ordinal);
    }
}
