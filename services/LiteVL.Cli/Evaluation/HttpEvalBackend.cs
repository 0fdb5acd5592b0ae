using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LiteVL.Cli.Evaluation;

/// <summary>
/// <see cref="IEvalBackend"/> over the REST API: <c>POST /v1/videos</c> (multipart <c>title</c> + <c>file</c>),
/// <c>GET /v1/videos/{id}</c>, <c>POST /v1/search</c>, <c>POST /v1/videos/{id}/ask</c>. Parsing lives in static functions the tests call directly.
/// </summary>
public sealed class HttpEvalBackend : IEvalBackend, IDisposable
{
    private readonly HttpClient _http;

    public HttpEvalBackend(Uri server, string key)
    {
        _http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public async Task<UploadOutcome> UploadAsync(string path, string title, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(title), "title"); // before the file, so the API stores it with the upload
        var file = new StreamContent(File.OpenRead(path));
        file.Headers.ContentType = new MediaTypeHeaderValue(ContentTypeOf(path));
        form.Add(file, "file", Path.GetFileName(path));
        using var response = await SendAsync(() => _http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form, ct), "POST /v1/videos").ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        ThrowOnAuthOrServerError(response.StatusCode, "POST /v1/videos", body);
        return ParseUploadResponse(response.StatusCode, body);
    }

    public async Task<VideoStatus> GetVideoAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.GetAsync(new Uri($"/v1/videos/{Uri.EscapeDataString(id)}", UriKind.Relative), ct), $"GET /v1/videos/{id}").ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        ThrowOnAuthOrServerError(response.StatusCode, $"GET /v1/videos/{id}", body);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /v1/videos/{id} answered {(int)response.StatusCode}: {Excerpt(body)}");
        }

        return ParseVideoStatus(body);
    }

    public async Task<SearchOutcome> SearchAsync(SearchQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var content = new StringContent(SearchRequestJson(query), Encoding.UTF8, "application/json");
        using var response = await SendAsync(() => _http.PostAsync(new Uri("/v1/search", UriKind.Relative), content, ct), "POST /v1/search").ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        ThrowOnAuthOrServerError(response.StatusCode, "POST /v1/search", body);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/search answered {(int)response.StatusCode} for \"{query.Query}\": {Excerpt(body)}");
        }

        return ParseSearchResponse(body);
    }

    public async Task<AskOutcome> AskAsync(AskQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        string what = $"POST /v1/videos/{query.VideoId}/ask";
        using var content = new StringContent(AskRequestJson(query), Encoding.UTF8, "application/json");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await SendAsync(() => _http.PostAsync(new Uri($"/v1/videos/{Uri.EscapeDataString(query.VideoId)}/ask", UriKind.Relative), content, ct), what).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        double ms = watch.Elapsed.TotalMilliseconds;
        ThrowOnAuthOrServerError(response.StatusCode, what, body);
        if (!response.IsSuccessStatusCode)
        {
            // 409: the model has no QA heads or the video is not indexed with it; 400: e.g. more candidates than the
            // server takes (LiteVL:Ask:MaxAnswers). The server's own ProblemDetails says which.
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode} for \"{query.Question}\": {ProblemText(body)}");
        }

        return ParseAskResponse(body, ms);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Network failures become a message naming the server (the CLI prints it without a stack trace).</summary>
    private async Task<HttpResponseMessage> SendAsync(Func<Task<HttpResponseMessage>> send, string what)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new InvalidOperationException($"{what}: cannot reach {_http.BaseAddress} ({e.Message}). Is the platform running (dotnet run --project services/LiteVL.Host)? Set --server.", e);
        }
    }

    /// <summary>The JSON body of <c>POST /v1/search</c>; <c>candidates</c> is left out when null (the server's default).</summary>
    public static string SearchRequestJson(SearchQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("query", query.Query);
            w.WriteNumber("limit", query.Limit);
            if (query.Candidates is { } k)
            {
                w.WriteNumber("candidates", k);
            }

            w.WriteBoolean("rerank", query.Rerank);
            if (query.Pooling is { } pooling)
            {
                w.WriteString("pooling", pooling);
            }

            w.WriteStartObject("filter");
            w.WriteStartArray("videoIds");
            foreach (string id in query.VideoIds)
            {
                w.WriteStringValue(id);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The JSON body of <c>POST /v1/videos/{id}/ask</c>; <c>answers</c> is left out when null (generate mode).</summary>
    public static string AskRequestJson(AskQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("question", query.Question);
            if (query.Answers is { } answers)
            {
                w.WriteStartArray("answers");
                foreach (string a in answers)
                {
                    w.WriteStringValue(a);
                }

                w.WriteEndArray();
            }

            w.WriteString("mode", query.Mode);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads <c>{answer, score, mode, modelVersion, warnings, ...}</c> of an ask response.</summary>
    public static AskOutcome ParseAskResponse(string body, double milliseconds)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (!root.TryGetProperty("answer", out var answer) || answer.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"Ask response without an \"answer\": {Excerpt(body)}");
        }

        string mode = root.TryGetProperty("mode", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : string.Empty;
        string? model = root.TryGetProperty("modelVersion", out var mv) && mv.ValueKind == JsonValueKind.String ? mv.GetString() : null;
        var warnings = new List<string>();
        if (root.TryGetProperty("warnings", out var w) && w.ValueKind == JsonValueKind.Array)
        {
            warnings.AddRange(w.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!));
        }

        return new AskOutcome(answer.GetString()!, Number(root, "score"), mode, model, warnings, milliseconds);
    }

    /// <summary>202 <c>{id, state, sha256, duplicate}</c> → the id; another 4xx → a rejection naming status and reason.</summary>
    public static UploadOutcome ParseUploadResponse(HttpStatusCode status, string body)
    {
        if ((int)status is >= 200 and < 300)
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            string id = root.GetProperty("id").GetString() ?? throw new InvalidDataException("Upload response without an id.");
            bool duplicate = root.TryGetProperty("duplicate", out var d) && d.ValueKind == JsonValueKind.True;
            return new UploadOutcome(id, duplicate, null);
        }

        return new UploadOutcome(null, false, $"upload refused with {(int)status}: {ProblemText(body)}");
    }

    public static VideoStatus ParseVideoStatus(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        string state = root.GetProperty("state").ValueKind == JsonValueKind.String ? root.GetProperty("state").GetString()! : root.GetProperty("state").GetRawText();
        string? reason = null;
        if (root.TryGetProperty("failure", out var failure) && failure.ValueKind == JsonValueKind.Object)
        {
            string? stage = failure.TryGetProperty("stage", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            string? why = failure.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            reason = stage is null ? why : $"{stage}: {why}";
        }

        string? model = root.TryGetProperty("modelVersion", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        int segments = root.TryGetProperty("segmentCount", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
        return new VideoStatus(state, reason, model, segments);
    }

    /// <summary>Reads <c>{hits: [{videoId, ...}], timings: {totalMs, rerankMs, ...}, reranked, pooling, modelVersion, warnings}</c>.</summary>
    public static SearchOutcome ParseSearchResponse(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (!root.TryGetProperty("hits", out var hits) || hits.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"Search response without a \"hits\" array: {Excerpt(body)}");
        }

        var ids = new List<string>(hits.GetArrayLength());
        foreach (var hit in hits.EnumerateArray())
        {
            ids.Add(hit.GetProperty("videoId").GetString() ?? throw new InvalidDataException("A search hit without a videoId."));
        }

        double total = 0, rerank = 0;
        if (root.TryGetProperty("timings", out var t) && t.ValueKind == JsonValueKind.Object)
        {
            total = Number(t, "totalMs");
            rerank = Number(t, "rerankMs");
        }

        bool reranked = root.TryGetProperty("reranked", out var rr) && rr.ValueKind == JsonValueKind.True;
        string? model = root.TryGetProperty("modelVersion", out var mv) && mv.ValueKind == JsonValueKind.String ? mv.GetString() : null;
        var warnings = new List<string>();
        if (root.TryGetProperty("warnings", out var w) && w.ValueKind == JsonValueKind.Array)
        {
            warnings.AddRange(w.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!));
        }

        string? pooling = root.TryGetProperty("pooling", out var pl) && pl.ValueKind == JsonValueKind.String ? pl.GetString() : null;
        return new SearchOutcome(ids, total, rerank, reranked, model, warnings, pooling);
    }

    private static double Number(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    private static void ThrowOnAuthOrServerError(HttpStatusCode status, string what, string body)
    {
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new InvalidOperationException($"{what} answered {(int)status}: check --key / --key-file ({ProblemText(body)}).");
        }

        if ((int)status >= 500)
        {
            throw new InvalidOperationException($"{what} answered {(int)status}: {Excerpt(body)}");
        }
    }

    /// <summary>The <c>detail</c> (or <c>title</c>) of a ProblemDetails body, else an excerpt of the body.</summary>
    private static string ProblemText(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            foreach (string field in new[] { "detail", "title" })
            {
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String)
                {
                    return v.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
        }

        return Excerpt(body);
    }

    private static string Excerpt(string body) => body.Length <= 400 ? body : body[..400] + "…";

    private static string ContentTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".mp4" or ".m4v" => "video/mp4",
        ".webm" => "video/webm",
        ".mkv" => "video/x-matroska",
        ".avi" => "video/x-msvideo",
        ".mov" => "video/quicktime",
        _ => "application/octet-stream",
    };
}
