using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl ask VIDEO_ID "question" [--answers a,b,c] [--mode rank|generate]</c>: the answer, how sure, where it was seen.</summary>
internal static class AskCommand
{
    public static Command Create(TextWriter output)
    {
        var video = new Argument<string>("video") { Description = "Id of the video (as listed by 'litevl status' or the dashboard)." };
        var question = new Argument<string>("question") { Description = "A question about what happens in the video." };
        var answers = new Option<string?>("--answers") { Description = "Candidate answers, comma-separated: the most likely is picked (rank mode). Without them the model writes one." };
        var mode = new Option<string?>("--mode") { Description = "rank (pick from --answers) or generate (write an answer); default rank when --answers is given, else generate." };
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var key = new Option<string?>("--key") { Description = "API key (or set LITEVL_API_KEY)." };
        var json = new Option<bool>("--json") { Description = "Print the raw JSON response." };
        var cmd = new Command("ask", "Ask a LiteVL server a question about a video and print the answer.") { video, question, answers, mode, server, key, json };
        cmd.SetAction(async (p, ct) =>
        {
            // What can be told wrong without the server is told here, before a key or a connection is needed.
            string? modeValue = p.GetValue(mode)?.Trim().ToLowerInvariant();
            if (modeValue is not (null or "rank" or "generate"))
            {
                throw new ArgumentException($"--mode must be rank or generate, not '{p.GetValue(mode)}'.");
            }

            string[]? candidates = p.GetValue(answers) is { } list ? [.. list.Split(',').Select(a => a.Trim())] : null;
            if (candidates is not null && Array.FindIndex(candidates, a => a.Length == 0) is int empty and >= 0)
            {
                throw new ArgumentException($"--answers: candidate {empty + 1} is empty (answers are separated by commas).");
            }

            if (modeValue == "rank" && candidates is null)
            {
                throw new ArgumentException("--mode rank picks from candidate answers: give them with --answers a,b,c.");
            }

            string apiKey = p.GetValue(key) ?? Environment.GetEnvironmentVariable("LITEVL_API_KEY")
                ?? throw new ArgumentException("No API key: pass --key KEY or set LITEVL_API_KEY (the embedded host writes one to .litevl/demo-key).");
            using var http = new HttpClient { BaseAddress = new Uri(p.GetValue(server)!), Timeout = TimeSpan.FromMinutes(2) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            var body = new { question = p.GetValue(question), answers = candidates, mode = modeValue };
            using var response = await http.PostAsJsonAsync($"/v1/videos/{Uri.EscapeDataString(p.GetValue(video)!.Trim())}/ask", body, ct).ConfigureAwait(false);
            string content = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"the server answered {(int)response.StatusCode}: {Detail(content)}");
            }

            if (p.GetValue(json))
            {
                output.WriteLine(content);
                return 0;
            }

            using var doc = JsonDocument.Parse(content);
            Print(p.GetValue(question)!.Trim(), doc.RootElement, output);
            return 0;
        });
        return cmd;
    }

    internal static void Print(string question, JsonElement r, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        var segment = r.GetProperty("segment");
        o.WriteLine($"Q: {question}");
        o.WriteLine($"A: {r.GetProperty("answer").GetString()}  ({Percent(r.GetProperty("score").GetDouble())})");
        string evidence = r.GetProperty("evidenceTime").ValueKind == JsonValueKind.Number ? $"evidence at {Clock(r.GetProperty("evidenceTime").GetDouble())}, " : string.Empty;
        o.WriteLine(string.Create(inv,
            $"   {evidence}segment {segment.GetProperty("index").GetInt32()} ({Clock(segment.GetProperty("start").GetDouble())}–{Clock(segment.GetProperty("end").GetDouble())})  model {r.GetProperty("modelVersion").GetString()}, {r.GetProperty("mode").GetString()}"));
        if (r.TryGetProperty("warnings", out var warnings) && warnings.ValueKind == JsonValueKind.Array)
        {
            foreach (var w in warnings.EnumerateArray())
            {
                o.WriteLine($"   warning: {w.GetString()}");
            }
        }

        var alternatives = r.GetProperty("alternatives");
        if (alternatives.GetArrayLength() == 0)
        {
            return;
        }

        o.WriteLine("alternatives:");
        foreach (var a in alternatives.EnumerateArray())
        {
            o.WriteLine($"   {Percent(a.GetProperty("score").GetDouble()),9}  {a.GetProperty("answer").GetString()}");
        }
    }

    /// <summary>A probability as a percentage; a random test model's are tiny, so those keep their exponent rather than print as 0.0 %.</summary>
    internal static string Percent(double probability)
    {
        double percent = probability * 100;
        return percent >= 0.05 || percent == 0
            ? percent.ToString("F1", CultureInfo.InvariantCulture) + " %"
            : percent.ToString("0.0E+0", CultureInfo.InvariantCulture) + " %";
    }

    private static string Detail(string content)
    {
        try
        {
            using var problem = JsonDocument.Parse(content);
            return problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? content : content;
        }
        catch (JsonException)
        {
            return content;
        }
    }

    private static string Clock(double seconds) =>
        TimeSpan.FromSeconds(seconds).ToString(seconds >= 3600 ? @"h\:mm\:ss\.f" : @"m\:ss\.f", CultureInfo.InvariantCulture);
}
