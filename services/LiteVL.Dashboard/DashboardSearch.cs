using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using LiteVL.Search;
using LiteVL.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard;

/// <summary>
/// Body of <c>POST /admin/api/search</c>. <see cref="Tenant"/> picks whose videos an in-process search covers; a
/// separate dashboard forwards to the Query API, which searches the tenant of the key it is given:
/// <see cref="TenantKey"/> when set, else the admin's own key.
/// </summary>
public sealed record DashboardSearchRequest(string? Query, string? Tenant = null, int? Limit = null, int? Candidates = null, string? TenantKey = null);

/// <param name="EvidenceFrame">Index (0..T-1) of the sampled frame nearest to the evidence time, to highlight.</param>
/// <param name="FrameTimes">Times (s) of the segment's T sampled frames.</param>
public sealed record DashboardSegmentHit(
    int Index, double Start, double End, double Score, double CoarseScore, double? MatchLogit, double? EvidenceTime, int? EvidenceFrame,
    IReadOnlyList<double> FrameTimes, string ThumbnailUrl, string FramesUrl);

public sealed record DashboardVideoHit(Guid VideoId, string? Title, double Score, IReadOnlyList<DashboardSegmentHit> Segments);

/// <param name="Source"><c>in-process</c> (the query service of this process) or <c>query-api</c> (forwarded).</param>
public sealed record DashboardSearchResult(string Source, string? Tenant, string Query, string ModelVersion, bool Reranked, IReadOnlyList<string> Warnings, IReadOnlyList<DashboardVideoHit> Hits, SearchTimings Timings);

/// <summary>
/// Body of <c>POST /admin/api/videos/{id}/ask</c>: the question as <c>POST /v1/videos/{id}/ask</c> takes it. An
/// in-process ask covers the video's own tenant; a forwarded one asks as <see cref="TenantKey"/> (else the admin's key).
/// </summary>
public sealed record DashboardAskRequest(string? Question, IReadOnlyList<string>? Answers = null, string? Mode = null, string? TenantKey = null);

/// <param name="Source"><c>in-process</c> or <c>query-api</c>, as for search.</param>
public sealed record DashboardAskResult(string Source, string Question, AskResponse Answer);

public sealed class DashboardSearchException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// The search page's backend: <see cref="SearchService"/> directly when the query service runs in this process (the
/// embedded host), else <c>POST /v1/search</c> on <see cref="DashboardOptions.QueryApiUrl"/>. Either way the hits are
/// completed from the database with the frame times, so the page can highlight the evidence frame, and with the
/// dashboard's own thumbnail URLs (the admin key may read any tenant's thumbnails there). Questions about a video take
/// the same two ways (<see cref="AskService"/> or <c>POST /v1/videos/{id}/ask</c>).
/// </summary>
public sealed class DashboardSearch(IServiceProvider services, LiteVLDbContext db, IHttpClientFactory httpClients, IOptions<DashboardOptions> options)
{
    public const string HttpClientName = "litevl-query-api";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    /// <summary><c>in-process</c>, <c>query-api</c> or <c>unavailable</c>.</summary>
    public string Mode => services.GetService<SearchService>() is not null ? "in-process" : options.Value.QueryApiUrl is not null ? "query-api" : "unavailable";

    public async Task<DashboardSearchResult> SearchAsync(DashboardSearchRequest request, string? callerKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var query = new SearchRequest(request.Query, request.Limit, request.Candidates);
        SearchResponse response;
        string source;
        string? tenant = request.Tenant;
        if (services.GetService<SearchService>() is { } local)
        {
            if (string.IsNullOrWhiteSpace(tenant))
            {
                throw new DashboardSearchException(StatusCodes.Status400BadRequest, "Choose the tenant whose videos to search.");
            }

            try
            {
                response = await local.SearchAsync(tenant, query, ct).ConfigureAwait(false);
            }
            catch (SearchRequestException e)
            {
                throw new DashboardSearchException(StatusCodes.Status400BadRequest, e.Message);
            }

            source = "in-process";
        }
        else if (options.Value.QueryApiUrl is { } queryApi)
        {
            string key = string.IsNullOrWhiteSpace(request.TenantKey) ? callerKey ?? string.Empty : request.TenantKey.Trim();
            response = await ForwardAsync<SearchRequest, SearchResponse>(queryApi, "v1/search", key, query, ct).ConfigureAwait(false);
            tenant = null; // the Query API searched the key's tenant
            source = "query-api";
        }
        else
        {
            throw new DashboardSearchException(StatusCodes.Status503ServiceUnavailable, "Search is not available here: set LiteVL:Dashboard:QueryApiUrl to the Query API.");
        }

        return new DashboardSearchResult(source, tenant, response.Query, response.ModelVersion, response.Reranked, response.Warnings, await CompleteAsync(response.Hits, ct).ConfigureAwait(false), response.Timings);
    }

