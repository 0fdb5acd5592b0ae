using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace LiteVL.Cli.Tests;

/// <summary><c>litevl ask</c> against a stand-in server that records the request and answers as the Query API does.</summary>
public sealed class AskCommandTests
{
    private const string Video = "0f8fad5b-d9cb-469f-a165-70867728950e";

    private const string Answer = """
        {"answer":"red","score":0.4213,"alternatives":[{"answer":"blue","score":0.12},{"answer":"green","score":2.5E-9}],
         "evidenceTime":23.125,"segment":{"index":2,"start":20,"end":30},"mode":"rank","modelVersion":"tiny-abc"}
        """;

    [Fact]
    public async Task Ask_SendsTheQuestionAndCandidates_AndPrintsAnswerProbabilityEvidenceAndAlternatives()
    {
        using var server = new StandIn(200, Answer);
        var (exit, output, error) = await Task.Run(() => Cli.Run("ask", Video, "what colour is the car?", "--answers", "red, blue,green", "--server", server.Url, "--key", "k-123"));
        Assert.True(exit == 0, error);

        Assert.Equal($"/v1/videos/{Video}/ask", server.Path);
        Assert.Equal("Bearer k-123", server.Authorization);
        using var body = JsonDocument.Parse(server.Body!);
        Assert.Equal("what colour is the car?", body.RootElement.GetProperty("question").GetString());
        Assert.Equal(["red", "blue", "green"], body.RootElement.GetProperty("answers").EnumerateArray().Select(a => a.GetString()));

        var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Q: what colour is the car?", lines[0]);
        Assert.Equal("A: red  (42.1 %)", lines[1]);
        Assert.Equal("evidence at 0:23.1, segment 2 (0:20.0–0:30.0)  model tiny-abc, rank", lines[2]);
        Assert.Equal("alternatives:", lines[3]);
        Assert.Equal("12.0 %  blue", lines[4]);
        Assert.Equal("2.5E-7 %  green", lines[5]);
    }

    [Fact]
    public async Task Ask_ServerRefusal_IsAnErrorWithTheProblemsDetail()
    {
        using var server = new StandIn(409, """{"title":"The model cannot answer questions","status":409,"detail":"The model tiny-abc has no video QA heads."}""");
        var (exit, output, error) = await Task.Run(() => Cli.Run("ask", Video, "what happens", "--server", server.Url, "--key", "k"));
        Assert.Equal(1, exit);
        Assert.Equal(string.Empty, output);
        Assert.Contains("error: the server answered 409: The model tiny-abc has no video QA heads.", error, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(server.Body!);
        Assert.Equal(JsonValueKind.Null, body.RootElement.GetProperty("answers").ValueKind);
    }

    [Theory]
    [InlineData("--mode", "explain", "--mode must be rank or generate, not 'explain'")]
    [InlineData("--answers", "red,,blue", "--answers: candidate 2 is empty")]
    [InlineData("--mode", "rank", "--mode rank picks from candidate answers")]
    public void Ask_BadOptions_AreRefusedBeforeAnyRequest(string option, string value, string message)
    {
        using var server = new StandIn(200, Answer);
        var (exit, _, error) = Cli.Run("ask", Video, "what happens", option, value, "--server", server.Url, "--key", "k");
        Assert.Equal(1, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Null(server.Path);
    }

    /// <summary>One canned HTTP answer on a free local port; records the first request.</summary>
    private sealed class StandIn : IDisposable
    {
        private readonly HttpListener _listener = new();

        public StandIn(int status, string body)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                try
                {
                    var context = await _listener.GetContextAsync();
                    using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                    {
                        Body = await reader.ReadToEndAsync();
                    }

                    Authorization = context.Request.Headers["Authorization"];
                    Path = context.Request.Url!.AbsolutePath;
                    context.Response.StatusCode = status;
                    context.Response.ContentType = status == 200 ? "application/json" : "application/problem+json";
                    byte[] bytes = Encoding.UTF8.GetBytes(body);
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
                catch (HttpListenerException)
                {
                    // disposed before any request came: the bad-option tests expect exactly that
                }
                catch (ObjectDisposedException)
                {
                }
            });
        }

        public string Url { get; }

        public string? Path { get; private set; }

        public string? Body { get; private set; }

        public string? Authorization { get; private set; }

        public void Dispose() => _listener.Close();
    }
}
