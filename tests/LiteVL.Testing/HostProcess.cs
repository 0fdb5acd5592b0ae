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

    /// <summary>The admin key the host wrote on first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(DataDirectory, "admin-key")).Trim();

    public string Tail(int characters = 4000) => Log.Length > characters ? Log[^characters..] : Log;

    public long PeakResidentBytes => _process.PeakResidentBytes;

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

    public Task StopAsync() => _process.StopAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
