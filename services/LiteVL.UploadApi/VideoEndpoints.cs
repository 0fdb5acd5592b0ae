using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.Videos;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LiteVL.UploadApi;

public sealed record UploadResponse(Guid Id, VideoState State, string Sha256, bool Duplicate);

public sealed record TimelineEntry(VideoState State, DateTime At, string? Detail);

public sealed record SegmentView(int Index, double Start, double End, string ThumbnailUrl);

public sealed record FailureView(string? Stage, string? Reason);

public sealed record VideoView(
    Guid Id,
    string? Title,
    IReadOnlyList<string> Tags,
    VideoState State,
    string Sha256,
    long SizeBytes,
    double? DurationSeconds,
    int SegmentCount,
    string? ModelVersion,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    FailureView? Failure,
    IReadOnlyList<TimelineEntry> Timeline,
    IReadOnlyList<SegmentView> Segments);

public sealed record VideoSummary(Guid Id, string? Title, VideoState State, long SizeBytes, int SegmentCount, DateTime CreatedAt, string? FailureReason);

public sealed record VideoPage(IReadOnlyList<VideoSummary> Items, int Page, int PageSize, int Total);

/// <summary>The video routes of the REST API: upload, status, listing, thumbnails (a tenant's own videos; the read model and the deletion are <see cref="VideoCatalog"/> and <see cref="DeleteVideoService"/>).</summary>
public static class VideoEndpoints
{
    /// <summary>Room for multipart boundaries and form fields on top of the video itself.</summary>
    private const long MultipartOverhead = 1 << 20;

