using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Media;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// What the README's first command prints, for people: the host started as a process from a folder that is not its
/// own (as <c>dotnet run --project services/LiteVL.Host</c> starts it from the repository root, where no
/// appsettings.json is found). By default there is no SQL and no framework chatter, one line per video that changes
/// state, the banner last at start-up, and nothing at all while the platform is idle; <c>--verbose</c> and the usual
/// <c>Logging:LogLevel</c> settings bring the detail back.
/// </summary>
public sealed class ConsoleOutputTests(ITestOutputHelper output)
{
    private const string Banner = HostProcess.Banner;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>The idle window: a minute, as the README promises; LITEVL_TEST_IDLE_SECONDS shortens it while iterating.</summary>
    private static TimeSpan IdleWindow => TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("LITEVL_TEST_IDLE_SECONDS"), out int s) && s > 0 ? s : 60);

    [Fact]
    public async Task Default_console_has_no_sql_one_line_per_state_change_the_banner_last_and_an_idle_minute_prints_nothing()
    {
        string root = Directory.CreateTempSubdirectory("litevl-console-").FullName;
        string data = Path.Combine(root, "data");
        string elsewhere = Directory.CreateDirectory(Path.Combine(root, "cwd")).FullName;
        try
        {
            // Heartbeat every second and the reconciler every 2 s (HostProcess): the periodic SQL that used to flood the
            // console runs dozens of times inside the idle window.
            await using var host = await HostProcess.StartAsync(
                data,
                new Dictionary<string, string> { ["LiteVL__Encoder__Heartbeat__Interval"] = "00:00:01" },
                samples: 1,
                workingDirectory: elsewhere);
            await WaitForAsync(() => host.Log.Contains(Banner, StringComparison.Ordinal), TimeSpan.FromSeconds(120), host);
            await Task.Delay(1000); // the console logger writes from its own queue
            var startup = Lines(host.Log);
            output.WriteLine($"start-up printed {startup.Count} lines:\n{string.Join('\n', startup)}");

            // The sample clip: one line when uploaded, one when indexed, both before the banner; the banner ends start-up.
            Assert.Single(startup, l => l.Contains("Accepted video", StringComparison.Ordinal));
            Assert.Single(startup, l => l.Contains("Indexed video", StringComparison.Ordinal));
            int banner = startup.FindIndex(l => l.Contains(Banner, StringComparison.Ordinal));
            Assert.Contains("Ctrl+C stops it", startup[^1], StringComparison.Ordinal);
            Assert.True(startup.Count - banner <= 12, $"the banner is not last: {string.Join('\n', startup[banner..])}");
            Assert.True(startup.Count <= 30, $"start-up printed {startup.Count} lines");

            // A good clip and a broken one: exactly one line for each state change, and nothing else.
            using var http = new HttpClient { BaseAddress = host.BaseAddress };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminKey);
            string good = Path.Combine(root, "good.mp4");
            string broken = Path.Combine(root, "broken.mp4");
            using (var clips = new SampleClips())
            {
                await clips.GenerateAsync(new ClipSpec(ClipSource.MovingBox, 3, 160, 120, 25, ClipCodec.H264, "mp4", false), good);
                await clips.MakeTruncatedMp4Async(broken);
            }

            int before = Lines(host.Log).Count;
            var goodId = await UploadAsync(http, good);
            var brokenId = await UploadAsync(http, broken);
            Assert.Equal(VideoState.Indexed, await WaitForTerminalAsync(http, goodId));
            Assert.Equal(VideoState.Failed, await WaitForTerminalAsync(http, brokenId));
            await Task.Delay(1000);
            var flow = Lines(host.Log).Skip(before).ToList();
            output.WriteLine($"two uploads printed:\n{string.Join('\n', flow)}");
            Assert.Equal(4, flow.Count);
            Assert.Single(flow, l => l.Contains($"Accepted video {goodId}", StringComparison.Ordinal));
            Assert.Single(flow, l => l.Contains($"Indexed video {goodId}", StringComparison.Ordinal));
            Assert.Single(flow, l => l.Contains($"Accepted video {brokenId}", StringComparison.Ordinal));
            string failed = Assert.Single(flow, l => l.Contains($"Video {brokenId} failed in extract", StringComparison.Ordinal));
            Assert.Contains("broken.mp4", failed, StringComparison.Ordinal); // the reason names the file

            // Idle: heartbeats, reconciler passes and sweeps go on, and nothing reaches the console.
            string idleStart = host.Log;
            await Task.Delay(IdleWindow);
            string idle = host.Log[idleStart.Length..];
            output.WriteLine($"idle {IdleWindow.TotalSeconds} s printed {Lines(idle).Count} lines");
            Assert.True(idle.Length == 0, $"the idle host printed:\n{idle}");

            Assert.DoesNotContain("Executed DbCommand", host.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("Microsoft.EntityFrameworkCore", host.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("info: MassTransit", host.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("info: Microsoft", host.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("DataProtection", host.Log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("--verbose")]
    [InlineData("Logging__LogLevel__Microsoft.EntityFrameworkCore=Information")]
    public async Task Verbose_or_a_log_level_setting_brings_the_sql_back(string how)
    {
        string root = Directory.CreateTempSubdirectory("litevl-console-").FullName;
        try
        {
            var environment = new Dictionary<string, string> { ["LiteVL__Encoder__Heartbeat__Interval"] = "00:00:01" };
            string[] arguments = [];
            if (how.StartsWith("--", StringComparison.Ordinal))
            {
                arguments = [how];
            }
            else
            {
                environment[how.Split('=')[0]] = how.Split('=')[1];
            }

            await using var host = await HostProcess.StartAsync(Path.Combine(root, "data"), environment, arguments: arguments, workingDirectory: root);
            // The encoder heartbeat's UPDATE, every second.
            await WaitForAsync(() => host.Log.Contains("Executed DbCommand", StringComparison.Ordinal) && host.Log.Contains("UPDATE \"EncoderWorkers\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), host);
            if (how == "--verbose")
            {
                await WaitForAsync(() => host.Log.Contains("info: MassTransit", StringComparison.Ordinal), TimeSpan.FromSeconds(10), host);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static List<string> Lines(string log) => [.. log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0)];

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, HostProcess host)
    {
        for (var deadline = DateTime.UtcNow + timeout; !condition(); await Task.Delay(200))
        {
            Assert.True(DateTime.UtcNow < deadline, $"not seen within {timeout.TotalSeconds} s; the host printed:\n{host.Tail()}");
        }
    }

    private static async Task<Guid> UploadAsync(HttpClient http, string path)
    {
        using var form = new MultipartFormDataContent();
        var file = new StreamContent(File.OpenRead(path));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        form.Add(file, "file", Path.GetFileName(path));
        using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!.Id;
    }

    private static async Task<VideoState> WaitForTerminalAsync(HttpClient http, Guid id)
    {
        var state = VideoState.Uploaded;
        for (var deadline = DateTime.UtcNow.AddSeconds(90); !state.IsTerminal() && DateTime.UtcNow < deadline; await Task.Delay(250))
        {
            state = (await http.GetFromJsonAsync<VideoView>(new Uri($"/v1/videos/{id}", UriKind.Relative), Json))!.State;
        }

        return state;
    }
}
