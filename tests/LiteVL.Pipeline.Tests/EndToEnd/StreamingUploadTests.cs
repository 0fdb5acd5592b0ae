using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// Big uploads (issue 17): the Upload API streams a video to disk without holding it in memory; an upload cut off
/// mid-body leaves no video and no file behind; a declared length over the limit is refused with a 413 ProblemDetails
/// before any of the body is sent.
/// </summary>
public sealed class StreamingUploadTests(UploadHostFixture fixture, ITestOutputHelper output) : IClassFixture<UploadHostFixture>
{
    /// <summary>Host memory growth allowed during one upload, whatever its size.</summary>
    private const long MaxGrowthBytes = 300L << 20;

    [Fact]
    public async Task Big_upload_streams_to_disk_with_host_memory_growth_below_300MB()
    {
        long size = UploadHostFixture.BigUploadBytes;
        var host = fixture.Host;
        using var http = await fixture.TenantClientAsync("big");

        // Warm up the upload path so JIT and pools are in place before measuring.
        using (var warm = Content(1 << 20, 1))
        {
            Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), warm)).StatusCode);
        }

        long rssBefore = host.ResidentBytes, peakBefore = host.PeakResidentBytes;
        long peakDuring = rssBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakDuring = Math.Max(peakDuring, host.ResidentBytes);
                await Task.Delay(100, CancellationToken.None);
            }
        });
        var clock = Stopwatch.StartNew();
        using var content = Content(size, 2);
        using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), content);
        double seconds = clock.Elapsed.TotalSeconds;
        await sampling.CancelAsync();
        await sampler;
        long peakAfter = host.PeakResidentBytes;
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        string original = Path.Combine(host.DataDirectory, "blobs", "originals", "big", doc.RootElement.GetProperty("id").GetGuid().ToString("N"));
        Assert.Equal(size, new FileInfo(original).Length);
        long growth = peakAfter - peakBefore;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{size >> 20} MiB upload in {seconds:F1} s ({(size >> 20) / seconds:F0} MiB/s); host RSS {rssBefore >> 20} MiB before, at most {peakDuring >> 20} MiB during (sampled every 100 ms); peak RSS (VmHWM) {peakBefore >> 20} → {peakAfter >> 20} MiB: growth {growth >> 20} MiB"));
        Assert.True(growth < MaxGrowthBytes, $"peak memory grew by {growth >> 20} MiB during a {size >> 20} MiB upload");
    }

    /// <summary>
    /// A client that gives up mid-body (its request cancelled), a connection reset (RST) and one closed (FIN) mid-body:
    /// none leaves a video (no row in any state) nor a file in the data directory (no original, no temporary part), each
    /// is one log line, and the next upload is accepted as usual.
    /// </summary>
    [Fact]
    public async Task Interrupted_upload_leaves_no_video_and_no_file()
    {
        var host = fixture.Host;
        using var http = await fixture.TenantClientAsync("cut");
        string key = http.DefaultRequestHeaders.Authorization!.Parameter!;
        string originals = Path.Combine(host.DataDirectory, "blobs", "originals", "cut");
        const long declared = 256L << 20, sent = 16L << 20;

        // 1. The client cancels its request after 16 MiB of 256 MiB (HttpClient closes the connection).
        using (var cancel = new CancellationTokenSource())
        {
            using var content = Content(declared, 3, stopAfter: sent, onStop: cancel.Cancel);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => http.PostAsync(new Uri("/v1/videos", UriKind.Relative), content, cancel.Token));
        }

        await AssertNothingStoredAsync(http, originals, "a cancelled upload");

        // 2. The connection is reset (SO_LINGER 0: RST, no FIN) after 16 MiB of 256 MiB; 3. it is closed (FIN) there.
        foreach (bool reset in new[] { true, false })
        {
            using var socket = await ConnectAsync(host);
            await socket.SendAsync(Headers(host, "video/mp4", declared, key, expectContinue: false));
            using var body = new GeneratedVideoStream(sent, 4);
            var buffer = new byte[1 << 16];
            for (int n; (n = await body.ReadAsync(buffer)) > 0;)
            {
                await socket.SendAsync(buffer.AsMemory(0, n));
            }

            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            else
            {
                socket.Shutdown(SocketShutdown.Send);
            }

            socket.Close();
            await AssertNothingStoredAsync(http, originals, reset ? "a reset connection" : "a connection closed mid-body");
        }

        // One line for people per cut-off upload, and no error or stack trace. (A cut that lands while the key is still
        // being checked, before the endpoint reads any of the body, ends the request there without a line; on a loaded
        // machine one of the three may do so.)
        for (var deadline = DateTime.UtcNow.AddSeconds(10); CountOf(host.Log, "of tenant cut cut off by the client") < 3 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
        }

        Assert.InRange(CountOf(host.Log, "of tenant cut cut off by the client"), 1, 3);
        Assert.False(host.Log.Contains("fail:", StringComparison.Ordinal), host.Tail());
        Assert.DoesNotContain("   at ", host.Log, StringComparison.Ordinal);

        using var whole = Content(1 << 20, 5);
        using var accepted = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), whole);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Single(Directory.GetFiles(originals));
        output.WriteLine("a cancelled upload, a reset connection and a connection closed mid-body (16 of 256 MiB sent) left no video and no file; the next upload was accepted");
        output.WriteLine(string.Join('\n', host.Log.Split('\n').Where(l => l.Contains("cut off", StringComparison.Ordinal))));
    }

    /// <summary>
    /// A Content-Length over the limit is answered 413 with ProblemDetails from the headers alone: the client sends them
    /// and no body byte, with <c>Expect: 100-continue</c> (the host must not invite the body with 100 Continue) and
    /// without, for a raw video body and a multipart one.
    /// </summary>
    [Fact]
    public async Task Declared_length_over_the_limit_gets_413_before_any_body_is_sent()
    {
        long limit = UploadHostFixture.BigUploadBytes;
        var host = fixture.Host;
        using var http = await fixture.TenantClientAsync("huge");
        foreach (var (contentType, expectContinue) in new[] { ("video/mp4", true), ("video/mp4", false), ("multipart/form-data; boundary=x", true), ("multipart/form-data; boundary=x", false) })
        {
            using var socket = await ConnectAsync(host);
            await socket.SendAsync(Headers(host, contentType, 1L << 40, http.DefaultRequestHeaders.Authorization!.Parameter!, expectContinue));

            var clock = Stopwatch.StartNew();
            var (status, headers, body) = await ReadResponseAsync(socket, TimeSpan.FromSeconds(30));
            output.WriteLine($"{contentType}, Expect: 100-continue {expectContinue}: '{status}' after {clock.ElapsedMilliseconds} ms, 0 body bytes sent: {body}");
            Assert.Equal("HTTP/1.1 413 Payload Too Large", status);
            Assert.Contains("Content-Type: application/problem+json", headers, StringComparison.OrdinalIgnoreCase);
            using var problem = JsonDocument.Parse(body);
            Assert.Equal(413, problem.RootElement.GetProperty("status").GetInt32());
            Assert.Equal("Video too large", problem.RootElement.GetProperty("title").GetString());
            Assert.Contains(limit.ToString(CultureInfo.InvariantCulture), problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await AssertNothingStoredAsync(http, Path.Combine(host.DataDirectory, "blobs", "originals", "huge"), "refused uploads");
    }

    /// <summary>The tenant of <paramref name="http"/> has no video and its folder of originals no file (no original, no temporary part).</summary>
    private static async Task AssertNothingStoredAsync(HttpClient http, string originals, string what)
    {
        // The host learns of the cut asynchronously: give it a few seconds to clean up, then nothing may remain.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/v1/videos", UriKind.Relative)));
            int videos = doc.RootElement.GetProperty("total").GetInt32();
            var files = Directory.Exists(originals) ? Directory.GetFiles(originals) : [];
            if (videos == 0 && files.Length == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"after {what}: {videos} videos and files {string.Join(", ", files)}");
            await Task.Delay(250);
        }
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, string.Empty, StringComparison.Ordinal).Length) / part.Length;

    private static async Task<Socket> ConnectAsync(HostProcess host)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(host.BaseAddress.Host, host.BaseAddress.Port);
        return socket;
    }

    private static byte[] Headers(HostProcess host, string contentType, long contentLength, string key, bool expectContinue) =>
        Encoding.ASCII.GetBytes(
            $"POST /v1/videos HTTP/1.1\r\nHost: {host.BaseAddress.Authority}\r\nAuthorization: Bearer {key}\r\nContent-Type: {contentType}\r\n"
            + $"Content-Length: {contentLength.ToString(CultureInfo.InvariantCulture)}\r\n{(expectContinue ? "Expect: 100-continue\r\n" : string.Empty)}\r\n");

    /// <summary>Reads one HTTP/1.1 response (status line, headers, Content-Length or chunked body) from a raw socket.</summary>
    private static async Task<(string Status, string Headers, string Body)> ReadResponseAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            string text = Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                string head = text[..end];
                string rest = text[(end + 4)..];
                var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                if (length is not null && rest.Length >= int.Parse(length["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture))
                {
                    return (head.Split("\r\n")[0], head, rest);
                }

                if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) && rest.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
                {
                    return (head.Split("\r\n")[0], head, Dechunk(rest));
                }
            }

            int n = await socket.ReceiveAsync(buffer, cts.Token);
            if (n == 0)
            {
                throw new IOException($"the connection closed before a whole response came:\n{text}");
            }

            received.Write(buffer, 0, n);
        }
    }

    private static string Dechunk(string chunked)
    {
        var body = new StringBuilder();
        for (int at = 0; ;)
        {
            int line = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            int size = int.Parse(chunked[at..line], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return body.ToString();
            }

            body.Append(chunked, line + 2, size);
            at = line + 2 + size + 2;
        }
    }

    private static StreamContent Content(long length, int seed, long stopAfter = long.MaxValue, Action? onStop = null)
    {
        var content = new StreamContent(new GeneratedVideoStream(length, seed, stopAfter, onStop), 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        content.Headers.ContentLength = length;
        return content;
    }

    /// <summary>
    /// Produces an MP4-looking byte stream of any length without holding it in memory; after <paramref name="stopAfter"/>
    /// bytes it calls <paramref name="onStop"/> (e.g. cancels the request) and then waits for the cancellation to land.
    /// </summary>
    private sealed class GeneratedVideoStream(long length, int seed, long stopAfter = long.MaxValue, Action? onStop = null) : Stream
    {
        private readonly Random _random = new(seed);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, Math.Min(length, stopAfter) - _position);
            if (n <= 0)
            {
                return 0;
            }

            _random.NextBytes(buffer[..n]);
            if (_position == 0 && n >= 12)
            {
                "\0\0\0\u0020ftypisom"u8.CopyTo(buffer);
            }

            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= stopAfter && onStop is not null)
            {
                onStop();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>One host for the upload tests (each uses a tenant of its own), its limit the size of the big upload.</summary>
public sealed class UploadHostFixture : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("litevl-upload-").FullName;

    /// <summary>
    /// Size of the streamed upload and the host's limit: 1 GiB in CI; LITEVL_BIG_UPLOAD_MIB=2048 runs the 2 GiB upload of
    /// docs/reliability.md ("Big uploads"), which needs that much free space in the temporary folder.
    /// </summary>
    public static long BigUploadBytes =>
        (long.TryParse(Environment.GetEnvironmentVariable("LITEVL_BIG_UPLOAD_MIB"), CultureInfo.InvariantCulture, out long mib) && mib > 0 ? mib : 1024) << 20;

    public HostProcess Host { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Host = await HostProcess.StartAsync(_data, new Dictionary<string, string> { ["LiteVL__Upload__MaxBytes"] = BigUploadBytes.ToString(CultureInfo.InvariantCulture) });

    /// <summary>A client with a new key of <paramref name="tenant"/>.</summary>
    public async Task<HttpClient> TenantClientAsync(string tenant)
    {
        var http = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Host.CreateTenantKeyAsync(tenant, "uploads"));
        return http;
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }
}
