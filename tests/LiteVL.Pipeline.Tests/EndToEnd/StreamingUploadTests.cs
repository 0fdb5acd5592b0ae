using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>The Upload API never holds a video in memory: a 384 MiB upload barely moves the host's peak memory.</summary>
public sealed class StreamingUploadTests(ITestOutputHelper output)
{
    private const long VideoBytes = 384L << 20;

    [Fact]
    public async Task Upload_384MiB_PeakMemoryGrowsFarLessThanTheVideo()
    {
        string data = Directory.CreateTempSubdirectory("litevl-stream-").FullName;
        try
        {
            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string> { ["LiteVL__Upload__MaxBytes"] = (1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture) });
            using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(data, "admin-key"))).Trim());

            // Warm up the upload path so JIT and pools are in place before measuring.
            using (var warm = Content(1 << 20, 1))
            {
                Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), warm)).StatusCode);
            }

            long before = host.PeakResidentBytes;
            using var content = Content(VideoBytes, 2);
            using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), content);
            long after = host.PeakResidentBytes;
            output.WriteLine($"peak RSS {before >> 20} MiB before, {after >> 20} MiB after a {VideoBytes >> 20} MiB upload");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(VideoBytes, new FileInfo(Directory.GetFiles(Path.Combine(data, "blobs", "originals", "admin")).Single(f => new FileInfo(f).Length > (1 << 20))).Length);
            Assert.True(after - before < VideoBytes / 4, $"peak memory grew by {(after - before) >> 20} MiB during a {VideoBytes >> 20} MiB upload");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static StreamContent Content(long length, int seed)
    {
        var content = new StreamContent(new GeneratedVideoStream(length, seed), 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        content.Headers.ContentLength = length;
        return content;
    }

    /// <summary>Produces an MP4-looking byte stream of any length without holding it in memory.</summary>
    private sealed class GeneratedVideoStream(long length, int seed) : Stream
    {
        private readonly Random _random = new(seed);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - _position);
            if (n <= 0)
            {
                return 0;
            }

            _random.NextBytes(buffer.AsSpan(offset, n));
            if (_position == 0 && n >= 12)
            {
                "\0\0\0\u0020ftypisom"u8.CopyTo(buffer.AsSpan(offset));
            }

            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
