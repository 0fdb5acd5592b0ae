using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.Security;

/// <summary>
/// The hostile-media corpus (tests/hostile/make-corpus.sh) against a real embedded host: every upload ends as a 4xx
/// ProblemDetails or a Failed video with a reason (playlists and bombs never Indexed), `litevl ingest` refuses each
/// unsafe archive entry with a reason, and over the whole run no process crashed, nothing connected to the URL the
/// playlists name, no file outside the store was opened (a FIFO canary) or its content copied (a canary token), and
/// every input finished within the configured ffmpeg time limits. Prints input → outcome → time → peak memory.
/// </summary>
public sealed class HostileMediaTests(ITestOutputHelper output)
{
    /// <summary>The limits the host runs under here (LiteVL:Media); docs/reliability.md names the defaults.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(20), ProcessTimeout = TimeSpan.FromSeconds(60);

    /// <summary>An input may take its probe, one ffmpeg pass, and the encoder and indexer after them.</summary>
    private static readonly TimeSpan PerInputLimit = ProbeTimeout + ProcessTimeout + TimeSpan.FromSeconds(60);

    /// <summary>LiteVL:Media:MaxProcessMemoryBytes here: low enough that the 8K input meets it.</summary>
    private const long ProcessMemoryLimit = 256L << 20;

    /// <summary>What a run may pass the limit by before the 100 ms watch stops it (a decoder allocates frames in bursts).</summary>
    private const long ProcessMemorySlack = 256L << 20;

    /// <summary>The host's own peak resident set may not pass this.</summary>
    private const long HostMemoryLimit = 1L << 30;

