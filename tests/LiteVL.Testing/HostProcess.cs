namespace LiteVL.Testing;

/// <summary>
/// The embedded host as a real OS process (the README's first command), on a free loopback port; its test project must
/// reference services/LiteVL.Host so litevl-host.dll is in the test's output folder.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly ServiceProcess _process;

    private HostProcess(ServiceProcess process, string dataDirectory)
    {
        _process = process;
        DataDirectory = dataDirectory;
    }

    public Uri BaseAddress => _process.BaseAddress;

    public string DataDirectory { get; }

    public string Log => _process.Log;

    public long ResidentBytes => _process.ResidentBytes;

    /// <summary>The admin key the host wrote on first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(DataDirectory, "admin-key")).Trim();

    public string Tail(int characters = 4000) => Log.Length > characters ? Log[^characters..] : Log;

    public long PeakResidentBytes => _process.PeakResidentBytes;

    /// <summary>The host's process id (its ffmpeg and ffprobe runs are its children).</summary>
    public int Pid => _process.Pid;

    public bool HasExited => _process.HasExited;

    /// <param name="arguments">More arguments for the host (e.g. --verbose).</param>
    /// <param name="workingDirectory">Where the host starts; the default is its own folder, a folder elsewhere is how
    /// <c>dotnet run --project services/LiteVL.Host</c> starts it (from the repository root, away from its files).</param>
    public static async Task<HostProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> environment, int samples = 0, IReadOnlyList<string>? arguments = null, string? workingDirectory = null)
    {
        var env = new Dictionary<string, string>(environment) { ["LiteVL__Reconciler__Interval"] = "00:00:02" };
        var process = await ServiceProcess.StartAsync(
            "host",
            "litevl-host.dll",
            env,
            ["--data", dataDirectory, "--samples", samples.ToString(System.Globalization.CultureInfo.InvariantCulture), .. arguments ?? []],
            ready: () => File.Exists(Path.Combine(dataDirectory, "admin-key")),
            workingDirectory: workingDirectory);
        return new HostProcess(process, dataDirectory);
    }

    /// <summary>The last line of the host's start-up banner: samples are indexed and the API answers.</summary>
    public const string Banner = "LiteVL embedded host is running.";

    /// <summary>Waits for <see cref="Banner"/>; fails the test with the log's tail when it does not come in time.</summary>
    public async Task WaitUntilRunningAsync(TimeSpan timeout)
    {
        for (var deadline = DateTime.UtcNow + timeout; !Log.Contains(Banner, StringComparison.Ordinal); await Task.Delay(250).ConfigureAwait(false))
        {
            Xunit.Assert.True(DateTime.UtcNow < deadline, $"no banner within {timeout.TotalMinutes:F0} minutes:\n{Tail()}");
        }
    }

    /// <summary>A new API key for <paramref name="tenant"/>, made with the admin key as users make one (POST /v1/admin/keys).</summary>
    public async Task<string> CreateTenantKeyAsync(string tenant, string name)
    {
        using var admin = new HttpClient { BaseAddress = BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
        using var created = await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(admin, new Uri("/v1/admin/keys", UriKind.Relative), new { tenant, name }).ConfigureAwait(false);
        string body = await created.Content.ReadAsStringAsync().ConfigureAwait(false);
        Xunit.Assert.True(created.IsSuccessStatusCode, body);
        using var doc = System.Text.Json.JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("key").GetString()!;
    }

    public Task StopAsync() => _process.StopAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
