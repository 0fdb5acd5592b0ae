using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl search "text" --server URL --key KEY</c>: a readable table of the moments found.</summary>
internal static class SearchCommand
{
    public static Command Create(TextWriter output)
    {
        var text = new Argument<string>("text") { Description = "What happens in the moment you are looking for." };
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var key = new Option<string?>("--key") { Description = "API key (or set LITEVL_API_KEY)." };
        var limit = new Option<int>("--limit") { Description = "Videos to show.", DefaultValueFactory = _ => 10 };
        var candidates = new Option<int>("--candidates") { Description = "Segments to re-rank.", DefaultValueFactory = _ => 32 };
        var coarse = new Option<bool>("--coarse") { Description = "Skip re-ranking: coarse vector search only." };
        var rerank = new Option<bool>("--rerank") { Description = "Re-rank even where the server's model does not by default (without --coarse or --rerank the model's default applies)." };
        var tags = new Option<string[]>("--tag") { Description = "Only videos with one of these tags (repeatable).", AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "Print the raw JSON response." };
        var cmd = new Command("search", "Search a LiteVL server and print the hits.") { text, server, key, limit, candidates, coarse, rerank, tags, json };
        cmd.SetAction(async (p, ct) =>
        {
            string apiKey = p.GetValue(key) ?? Environment.GetEnvironmentVariable("LITEVL_API_KEY")
                ?? throw new ArgumentException("No API key: pass --key KEY or set LITEVL_API_KEY (the embedded host writes one to .litevl/demo-key).");
            using var http = new HttpClient { BaseAddress = new Uri(p.GetValue(server)!), Timeout = TimeSpan.FromMinutes(2) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            if (p.GetValue(coarse) && p.GetValue(rerank))
            {
                throw new ArgumentException("--coarse and --rerank contradict each other: give one of them, or neither for the model's default.");
            }

            string[] tagValues = p.GetValue(tags) ?? [];
            var body = new
            {
                query = p.GetValue(text),
                limit = p.GetValue(limit),
                candidates = p.GetValue(candidates),
                rerank = p.GetValue(coarse) ? false : p.GetValue(rerank) ? true : (bool?)null,
                filter = tagValues.Length > 0 ? new { tags = tagValues } : null,
            };
            using var response = await http.PostAsJsonAsync("/v1/search", body, ct).ConfigureAwait(false);
            string content = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(content);
            if (!response.IsSuccessStatusCode)
            {
                string detail = doc.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? content : content;
                throw new InvalidOperationException($"the server answered {(int)response.StatusCode}: {detail}");
            }

            if (p.GetValue(json))
            {
                output.WriteLine(content);
                return 0;
            }

            Print(doc.RootElement, output);
            return 0;
        });
        return cmd;
    }

    internal static void Print(JsonElement r, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        var t = r.GetProperty("timings");
        o.WriteLine(string.Create(inv, $"\"{r.GetProperty("query").GetString()}\"  model {r.GetProperty("modelVersion").GetString()}  {(r.GetProperty("reranked").GetBoolean() ? "re-ranked" : "coarse only")}  {t.GetProperty("totalMs").GetDouble():F0} ms (text {t.GetProperty("encodeTextMs").GetDouble():F0}, coarse {t.GetProperty("coarseSearchMs").GetDouble():F0}, tokens {t.GetProperty("loadTokensMs").GetDouble():F0}, re-rank {t.GetProperty("rerankMs").GetDouble():F0})"));
        foreach (var w in r.GetProperty("warnings").EnumerateArray())
        {
            o.WriteLine($"warning: {w.GetString()}");
        }

        var hits = r.GetProperty("hits");
        if (hits.GetArrayLength() == 0)
        {
            o.WriteLine("no hits");
            return;
        }

        o.WriteLine();
        o.WriteLine($"{"#",2}  {"video",-36}  {"title",-28}  {"segment",-15}  {"score",8}  {"match",8}  {"cosine",7}  {"evidence",8}");
        int rank = 0;
        foreach (var hit in hits.EnumerateArray())
        {
            rank++;
            bool first = true;
            foreach (var s in hit.GetProperty("segments").EnumerateArray())
            {
                string title = hit.GetProperty("title").GetString() ?? string.Empty;
                title = title.Length > 28 ? title[..27] + "…" : title;
                string segment = string.Create(inv, $"{Clock(s.GetProperty("start").GetDouble())}–{Clock(s.GetProperty("end").GetDouble())}");
                string match = s.GetProperty("matchLogit").ValueKind == JsonValueKind.Number ? s.GetProperty("matchLogit").GetDouble().ToString("F3", inv) : "-";
                string evidence = s.GetProperty("evidenceTime").ValueKind == JsonValueKind.Number ? Clock(s.GetProperty("evidenceTime").GetDouble()) : "-";
                o.WriteLine(string.Create(inv, $"{(first ? rank.ToString(inv) : string.Empty),2}  {(first ? hit.GetProperty("videoId").GetString() : string.Empty),-36}  {(first ? title : string.Empty),-28}  {segment,-15}  {s.GetProperty("score").GetDouble(),8:F3}  {match,8}  {s.GetProperty("coarseScore").GetDouble(),7:F3}  {evidence,8}"));
                first = false;
            }
        }
    }

    private static string Clock(double seconds) =>
        TimeSpan.FromSeconds(seconds).ToString(seconds >= 3600 ? @"h\:mm\:ss\.f" : @"m\:ss\.f", CultureInfo.InvariantCulture);
}
