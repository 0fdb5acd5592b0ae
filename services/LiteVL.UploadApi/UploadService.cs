using System.Security.Cryptography;
using LiteVL.Contracts;
using LiteVL.Pipeline;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LiteVL.UploadApi;

/// <summary>What an upload became.</summary>
public sealed record UploadResult(Guid Id, VideoState State, string Sha256, bool Duplicate, long SizeBytes);

/// <summary>Metadata that comes with an upload.</summary>
public sealed record UploadMetadata(string? Title, IReadOnlyList<string> Tags, string? FileName, string? ContentType);

/// <summary>Why an upload was refused; mapped to 413/415/400 ProblemDetails.</summary>
public sealed class UploadRejectedException(int status, string title, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Title { get; } = title;
}

/// <summary>
/// Streams a video body into the blob store while hashing it (never holding the video in memory), refuses what is
/// not a video or too big, deduplicates by (tenant, SHA-256), records the video and publishes <see cref="VideoUploaded"/>.
/// </summary>
public sealed partial class UploadService(IBlobStore blobs, LiteVLDbContext db, VideoLedger ledger, IPublishEndpoint publish, IOptions<UploadOptions> options, TimeProvider clock, ILogger<UploadService> logger)
{
    public async Task<UploadResult> UploadAsync(string tenantId, Stream body, UploadMetadata metadata, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(metadata);
        CheckMetadata(metadata);
        long max = options.Value.MaxBytes;
        var id = Guid.NewGuid();
        string key = BlobKeys.Original(tenantId, id);
        await using var pending = blobs.BeginWrite(key);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        var head = new byte[VideoSniffer.HeaderBytes];
        int headLength = 0;
        long total = 0;
        bool sniffed = false;
        while (true)
        {
            int read;
            try
            {
                read = await body.ReadAsync(buffer, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsCutOff(e))
            {
                // The client went away mid-body (cancelled, reset, or closed before Content-Length was reached): the
                // pending blob is deleted on dispose and no row was written. One line says so, as the only trace of it.
                LogCutOff(logger, tenantId, total, e is OperationCanceledException ? "request aborted" : "connection reset or closed");
                throw;
            }

            if (read == 0)
            {
                break;
            }

            total += read;
            if (total > max)
            {
                throw new UploadRejectedException(StatusCodes.Status413PayloadTooLarge, "Video too large", $"The upload exceeds the limit of {max} bytes.");
            }

            if (!sniffed)
            {
                int take = Math.Min(read, head.Length - headLength);
                buffer.AsSpan(0, take).CopyTo(head.AsSpan(headLength));
                headLength += take;
                if (headLength == head.Length)
                {
                    Sniff(head);
                    sniffed = true;
                }
            }

            sha.AppendData(buffer, 0, read);
            await pending.Stream.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
        }

        if (total == 0)
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Empty upload", "The body holds no bytes: send the video file.");
        }

        if (!sniffed)
        {
            Sniff(head.AsSpan(0, headLength));
        }

        string hash = Convert.ToHexStringLower(sha.GetHashAndReset());
        var existing = await FindAsync(tenantId, hash, ct).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing; // the pending blob is discarded on dispose
        }

        await pending.CommitAsync().ConfigureAwait(false);
        var video = new Video
        {
            Id = id,
            TenantId = tenantId,
            Sha256 = hash,
            SizeBytes = total,
            ContentType = metadata.ContentType,
            OriginalFileName = metadata.FileName,
            Title = metadata.Title ?? Path.GetFileNameWithoutExtension(metadata.FileName),
            Tags = [.. metadata.Tags],
        };
        try
        {
            await ledger.CreateAsync(video, ct).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            // Two identical uploads raced: the other one won; keep its video and drop our copy.
            db.ChangeTracker.Clear();
            blobs.Delete(key);
            return await FindAsync(tenantId, hash, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("The video vanished while deduplicating.");
        }

        await publish.Publish(PipelineMessages.Uploaded(id, tenantId, hash, total, clock.GetUtcNow().UtcDateTime), ct).ConfigureAwait(false);
        LogAccepted(logger, id, tenantId, total);
        return new UploadResult(id, VideoState.Uploaded, hash, Duplicate: false, total);
    }