    /// <summary>Where the corpus's path tricks would land if a name or an archive entry were used as a path.</summary>
    private static readonly string[] EscapeNames = ["litevl-escape.mp4", "litevl-absolute.mp4", "litevl-zipslip.mp4", "litevl-zip-absolute.mp4", "litevl-tarslip.mp4", "litevl-tar-absolute.mp4"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public async Task Every_hostile_input_is_refused_or_fails_with_a_reason_and_nothing_leaks()
    {
        string root = Directory.CreateTempSubdirectory("litevl-hostile-").FullName;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int connections = 0;
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref connections);
            }
        });
        var canary = new FifoCanary(Path.Combine(root, "outside", "canary.fifo"));
        try
        {
            // The corpus, pointed at this test's listener and canaries.
            string corpus = Path.Combine(root, "corpus");
            Directory.CreateDirectory(Path.GetDirectoryName(canary.Path)!);
            Assert.Equal(0, (await Programs.RunAsync("mkfifo", [canary.Path])).ExitCode);
            canary.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var made = await Programs.RunAsync("bash", [Path.Combine(RepositoryRoot.Path, "tests", "hostile", "make-corpus.sh"), corpus,
                "--url", $"http://127.0.0.1:{port}/", "--canary", Path.Combine(root, "outside"), "--fifo", canary.Path], limit: TimeSpan.FromMinutes(3));
            Assert.True(made.ExitCode == 0, made.Error);
            output.WriteLine(made.Output.Trim());
            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(corpus, "corpus.json")));
            var inputs = manifest.RootElement.GetProperty("inputs").EnumerateArray().Select(e => e.Deserialize<CorpusInput>(Json)!).ToList();
            string token = (await File.ReadAllTextAsync(Path.Combine(root, "outside", "canary.txt"))).Trim();

            string data = Path.Combine(root, "data");
            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string>
            {
                ["LiteVL__Embedded__Model"] = "tiny",
                ["LiteVL__Media__ProbeTimeout"] = ProbeTimeout.ToString("c", CultureInfo.InvariantCulture),
                ["LiteVL__Media__ProcessTimeout"] = ProcessTimeout.ToString("c", CultureInfo.InvariantCulture),
                ["LiteVL__Media__MaxProcessMemoryBytes"] = ProcessMemoryLimit.ToString(CultureInfo.InvariantCulture),
            });
            await host.WaitUntilRunningAsync(TimeSpan.FromMinutes(3));
            string key = await host.CreateTenantKeyAsync("hostile", "corpus");
            using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var children = new ChildMemory(host.Pid);
            var responses = new StringBuilder();

            // One input at a time, so each one's time and memory are its own.
            var rows = new List<Row>();
            foreach (var input in inputs.Where(i => i.Kind == "upload"))
            {
                children.Reset();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var (outcome, failure) = await UploadAsync(http, Path.Combine(corpus, input.File), input, responses);
                rows.Add(new Row(input, outcome, failure, clock.Elapsed, children.Peak, host.PeakResidentBytes));
            }

            // The archives through the CLI, as a user would ingest them.
            foreach (var input in inputs.Where(i => i.Kind == "ingest"))
            {
                children.Reset();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var run = await Programs.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "litevl.dll"), "ingest", Path.Combine(corpus, input.File),
                    "--server", host.BaseAddress.ToString(), "--key", key, "--state", Path.Combine(root, input.Name + ".state.json")], limit: PerInputLimit);
                responses.Append(run.Output).Append(run.Error);
                rows.Add(new Row(input, $"litevl ingest exit {run.ExitCode}", CheckIngest(input, run), clock.Elapsed, children.Peak, host.PeakResidentBytes));
            }

            // Every video of the tenant (the ingested ones too) reaches a final state.
            var videos = await AllVideosAsync(http, responses);
            output.WriteLine($"{inputs.Count} inputs; limits: probe {ProbeTimeout.TotalSeconds:0} s, ffmpeg run {ProcessTimeout.TotalSeconds:0} s, {ProcessMemoryLimit >> 20} MiB per run; " +
                $"listener {connections} connections; FIFO canary opened {canary.Opens} times");
            output.WriteLine($"{"input",-34} {"expect",-8} {"outcome",-84} {"time",7} {"ffmpeg",8} {"host",8}");
            foreach (var r in rows)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Input.File.Replace("media/", "", StringComparison.Ordinal),-34} {r.Input.Expect,-8} {Clip(r.Outcome, 84),-84} {r.Time.TotalSeconds,6:F1}s {r.FfmpegPeak >> 20,5} MiB {r.HostPeak >> 20,4} MiB"));
            }

            var problems = rows.Where(r => r.Failure is not null).Select(r => $"{r.Input.File}: {r.Failure}").ToList();
            problems.AddRange(rows.Where(r => r.Time > PerInputLimit).Select(r => $"{r.Input.File}: took {r.Time.TotalSeconds:F0} s, over {PerInputLimit.TotalSeconds:F0} s"));
            problems.AddRange(rows.Where(r => r.FfmpegPeak > ProcessMemoryLimit + ProcessMemorySlack).Select(r => $"{r.Input.File}: an ffmpeg run reached {r.FfmpegPeak >> 20} MiB"));
            problems.AddRange(videos.Where(v => v.State is not (VideoState.Indexed or VideoState.Failed)).Select(v => $"video {v.Id} ({v.Title}) is stuck in {v.State}"));
            problems.AddRange(videos.Where(v => v.State == VideoState.Failed && Crashed(v.Failure?.Reason)).Select(v => $"video {v.Id}: a tool crashed: {v.Failure?.Reason}"));
            if (host.HasExited) problems.Add("the host exited");
            else if ((await http.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode != HttpStatusCode.OK) problems.Add("the host is not live");
            if (host.PeakResidentBytes > HostMemoryLimit) problems.Add($"the host reached {host.PeakResidentBytes >> 20} MiB");
            if (Volatile.Read(ref connections) > 0) problems.Add($"{connections} outbound connection(s) reached the listener the playlists name");
            if (canary.Opens > 0) problems.Add($"the FIFO canary outside the store was opened {canary.Opens} time(s)");
            if (host.Log.Contains(token, StringComparison.Ordinal) || responses.ToString().Contains(token, StringComparison.Ordinal)) problems.Add("the canary token appeared in the host's log or an API answer");
            problems.AddRange(FilesContaining(data, Encoding.UTF8.GetBytes(token)).Select(f => $"the canary token was copied into {f}"));
            problems.AddRange(EscapeNames.SelectMany(n => new[] { Path.Combine("/tmp", n), Path.Combine("/etc", n) }).Where(File.Exists).Select(f => $"{f} was written outside the store"));
            Assert.True(problems.Count == 0, string.Join('\n', problems) + "\n" + host.Tail());
        }
        finally
        {
            await stop.CancelAsync();
            listener.Stop();
            await Task.WhenAny(accepting, Task.Delay(1000));
            canary.Release();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Sends one corpus file as the raw body of POST /v1/videos and follows the video to its final state.</summary>
    private static async Task<(string Outcome, string? Failure)> UploadAsync(HttpClient http, string path, CorpusInput input, StringBuilder responses)
    {
        using var content = new StreamContent(File.OpenRead(path));
        content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        using var response = await http.PostAsync(new Uri("/v1/videos?filename=" + Uri.EscapeDataString(input.Name), UriKind.Relative), content);
        string body = await response.Content.ReadAsStringAsync();
        responses.AppendLine(body);
        if ((int)response.StatusCode is >= 400 and < 500)
        {
            using var problem = JsonDocument.Parse(body);
            string title = problem.RootElement.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
            string detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
            string outcome = $"HTTP {(int)response.StatusCode} {title}: {detail}";
            return (outcome, title.Length == 0 || detail.Length == 0 ? "a 4xx without a ProblemDetails title and detail" : null);
        }

        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            return ($"HTTP {(int)response.StatusCode}", $"answered {(int)response.StatusCode}: {body}");
        }

        var id = JsonSerializer.Deserialize<UploadResponse>(body, Json)!.Id;
        for (var deadline = DateTime.UtcNow + PerInputLimit; DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            string json = await http.GetStringAsync(new Uri($"/v1/videos/{id}", UriKind.Relative));
            responses.AppendLine(json);
            var video = JsonSerializer.Deserialize<VideoView>(json, Json)!;
            switch (video.State)
            {
                case VideoState.Failed:
                    string reason = video.Failure?.Reason ?? "";
                    return ($"Failed ({video.Failure?.Stage}): {reason}", reason.Length == 0 ? "Failed without a reason" : null);
                case VideoState.Indexed:
                    return ($"Indexed, {video.SegmentCount} segments", input.Expect == "refused" ? "Indexed, but it must be refused" : null);
            }
        }

        return ("still in progress", $"not finished within {PerInputLimit.TotalSeconds:F0} s");
    }

    /// <summary>Each unsafe entry named in the corpus is refused with a reason, each safe one uploaded, exit code 3 (some rejected).</summary>
    private static string? CheckIngest(CorpusInput input, ProgramRun run)
    {
        var lines = run.Output.Split('\n');
        var missing = input.Rejected.Where(e => !lines.Any(l => l.StartsWith("rejected", StringComparison.Ordinal) && l.Contains("!" + e, StringComparison.Ordinal) && l.TrimEnd().Length > l.IndexOf(e, StringComparison.Ordinal) + e.Length + 2))
            .Select(e => $"'{e}' not rejected with a reason")
            .Concat(input.Uploaded.Where(e => !lines.Any(l => (l.StartsWith("uploaded", StringComparison.Ordinal) || l.StartsWith("duplicate", StringComparison.Ordinal)) && l.Contains(e, StringComparison.Ordinal)))
                .Select(e => $"'{e}' not uploaded"))
            .ToList();
        if (run.ExitCode != 3) missing.Add($"exit code {run.ExitCode}, not 3 (some rejected)");
        return missing.Count == 0 ? null : string.Join("; ", missing) + "\n" + run.Output + run.Error;
    }

    private static async Task<List<VideoView>> AllVideosAsync(HttpClient http, StringBuilder responses)
    {
        for (var deadline = DateTime.UtcNow + PerInputLimit; ; await Task.Delay(250))
        {
            string json = await http.GetStringAsync(new Uri("/v1/videos?pageSize=100", UriKind.Relative));
            responses.AppendLine(json);
            using var doc = JsonDocument.Parse(json);
            var videos = new List<VideoView>();
            foreach (var item in doc.RootElement.GetProperty("items").EnumerateArray())
            {
                string one = await http.GetStringAsync(new Uri($"/v1/videos/{item.GetProperty("id").GetGuid()}", UriKind.Relative));
                responses.AppendLine(one);
                videos.Add(JsonSerializer.Deserialize<VideoView>(one, Json)!);
            }

            if (videos.All(v => v.State is VideoState.Indexed or VideoState.Failed) || DateTime.UtcNow > deadline)
            {
                return videos;
            }
        }
    }

    /// <summary>ffmpeg or ffprobe ended by a signal other than the time limit's kill: SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL.</summary>
    private static bool Crashed(string? reason) =>
        reason is not null && System.Text.RegularExpressions.Regex.IsMatch(reason, @"exit code (-?(11|6|7|8|4)|13[2-6]|139)\)");

    private static IEnumerable<string> FilesContaining(string folder, byte[] needle)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
            }
            catch (IOException)
            {
                continue; // a file being replaced right now
            }

            if (bytes.AsSpan().IndexOf(needle) >= 0) yield return file;
        }
    }

    private static string Clip(string text, int width)
    {
        string line = string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
        return line.Length <= width ? line : line[..(width - 1)] + "…";
    }

    private sealed record CorpusInput(string File, string Kind, string Category, string Expect, string Name, string Description)
    {
        public IReadOnlyList<string> Rejected { get; init; } = [];

        public IReadOnlyList<string> Uploaded { get; init; } = [];
    }

    private sealed record Row(CorpusInput Input, string Outcome, string? Failure, TimeSpan Time, long FfmpegPeak, long HostPeak);

    /// <summary>
    /// A named pipe outside the store that the playlists list. Opening a FIFO for reading blocks until a writer opens it,
    /// so a thread that keeps opening it for writing learns of every open, however brief, with no file-system watcher
    /// (inotify tools are not installed here) and no reliance on access times (mounts use relatime or noatime).
    /// </summary>
    private sealed class FifoCanary(string path)
    {
        private int _opens;
        private volatile bool _releasing;
        private Task? _writer;

        public string Path { get; } = path;

        public int Opens => Volatile.Read(ref _opens);

        public void Start() => _writer = Task.Factory.StartNew(() =>
        {
            while (true)
            {
                using var pipe = new FileStream(Path, FileMode.Open, FileAccess.Write); // returns once a reader opened the FIFO
                if (_releasing) return;
                Interlocked.Increment(ref _opens);
                try
                {
                    pipe.Write(Encoding.UTF8.GetBytes("litevl-fifo-canary\n"));
                }
                catch (IOException)
                {
                    // the reader closed first
                }
            }
        }, TaskCreationOptions.LongRunning);

        /// <summary>Opens the FIFO for reading itself, which lets the waiting writer return.</summary>
        public void Release()
        {
            if (_writer is null) return;
            _releasing = true;
            using (new FileStream(Path, FileMode.Open, FileAccess.Read))
            {
            }

            _writer.Wait(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>The largest peak resident set (VmHWM) of any child of the host (ffmpeg, ffprobe), sampled every 50 ms.</summary>
    private sealed class ChildMemory : IDisposable
    {
        private readonly int _parent;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampler;
        private long _peak;

        public ChildMemory(int parent)
        {
            _parent = parent;
            _sampler = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Sample();
                    await Task.Delay(50).ConfigureAwait(false);
                }
            });
        }

        public long Peak => Interlocked.Read(ref _peak);

        public void Reset() => Interlocked.Exchange(ref _peak, 0);

        private void Sample()
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(System.IO.Path.GetFileName(dir), out _)) continue;
                try
                {
                    string stat = File.ReadAllText(System.IO.Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    if (fields[1] != _parent.ToString(CultureInfo.InvariantCulture)) continue;
                    var hwm = File.ReadAllLines(System.IO.Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                    if (hwm is null) continue;
                    long bytes = long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                    for (long seen = Peak; bytes > seen && Interlocked.CompareExchange(ref _peak, bytes, seen) != seen; seen = Peak) { }
                }
                catch (IOException)
                {
                    // the process ended while being read
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _sampler.Wait(TimeSpan.FromSeconds(2));
            _stop.Dispose();
        }
    }
}
