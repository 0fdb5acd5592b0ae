using System.Linq.Expressions;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LiteVL.Videos;

/// <summary>
/// Which videos a listing shows: one tenant's (the REST API: the caller's; the dashboard: any or a chosen one), one
/// state, and a <see cref="Text"/> that matches a video id exactly, or title, file name, tenant or failure reason (case-insensitive).
/// </summary>
public sealed record VideoFilter(string? TenantId = null, VideoState? State = null, string? Text = null);

/// <summary>One page of a listing: the rows asked for and how many videos the filter matches.</summary>
public sealed record VideoRows<T>(IReadOnlyList<T> Items, int Total);

/// <summary>
/// The one read model of videos, used by the REST API (<c>/v1/videos</c>, a tenant's own) and the dashboard
/// (<c>/admin/api/videos</c>, any tenant's): lookups with segments and timeline, paged listings, thumbnails.
/// A null tenant means every tenant (an admin). Each caller shapes the rows into its own response.
/// </summary>
public sealed class VideoCatalog(LiteVLDbContext db, IBlobStore blobs)
{
    public const int MaxPageSize = 500;

    /// <summary>A 400 ProblemDetails when <paramref name="page"/> or <paramref name="pageSize"/> is out of range, else null.</summary>
    public static ProblemHttpResult? PagingProblem(int page, int pageSize) =>
        page < 1 || pageSize is < 1 or > MaxPageSize
            ? TypedResults.Problem(detail: $"page must be ≥ 1 and pageSize between 1 and {MaxPageSize}.", statusCode: StatusCodes.Status400BadRequest, title: "Bad paging")
            : null;

    /// <summary>The video with its segments and timeline events, or null (unknown, or another tenant's).</summary>
    public Task<Video?> FindAsync(Guid id, string? tenantId, CancellationToken ct) =>
        db.Videos.AsNoTracking().AsSplitQuery()
            .Include(v => v.Segments).Include(v => v.Events)
            .FirstOrDefaultAsync(v => v.Id == id && (tenantId == null || v.TenantId == tenantId), ct);

    /// <summary>Newest first, page <paramref name="page"/> (from 1) of <paramref name="pageSize"/> rows shaped by <paramref name="row"/>.</summary>
    public async Task<VideoRows<T>> PageAsync<T>(VideoFilter filter, int page, int pageSize, Expression<Func<Video, T>> row, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var query = Filtered(filter);
        int total = await query.CountAsync(ct).ConfigureAwait(false);
        var items = await query.OrderByDescending(v => v.CreatedAt).ThenBy(v => v.Id)
            .Skip((page - 1) * pageSize).Take(pageSize)
            .Select(row)
            .ToListAsync(ct).ConfigureAwait(false);
        return new VideoRows<T>(items, total);
    }

    /// <summary>The JPEG thumbnail of a segment, or a 404 ProblemDetails (no such segment, another tenant's, or no file).</summary>
    public async Task<IResult> ThumbnailAsync(Guid id, int index, string? tenantId, CancellationToken ct)
    {
        var segments = db.Segments.AsNoTracking().Where(s => s.VideoId == id && s.Index == index);
        if (tenantId is not null)
        {
            segments = segments.Where(s => db.Videos.Any(v => v.Id == id && v.TenantId == tenantId));
        }

        string? key = await segments.Select(s => s.ThumbnailKey).FirstOrDefaultAsync(ct).ConfigureAwait(false);
        return key is not null && blobs.Exists(key)
            ? Results.Stream(blobs.OpenRead(key), "image/jpeg")
            : TypedResults.Problem(detail: $"Video {id} has no segment {index} with a thumbnail.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
    }

    private IQueryable<Video> Filtered(VideoFilter filter)
    {
        var query = db.Videos.AsNoTracking();
        if (filter.State is { } s)
        {
            query = query.Where(v => v.State == s);
        }

        if (!string.IsNullOrWhiteSpace(filter.TenantId))
        {
            query = query.Where(v => v.TenantId == filter.TenantId);
        }

        if (!string.IsNullOrWhiteSpace(filter.Text))
        {
            string text = filter.Text.Trim();
            if (Guid.TryParse(text, out var id))
            {
                query = query.Where(v => v.Id == id);
            }
            else
            {
                // lower() + LIKE behaves the same on SQLite and PostgreSQL; the StringComparison overloads do not translate.
                string lower = text.ToLowerInvariant();
#pragma warning disable CA1862
                query = query.Where(v => (v.Title != null && v.Title.ToLower().Contains(lower))
                    || (v.OriginalFileName != null && v.OriginalFileName.ToLower().Contains(lower))
                    || v.TenantId.ToLower().Contains(lower)
                    || (v.FailureReason != null && v.FailureReason.ToLower().Contains(lower)));
#pragma warning restore CA1862
            }
        }

        return query;
    }
}

public static class VideosExtensions
{
    /// <summary>The read model and the deletion; the Upload API and the dashboard both call it (once each in the embedded host).</summary>
    public static IServiceCollection AddLiteVLVideos(this IServiceCollection services)
    {
        services.TryAddScoped<VideoCatalog>();
        services.TryAddScoped<DeleteVideoService>();
        return services;
    }
}