    public async Task<DashboardAskResult> AskAsync(Guid videoId, DashboardAskRequest request, string? callerKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ask = new AskRequest(request.Question, request.Answers, request.Mode);
        if (services.GetService<AskService>() is { } local)
        {
            // The admin may look at any tenant's video, so the question is asked as the video's own tenant.
            string? tenant = await db.Videos.AsNoTracking().Where(v => v.Id == videoId).Select(v => v.TenantId).SingleOrDefaultAsync(ct).ConfigureAwait(false);
            if (tenant is null)
            {
                throw new DashboardSearchException(StatusCodes.Status404NotFound, $"There is no video {videoId}.");
            }

            try
            {
                return new DashboardAskResult("in-process", ask.Question?.Trim() ?? string.Empty, await local.AskAsync(tenant, videoId, ask, ct).ConfigureAwait(false));
            }
            catch (AskException e)
            {
                throw new DashboardSearchException(
                    e.Failure switch
                    {
                        AskFailure.VideoNotFound => StatusCodes.Status404NotFound,
                        AskFailure.VideoNotReady or AskFailure.NoQaHeads => StatusCodes.Status409Conflict,
                        _ => StatusCodes.Status400BadRequest,
                    },
                    e.Message);
            }
        }

        if (options.Value.QueryApiUrl is { } queryApi)
        {
            string key = string.IsNullOrWhiteSpace(request.TenantKey) ? callerKey ?? string.Empty : request.TenantKey.Trim();
            var answer = await ForwardAsync<AskRequest, AskResponse>(queryApi, $"v1/videos/{videoId}/ask", key, ask, ct).ConfigureAwait(false);
            return new DashboardAskResult("query-api", ask.Question?.Trim() ?? string.Empty, answer);
        }

        throw new DashboardSearchException(StatusCodes.Status503ServiceUnavailable, "Questions are not available here: set LiteVL:Dashboard:QueryApiUrl to the Query API.");
    }

    private async Task<TResponse> ForwardAsync<TRequest, TResponse>(Uri queryApi, string path, string key, TRequest body, CancellationToken ct)
    {
        var http = httpClients.CreateClient(HttpClientName);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(queryApi, path)) { Content = JsonContent.Create(body, options: Json) };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            using var answer = await http.SendAsync(message, ct).ConfigureAwait(false);
            if (!answer.IsSuccessStatusCode)
            {
                string detail = await answer.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                try
                {
                    using var problem = JsonDocument.Parse(detail);
                    detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? detail : detail;
                }
                catch (JsonException)
                {
                }

                // The caller's own mistakes keep their status (a 404 or 409 of ask included); the Query API's failures are a bad gateway here.
                int status = (int)answer.StatusCode is 400 or 401 or 403 or 404 or 409 ? (int)answer.StatusCode : StatusCodes.Status502BadGateway;
                throw new DashboardSearchException(status, $"The Query API answered {(int)answer.StatusCode}: {detail}");
            }

            return await answer.Content.ReadFromJsonAsync<TResponse>(Json, ct).ConfigureAwait(false)
                ?? throw new DashboardSearchException(StatusCodes.Status502BadGateway, "The Query API answered with no body.");
        }
        catch (HttpRequestException e)
        {
            throw new DashboardSearchException(StatusCodes.Status502BadGateway, $"The Query API at {queryApi} did not answer: {e.Message}");
        }
    }

    private async Task<List<DashboardVideoHit>> CompleteAsync(IReadOnlyList<VideoHit> hits, CancellationToken ct)
    {
        var ids = hits.Select(h => h.VideoId).Distinct().ToList();
        var segments = (await db.Segments.AsNoTracking().Where(s => ids.Contains(s.VideoId))
            .Select(s => new { s.VideoId, s.Index, s.FrameTimes })
            .ToListAsync(ct).ConfigureAwait(false))
            .ToDictionary(s => (s.VideoId, s.Index), s => s.FrameTimes);
        return [.. hits.Select(h => new DashboardVideoHit(h.VideoId, h.Title, h.Score, [.. h.Segments.Select(s =>
        {
            var times = segments.TryGetValue((h.VideoId, s.Index), out var t) ? t : [];
            return new DashboardSegmentHit(
                s.Index, s.Start, s.End, s.Score, s.CoarseScore, s.MatchLogit, s.EvidenceTime, NearestFrame(times, s.EvidenceTime), times,
                DashboardApi.ThumbnailUrl(h.VideoId, s.Index), DashboardApi.FramesUrl(h.VideoId, s.Index));
        })]))];
    }

    internal static int? NearestFrame(IReadOnlyList<double> frameTimes, double? time)
    {
        if (time is not { } t || frameTimes.Count == 0)
        {
            return null;
        }

        int best = 0;
        for (int i = 1; i < frameTimes.Count; i++)
        {
            if (Math.Abs(frameTimes[i] - t) < Math.Abs(frameTimes[best] - t))
            {
                best = i;
            }
        }

        return best;
    }
}
