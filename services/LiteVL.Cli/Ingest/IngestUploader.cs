using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;

namespace LiteVL.Cli.Ingest;

/// <summary>Counters the progress display reads while uploads run.</summary>
public sealed class IngestProgress
{
    private int _done;
    private long _bytesSent;

    public int TotalFiles { get; init; }

    public long TotalBytes { get; init; }

    public int Done => Volatile.Read(ref _done);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    internal void FileDone() => Interlocked.Increment(ref _done);

    internal void AddBytes(long n) => Interlocked.Add(ref _bytesSent, n);
}

/// <summary>
/// Uploads items to <c>POST /v1/videos</c> (multipart: title, tags, file), <paramref name="concurrency"/> at a time. Each file
/// is hashed first; a SHA-256 found in the state file is not sent again, one seen twice in the run is sent once. 202 answers
/// are uploaded or duplicate (the server's dedup); 4xx answers reject the file with the ProblemDetails detail; 401/403 stop
/// the run (a wrong key fails every file); 5xx, 429 and network errors are retried twice, then reject the file.
/// </summary>
public sealed class IngestUploader(HttpClient http, IngestState state, string server, int concurrency)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IngestOutcome>> _bySha = new(StringComparer.Ordinal);

    /// <summary>Pause before retry n (1-based); tests shorten it.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public static IngestProgress ProgressFor(IReadOnlyList<IngestItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return new IngestProgress { TotalFiles = items.Count, TotalBytes = items.Sum(i => new FileInfo(i.Path).Length) };
    }

    public async Task<IReadOnlyList<IngestOutcome>> RunAsync(IReadOnlyList<IngestItem> items, IngestProgress progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        var outcomes = new IngestOutcome[items.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (i, token) =>
        {
            try
            {
                outcomes[i] = await OneAsync(items[i], progress, token).ConfigureAwait(false);
            }
            finally
            {
                progress.FileDone();
            }
        }).ConfigureAwait(false);
        return outcomes;
    }

    private async Task<IngestOutcome> OneAsync(IngestItem item, IngestProgress progress, CancellationToken ct)
    {
        long size;
        string sha;
        try
        {
            size = new FileInfo(item.Path).Length;
            sha = await HashAsync(item.Path, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new IngestOutcome(item.Source, IngestOutcomeKind.Rejected, null, null, 0, $"cannot read the file: {e.Message}");
        }

        var mine = new TaskCompletionSource<IngestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var owner = _bySha.GetOrAdd(sha, mine);
        if (owner != mine)
        {
            var first = await owner.Task.WaitAsync(ct).ConfigureAwait(false);
            progress.AddBytes(size);
            return first.Kind == IngestOutcomeKind.Rejected
                ? first with { Source = item.Source }
                : new IngestOutcome(item.Source, IngestOutcomeKind.Duplicate, first.VideoId, sha, size, "same content as another file in this run");
        }

        if (state.TryGet(server, sha, out string known))
        {
            progress.AddBytes(size);
            var resumed = new IngestOutcome(item.Source, IngestOutcomeKind.Resumed, known, sha, size, "in the state file");
            mine.SetResult(resumed);
            return resumed;
        }

        try
        {
            var outcome = await UploadWithRetriesAsync(item, sha, size, progress, ct).ConfigureAwait(false);
            if (outcome.Kind is IngestOutcomeKind.Uploaded or IngestOutcomeKind.Duplicate && outcome.VideoId is not null)
            {
                state.Record(server, sha, outcome.VideoId);
            }

            mine.SetResult(outcome);
            return outcome;
        }
        catch (Exception e)
        {
            mine.TrySetException(e);
            throw;
        }
    }

    private async Task<IngestOutcome> UploadWithRetriesAsync(IngestItem item, string sha, long size, IngestProgress progress, CancellationToken ct)
    {
        const int Attempts = 3;
        for (int attempt = 1; ; attempt++)
        {
            long sent = 0;
            try
            {
                var (status, body) = await PostAsync(item, n =>
                {
                    sent += n;
                    progress.AddBytes(n);
                }, ct).ConfigureAwait(false);
                if (status == HttpStatusCode.Accepted || (int)status is >= 200 and < 300)
                {
                    using var doc = JsonDocument.Parse(body);
                    string? id = doc.RootElement.TryGetProperty("id", out var i) ? i.ToString() : null;
                    bool duplicate = doc.RootElement.TryGetProperty("duplicate", out var d) && d.ValueKind == JsonValueKind.True;
                    string serverSha = doc.RootElement.TryGetProperty("sha256", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : sha;
                    if (!string.Equals(serverSha, sha, StringComparison.OrdinalIgnoreCase))
                    {
                        return new IngestOutcome(item.Source, IngestOutcomeKind.Rejected, id, sha, size, $"the server hashed {serverSha}, the local file is {sha} (changed while uploading?)");
                    }

                    return new IngestOutcome(item.Source, duplicate ? IngestOutcomeKind.Duplicate : IngestOutcomeKind.Uploaded, id, sha, size, null);
                }

                string detail = ProblemDetail(body, status);
                if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    throw new InvalidOperationException($"the server answered {(int)status}: {detail}");
                }

                bool transient = (int)status >= 500 || status == HttpStatusCode.TooManyRequests || status == HttpStatusCode.RequestTimeout;
                if (!transient || attempt >= Attempts)
                {
                    return new IngestOutcome(item.Source, IngestOutcomeKind.Rejected, null, sha, size, $"{(int)status} {detail}");
                }
            }
            catch (HttpRequestException e) when (attempt < Attempts)
            {
                _ = e;  // retried below
            }
            catch (HttpRequestException e)
            {
                progress.AddBytes(size - sent);
                return new IngestOutcome(item.Source, IngestOutcomeKind.Rejected, null, sha, size, $"network error: {e.Message}");
            }

            progress.AddBytes(-sent);
            await Task.Delay(RetryDelay * attempt, ct).ConfigureAwait(false);
        }
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(IngestItem item, Action<int> onBytes, CancellationToken ct)
    {
        var file = new FileStream(item.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        await using var _ = file.ConfigureAwait(false);
        using var content = new MultipartFormDataContent();
        content.Add(new StringContent(item.Title), "title");
        if (item.Tags.Count > 0) content.Add(new StringContent(string.Join(",", item.Tags)), "tags");
        var part = new StreamContent(new CountingStream(file, onBytes), 81920);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(part, "file", Path.GetFileName(item.Path));
        using var response = await http.PostAsync(new Uri("v1/videos", UriKind.Relative), content, ct).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return (response.StatusCode, body);
    }

    /// <summary>The ProblemDetails <c>detail</c> (or <c>title</c>), else the raw body, else the status name.</summary>
    public static string ProblemDetail(string body, HttpStatusCode status)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String) return d.GetString()!;
                if (doc.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String) return t.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        string trimmed = body.Trim();
        return trimmed.Length == 0 ? status.ToString() : trimmed.Length > 200 ? trimmed[..200] + "…" : trimmed;
    }

    public static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await using var _ = stream.ConfigureAwait(false);
        byte[] hash = await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>A read-only pass-through that reports how many bytes were read.</summary>
    private sealed class CountingStream(Stream inner, Action<int> onBytes) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            onBytes(n);
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            onBytes(n);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
