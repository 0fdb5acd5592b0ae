using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>The embedded host as a real OS process (the README's first command), on a free loopback port.</summary>
internal sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private HostProcess(Process process, Uri baseAddress, string dataDirectory)
    {
        _process = process;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
    }

    public Uri BaseAddress { get; }

    /// <summary>Peak resident memory of the host process so far (Linux VmHWM), in bytes.</summary>
    public long PeakResidentBytes
    {
        get
        {
            string status = File.ReadAllText($"/proc/{_process.Id}/status");
            string line = status.Split('\n').First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    public string DataDirectory { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<HostProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> environment, int samples = 0)
    {
        int port = FreePort();
        string dll = Path.Combine(AppContext.BaseDirectory, "litevl-host.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (string a in new[] { dll, "--data", dataDirectory, "--urls", $"http://127.0.0.1:{port}", "--samples", samples.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            info.Environment[k] = v;
        }

        info.Environment["LiteVL__Reconciler__Interval"] = "00:00:02";
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the host");
        var host = new HostProcess(process, new Uri($"http://127.0.0.1:{port}"), dataDirectory);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The host exited with {process.ExitCode}:\n{host.Log}");
            }

            try
            {
                if ((await http.GetAsync(new Uri("/health/live", UriKind.Relative))).IsSuccessStatusCode && File.Exists(Path.Combine(dataDirectory, "admin-key")))
                {
                    return host;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // slow start
            }

            await Task.Delay(250);
        }

        await host.DisposeAsync();
        throw new TimeoutException($"The host did not become healthy in 90 s:\n{host.Log}");
    }

    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        // SIGTERM: a graceful shutdown, as Ctrl+C would do.
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