    /// <summary>Whether reading the body failed because the client went away (cancelled, reset, closed early), not because of a limit.</summary>
    public static bool IsCutOff(Exception e) =>
        e is OperationCanceledException or IOException && e is not BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge };

    /// <summary>Title and tags sent after the file part of a multipart upload.</summary>
    public async Task UpdateMetadataAsync(Guid id, string? title, IReadOnlyList<string> tags, CancellationToken ct)
    {
        // The video is stored and announced already, so a 400 now would report an accepted upload as refused: a title
        // over the column's size (which PostgreSQL would refuse, a 500) is cut to it instead.
        if (title is { Length: > MaxTitleLength }) title = title[..(MaxTitleLength - 1)] + "…";
        var video = await db.Videos.FirstAsync(v => v.Id == id, ct).ConfigureAwait(false);
        video.Title = string.IsNullOrWhiteSpace(title) ? video.Title : title;
        video.Tags = [.. tags];
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
    }

    private async Task<UploadResult?> FindAsync(string tenantId, string hash, CancellationToken ct) =>
        await db.Videos.AsNoTracking()
            .Where(v => v.TenantId == tenantId && v.Sha256 == hash)
            .Select(v => new UploadResult(v.Id, v.State, v.Sha256, true, v.SizeBytes))
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);

    /// <summary>Longest accepted file name, in characters (the longest a Linux, macOS or Windows file name can be).</summary>
    public const int MaxFileNameLength = 255;

    /// <summary>Longest accepted title and content type: the columns' sizes (PostgreSQL refuses longer values).</summary>
    public const int MaxTitleLength = 500, MaxContentTypeLength = 200;

    /// <summary>
    /// Refuses, before a byte of the body is read, metadata that cannot be stored or shown safely. Reasons: a value over
    /// its column's size made PostgreSQL refuse the row after the blob was written, which the deduplication path took for
    /// a lost race and answered 500; control characters in a file name forge log lines and drive terminals (ESC
    /// sequences) wherever a failure reason naming the file is printed; bidirectional overrides (U+202E) make
    /// "clip‮gpj.mp4" read as "clip4pm.jpg".
    /// </summary>
    private static void CheckMetadata(UploadMetadata metadata)
    {
        if (metadata.FileName is { } name)
        {
            if (name.Length > MaxFileNameLength)
            {
                throw new UploadRejectedException(StatusCodes.Status400BadRequest, "File name too long",
                    $"The file name has {name.Length} characters; at most {MaxFileNameLength} are accepted. Rename the file and upload it again.");
            }

            if (name.Select(c => (char?)c).FirstOrDefault(c => IsUnsafeInName(c!.Value)) is { } bad)
            {
                throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Bad file name",
                    $"The file name contains the character U+{(int)bad:X4} (a control or text-direction character); rename the file and upload it again.");
            }
        }

        CheckTitle(metadata.Title);

        if (metadata.ContentType is { Length: > MaxContentTypeLength } type)
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Content type too long", $"The content type has {type.Length} characters; at most {MaxContentTypeLength} are accepted.");
        }
    }

    private static void CheckTitle(string? title)
    {
        if (title is { Length: > MaxTitleLength })
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Title too long", $"The title has {title.Length} characters; at most {MaxTitleLength} are accepted.");
        }
    }

    /// <summary>C0 and C1 controls, DEL, and the bidirectional embedding, override and isolate characters.</summary>
    private static bool IsUnsafeInName(char c) => char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    private static void Sniff(ReadOnlySpan<byte> head)
    {
        if (!VideoSniffer.LooksLikeVideo(head, out _))
        {
            throw new UploadRejectedException(
                StatusCodes.Status415UnsupportedMediaType,
                "Not a video",
                "The body is not a recognised video container (MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, Ogg, ASF).");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload of tenant {TenantId} cut off by the client after {Bytes} bytes ({Reason}): nothing was kept")]
    private static partial void LogCutOff(ILogger logger, string tenantId, long bytes, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Accepted video {VideoId} of tenant {TenantId} ({SizeBytes} bytes)")]
    private static partial void LogAccepted(ILogger logger, Guid videoId, string tenantId, long sizeBytes);
}
