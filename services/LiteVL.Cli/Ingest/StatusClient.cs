using System.Globalization;
using System.Text.Json;

namespace LiteVL.Cli.Ingest;

/// <summary>One failed video as listed by the API.</summary>
public sealed record FailedVideo(string Id, string? Title, DateTime CreatedAt, string? Reason);

/// <summary>Counts by pipeline state and the most recent failures.</summary>
public sealed record StatusReport(IReadOnlyList<(string State, int Count)> Counts, int FailedTotal, IReadOnlyList<FailedVideo> RecentFailures);

/// <summary>
/// Reads <c>GET /v1/videos?state=X&amp;pageSize=1</c> for each state (the answer's <c>total</c>) and
/// <c>GET /v1/videos?state=Failed&amp;pageSize=10</c> (newest first) for the failure reasons.
/// </summary>
public static class StatusClient
{
    public static readonly IReadOnlyList<string> States =
        ["Uploaded", "Extracting", "Extracted", "Encoding", "Encoded", "Indexing", "Indexed", "Failed"];

    public static async Task<StatusReport> FetchAsync(HttpClient http, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var counts = new List<(string, int)>();
        foreach (string state in States)
        {
            using var doc = await GetAsync(http, $"v1/videos?state={state}&page=1&pageSize=1", ct).ConfigureAwait(false);
            counts.Add((state, doc.RootElement.GetProperty("total").GetInt32()));
        }

        using var failed = await GetAsync(http, "v1/videos?state=Failed&page=1&pageSize=10", ct).ConfigureAwait(false);
        var recent = failed.RootElement.GetProperty("items").EnumerateArray().Select(v => new FailedVideo(
            v.GetProperty("id").ToString(),
            v.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null,
            v.TryGetProperty("createdAt", out var c) && c.ValueKind == JsonValueKind.String ? c.GetDateTime() : default,
            v.TryGetProperty("failureReason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null)).ToList();
        return new StatusReport(counts, failed.RootElement.GetProperty("total").GetInt32(), recent);
    }

    public static void Write(TextWriter o, StatusReport report)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(report);
        var inv = CultureInfo.InvariantCulture;
        foreach (var (state, count) in report.Counts)
        {
            o.WriteLine(string.Create(inv, $"{state,-11} {count,8}"));
        }

        o.WriteLine(string.Create(inv, $"{"total",-11} {report.Counts.Sum(c => c.Count),8}"));
        if (report.RecentFailures.Count == 0) return;
        o.WriteLine();
        o.WriteLine(string.Create(inv, $"most recent failures ({report.RecentFailures.Count} of {report.FailedTotal}):"));
        foreach (var f in report.RecentFailures)
        {
            string title = f.Title ?? string.Empty;
            title = title.Length > 28 ? title[..27] + "…" : title;
            o.WriteLine(string.Create(inv, $"{f.Id,-36}  {f.CreatedAt:yyyy-MM-dd HH:mm:ss}  {title,-28}  {f.Reason ?? "(no reason recorded)"}"));
        }
    }

    private static async Task<JsonDocument> GetAsync(HttpClient http, string url, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(url, UriKind.Relative), ct).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"the server answered {(int)response.StatusCode} to GET /{url}: {IngestUploader.ProblemDetail(body, response.StatusCode)}");
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"GET /{url} did not answer JSON: {e.Message}", e);
        }
    }
}
