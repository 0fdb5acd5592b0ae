using System.Globalization;
using System.Text.Json;
using LiteVL.Cli;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// <c>litevl eval --task qa</c> against the running embedded host (the shipped small model with its QA heads) on clips
/// the generator renders for this test, and the same evaluation of the host's installed model directory in-process:
/// the API path (upload, frame extraction, encoding, stored video tokens, <c>POST /v1/videos/{id}/ask</c>) must answer
/// as the model does locally, question type by question type, in both modes.
/// </summary>
public sealed class QaEvalOverApiTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Eval_qa_over_the_api_agrees_with_the_local_model_and_names_colours()
    {
        string root = Directory.CreateTempSubdirectory("litevl-qaeval-").FullName;
        string data = Path.Combine(root, "data");
        string synth = Path.Combine(root, "synth");
        try
        {
            var (synthExit, synthOut, synthError) = Cli("data", "synth", "--out", synth, "--clips", "40", "--seed", "11");
            Assert.True(synthExit == 0, synthOut + synthError);
            string questions = Path.Combine(synth, "qa-test.jsonl");
            Assert.True(File.Exists(questions), synthOut);

            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string>(), samples: 0, workingDirectory: root);
            await host.WaitUntilRunningAsync(TimeSpan.FromMinutes(3));

            // A key for a tenant of its own, as docs/evaluation.md creates one with the admin key.
            string key = await host.CreateTenantKeyAsync("qa-eval", "eval");

            string json = Path.Combine(root, "qa-api.json");
            var (apiExit, apiOut, apiError) = await Task.Run(() => Cli(
                "eval", "--task", "qa", "--server", host.BaseAddress.ToString(), "--key", key,
                "--dataset", questions, "--answers", Path.Combine(synth, "qa-train.jsonl"), "--wait-minutes", "5", "--json", json));
            output.WriteLine(apiOut);
            Assert.True(apiExit == 0, apiOut + apiError);

            var (localExit, localOut, localError) = await Task.Run(() => Cli(
                "eval", "--task", "qa", "--model", Path.Combine(data, "model"), "--dataset", questions, "--answers", Path.Combine(synth, "qa-train.jsonl")));
            output.WriteLine(localOut);
            Assert.True(localExit == 0, localOut + localError);

            var api = Rows(apiOut);
            var local = Rows(localOut);
            Assert.Contains("colour", api.Keys);
            Assert.Contains("all", api.Keys);
            Assert.Equal(local, api);

            // The shipped model names colours (88 % on its own held-out split, chance 20 %): a broken ask path, answer
            // list or scoring would not.
            Assert.True(api["colour"].Rank >= 60, $"colour {api["colour"].Rank} % in rank mode over the API");

            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            int asked = doc.RootElement.GetProperty("questions").GetArrayLength();
            Assert.Equal(File.ReadLines(questions).Count(l => l.Trim().Length > 0), asked);
            Assert.Equal(api["all"].Questions, asked);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static (int Exit, string Output, string Error) Cli(params string[] args)
    {
        using var o = new StringWriter(CultureInfo.InvariantCulture);
        using var e = new StringWriter(CultureInfo.InvariantCulture);
        int exit = CliApp.Run(args, o, e);
        return (exit, o.ToString(), e.ToString());
    }

    /// <summary>The accuracy table's rows: "| type | questions | rank % | generate % |" by type ("all" for the total).</summary>
    private static Dictionary<string, (int Questions, double Rank, double Generate)> Rows(string text) =>
        text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l.EndsWith("% |", StringComparison.Ordinal) && l.Split('|').Length == 6)
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(
                c => c[1].Trim('*'),
                c => (int.Parse(c[2], CultureInfo.InvariantCulture), double.Parse(c[3].TrimEnd('%', ' '), CultureInfo.InvariantCulture), double.Parse(c[4].TrimEnd('%', ' '), CultureInfo.InvariantCulture)));
}