    public static RouteGroupBuilder MapVideoEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/videos").RequireAuthorization().WithTags("Videos");
        group.MapPost("/", Upload).DisableAntiforgery().WithName("UploadVideo")
            .WithSummary("Upload a video: multipart (file, title, tags) or a raw video/* body (?title=&tags=a,b&filename=).");
        group.MapGet("/{id:guid}", Get).WithName("GetVideo");
        group.MapGet("/", List).WithName("ListVideos");
        group.MapGet("/{id:guid}/segments/{index:int}/thumbnail", Thumbnail).WithName("GetThumbnail");
        group.MapDelete("/{id:guid}", Delete).WithName("DeleteVideo")
            .WithSummary("Delete a video: its rows, original, frames, thumbnails, feature tensors and vector points.");
        return group;
    }

    internal static async Task<IResult> Upload(HttpContext http, UploadService uploads, IOptions<UploadOptions> options, CancellationToken ct)
    {
        var limits = options.Value;
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = limits.MaxBytes + MultipartOverhead;
        }

        if (http.Request.ContentLength > limits.MaxBytes + MultipartOverhead)
        {
            return ServiceDefaultsExtensions.Problem(StatusCodes.Status413PayloadTooLarge, "Video too large", $"The upload exceeds the limit of {limits.MaxBytes} bytes.");
        }

        string tenant = http.User.Tenant();
        var query = http.Request.Query;
        string? title = query["title"];
        var tags = ParseTags(query["tags"]);
        try
        {
            UploadResult? result = null;
            string? contentType = http.Request.ContentType;
            if (contentType is not null && contentType.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                string boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(contentType).Boundary).Value ?? string.Empty;
                if (boundary.Length == 0)
                {
                    return ServiceDefaultsExtensions.Problem(StatusCodes.Status400BadRequest, "Bad multipart body", "The multipart content type has no boundary.");
                }

                var reader = new MultipartReader(boundary, http.Request.Body);
                bool fieldsAfterFile = false;
                while (await reader.ReadNextSectionAsync(ct).ConfigureAwait(false) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                    {
                        continue;
                    }

                    string name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? string.Empty;
                    if (disposition.IsFileDisposition() && name == "file" && result is null)
                    {
                        string? fileName = Path.GetFileName(HeaderUtilities.RemoveQuotes(disposition.FileName).Value);
                        result = await uploads.UploadAsync(tenant, section.Body, new UploadMetadata(title, tags, fileName, section.ContentType), ct).ConfigureAwait(false);
                    }
                    else if (disposition.IsFormDisposition())
                    {
                        string value = await ReadField(section, ct).ConfigureAwait(false);
                        if (name == "title")
                        {
                            title = value.Trim();
                            fieldsAfterFile |= result is not null;
                        }
                        else if (name == "tags")
                        {
                            tags = [.. tags, .. ParseTags(value)];
                            fieldsAfterFile |= result is not null;
                        }
                    }
                }

                if (result is null)
                {
                    return ServiceDefaultsExtensions.Problem(StatusCodes.Status400BadRequest, "No file", "The multipart body has no part named 'file'.");
                }

                if (fieldsAfterFile && !result.Duplicate)
                {
                    await uploads.UpdateMetadataAsync(result.Id, title, tags, ct).ConfigureAwait(false);
                }
            }
            else if (contentType is not null && (contentType.StartsWith("video/", StringComparison.OrdinalIgnoreCase) || contentType.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase)))
            {
                result = await uploads.UploadAsync(tenant, http.Request.Body, new UploadMetadata(title, tags, Path.GetFileName((string?)query["filename"]), contentType), ct).ConfigureAwait(false);
            }
            else
            {
                return ServiceDefaultsExtensions.Problem(
                    StatusCodes.Status415UnsupportedMediaType,
                    "Unsupported content type",
                    "Send multipart/form-data with a 'file' part, or the video itself with a video/* content type.");
            }

            if (tags.Count > limits.MaxTags)
            {
                return ServiceDefaultsExtensions.Problem(StatusCodes.Status400BadRequest, "Too many tags", $"At most {limits.MaxTags} tags.");
            }

            return Results.Accepted($"/v1/videos/{result.Id}", new UploadResponse(result.Id, result.State, result.Sha256, result.Duplicate));
        }
        catch (UploadRejectedException e)
        {
            return ServiceDefaultsExtensions.Problem(e.Status, e.Title, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ServiceDefaultsExtensions.Problem(StatusCodes.Status413PayloadTooLarge, "Video too large", $"The upload exceeds the limit of {limits.MaxBytes} bytes.");
        }
        catch (InvalidDataException e)
        {
            return ServiceDefaultsExtensions.Problem(StatusCodes.Status400BadRequest, "Bad multipart body", e.Message);
        }
        catch (Exception e) when (UploadService.IsCutOff(e))
        {
            // The client is gone mid-body (UploadService logged it in one line; nothing was stored): there is no one to
            // answer, and it is not a server error to log with a stack trace, which the exception handler would do.
            http.Abort();
            return Results.Empty;
        }
    }

    internal static async Task<Results<Ok<VideoView>, ProblemHttpResult>> Get(Guid id, HttpContext http, VideoCatalog videos, CancellationToken ct)
    {
        var video = await videos.FindAsync(id, http.User.Tenant(), ct).ConfigureAwait(false);
        if (video is null)
        {
            return NotFound(id);
        }

        return TypedResults.Ok(new VideoView(
            video.Id,
            video.Title,
            video.Tags,
            video.State,
            video.Sha256,
            video.SizeBytes,
            video.DurationSeconds,
            video.SegmentCount,
            video.ModelVersion,
            video.CreatedAt,
            video.UpdatedAt,
            video.State == VideoState.Failed ? new FailureView(video.FailedStage, video.FailureReason) : null,
            [.. video.Events.OrderBy(e => e.At).ThenBy(e => e.Id).Select(e => new TimelineEntry(e.State, e.At, e.Detail))],
            [.. video.Segments.OrderBy(s => s.Index).Select(s => new SegmentView(s.Index, s.StartSeconds, s.EndSeconds, $"/v1/videos/{video.Id}/segments/{s.Index}/thumbnail"))]));
    }

    internal static async Task<Results<Ok<VideoPage>, ProblemHttpResult>> List(HttpContext http, VideoCatalog videos, VideoState? state, int page = 1, int pageSize = 50, CancellationToken ct = default)
    {
        if (VideoCatalog.PagingProblem(page, pageSize) is { } badPaging)
        {
            return badPaging;
        }

        var rows = await videos.PageAsync(
            new VideoFilter(http.User.Tenant(), state), page, pageSize,
            v => new VideoSummary(v.Id, v.Title, v.State, v.SizeBytes, v.SegmentCount, v.CreatedAt, v.FailureReason), ct).ConfigureAwait(false);
        return TypedResults.Ok(new VideoPage(rows.Items, page, pageSize, rows.Total));
    }

    internal static Task<IResult> Thumbnail(Guid id, int index, HttpContext http, VideoCatalog videos, CancellationToken ct) =>
        videos.ThumbnailAsync(id, index, http.User.Tenant(), ct);

    /// <summary>204 once rows and files are gone (the indexer removes the points on VideoDeleted); 404 for another tenant's or an unknown video.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, HttpContext http, DeleteVideoService deletions, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(deletions);
        var deleted = await deletions.DeleteAsync(http.User.Tenant(), id, ct).ConfigureAwait(false);
        return deleted is null ? NotFound(id) : TypedResults.NoContent();
    }

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(detail: $"No video {id} for this tenant.", statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static List<string> ParseTags(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(t => t.Length is > 0 and <= 64).Distinct(StringComparer.Ordinal)];

    private static async Task<string> ReadField(MultipartSection section, CancellationToken ct)
    {
        using var reader = new StreamReader(section.Body);
        var buffer = new char[4096];
        int read = await reader.ReadBlockAsync(buffer, ct).ConfigureAwait(false);
        if (read == buffer.Length && reader.Peek() >= 0)
        {
            throw new InvalidDataException("A form field is longer than 4096 characters.");
        }

        return new string(buffer, 0, read);
    }
}
