using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using LiteVL.Cli.Ingest;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl ingest PATH... --server URL --key KEY</c>: uploads video files, folders, archives and manifests, resumably.
/// Exit codes: 0 when every file was uploaded, already on the server or already done (state file); 3 when some were
/// rejected (by the server, with its ProblemDetails detail, or locally: unsafe archive entry, missing file); 1 for errors
/// that stop the run (bad key, unreachable server, malformed manifest). A dry run exits 3 when some file cannot be probed.
/// </summary>
internal static class IngestCommand
{
    public static Command Create(TextWriter output)
    {
        var paths = new Argument<string[]>("path")
        {
            Description = "Video files, folders (recursive), .zip/.tar/.tar.gz/.tgz archives, or .csv/.jsonl manifests (path,title,tags).",
            Arity = ArgumentArity.OneOrMore,
        };
        var server = new Option<string>("--server") { Description = "Base URL of the API.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var key = new Option<string?>("--key") { Description = "API key (or set LITEVL_API_KEY)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Uploads (or probes) at a time.", DefaultValueFactory = _ => 4 };
        var dryRun = new Option<bool>("--dry-run") { Description = "Probe every file with ffprobe and estimate segments and encoder time; upload nothing." };
        var tags = new Option<string?>("--tags") { Description = "Tags for every video, comma-separated (added to a manifest's own)." };
        var includeExt = new Option<string?>("--include-ext") { Description = $"Video extensions to pick from folders and archives (default {string.Join(",", PathCollector.DefaultExtensions)})." };
        var stateFile = new Option<string?>("--state") { Description = $"Resume file (default {IngestState.DefaultFileName} inside the folder, or next to the manifest or first file)." };
        var secondsPerSegment = new Option<double>("--seconds-per-segment")
        {
            Description = "Dry run: encoder seconds per segment for the estimate (0.002 = tiny model; blip-base on CPU ≈ 4.3).",
            DefaultValueFactory = _ => DryRun.DefaultSecondsPerSegment,
        };
        var maxExtract = new Option<long>("--max-extract-bytes") { Description = "Archives: total bytes extracted per archive.", DefaultValueFactory = _ => new ArchiveLimits().MaxTotalBytes };
        var maxEntries = new Option<int>("--max-entries") { Description = "Archives: entries read per archive.", DefaultValueFactory = _ => new ArchiveLimits().MaxEntries };
        var maxRatio = new Option<double>("--max-ratio") { Description = "Archives: refuse entries over 10 MB compressed more than this many times.", DefaultValueFactory = _ => new ArchiveLimits().MaxCompressionRatio };
        var cmd = new Command("ingest", "Upload videos (files, folders, archives, manifests) to a LiteVL server; re-running skips what is done.")
        {
            paths, server, key, concurrency, dryRun, tags, includeExt, stateFile, secondsPerSegment, maxExtract, maxEntries, maxRatio,
        };
        cmd.SetAction(async (p, ct) =>
        {
            int parallel = p.GetValue(concurrency);
            if (parallel is < 1 or > 64) throw new ArgumentException("--concurrency must be between 1 and 64.");
            var limits = new ArchiveLimits
            {
                MaxTotalBytes = Positive(p.GetValue(maxExtract), "--max-extract-bytes"),
                MaxEntries = (int)Positive(p.GetValue(maxEntries), "--max-entries"),
                MaxCompressionRatio = p.GetValue(maxRatio) > 0 ? p.GetValue(maxRatio) : throw new ArgumentException("--max-ratio must be positive."),
            };
            string[] pathValues = p.GetValue(paths) ?? [];
            string? ext = p.GetValue(includeExt);
            var collector = new PathCollector(
                ext is null ? null : ext.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                SplitComma(p.GetValue(tags)),
                limits);
            TextWriter error = p.InvocationConfiguration.Error ?? Console.Error;
            using var plan = collector.Collect(pathValues);
            if (p.GetValue(dryRun))
            {
                double perSegment = p.GetValue(secondsPerSegment);
                if (!(perSegment >= 0)) throw new ArgumentException("--seconds-per-segment must be ≥ 0.");
                var rows = await DryRun.ProbeAsync(plan.Items, parallel, ct).ConfigureAwait(false);
                DryRun.Write(output, rows, plan.Rejections, perSegment);
                return rows.Any(r => r.Media is null) || plan.Rejections.Count > 0 ? IngestSummary.ExitSomeRejected : IngestSummary.ExitOk;
            }

            string apiKey = p.GetValue(key) ?? Environment.GetEnvironmentVariable("LITEVL_API_KEY")
                ?? throw new ArgumentException("No API key: pass --key KEY or set LITEVL_API_KEY (the embedded host writes one to .litevl/demo-key).");
            string serverUrl = p.GetValue(server)!;
            if (!Uri.TryCreate(serverUrl.EndsWith('/') ? serverUrl : serverUrl + "/", UriKind.Absolute, out var baseUri))
                throw new ArgumentException($"--server {serverUrl} is not an absolute URL.");
            string statePath = p.GetValue(stateFile) is { } s ? Path.GetFullPath(s) : IngestState.DefaultLocation(pathValues);
            var state = IngestState.Load(statePath);
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromHours(2) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            var progress = IngestUploader.ProgressFor(plan.Items);
            var clock = Stopwatch.StartNew();
            IReadOnlyList<IngestOutcome> outcomes;
            bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
            using (new ProgressPrinter(error, progress, terminal))
            {
                outcomes = await new IngestUploader(http, state, serverUrl, parallel).RunAsync(plan.Items, progress, ct).ConfigureAwait(false);
            }

            IngestSummary.Write(output, outcomes, plan.Rejections, clock.Elapsed);
            output.WriteLine($"state: {statePath}");
            return IngestSummary.ExitCode(outcomes, plan.Rejections);
        });
        return cmd;
    }

    private static long Positive(long value, string name) => value > 0 ? value : throw new ArgumentException($"{name} must be positive.");

    private static string[] SplitComma(string? value) =>
        value is null ? [] : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];
}
