using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LiteVL.Testing;

/// <summary>
/// One LiteVL program as its own OS process (dotnet ASSEMBLY.dll from the test's output folder) on a free loopback port,
/// configured by environment variables (and optional arguments); used for the separate services and the embedded host.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private (string Text, TaskCompletionSource Seen)? _killOn;

    private ServiceProcess(string name, Process process, Uri baseAddress)
    {
        Name = name;
        _process = process;
        BaseAddress = baseAddress;
    }

    public string Name { get; }

    public Uri BaseAddress { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Peak resident memory of the process so far (Linux VmHWM), in bytes.</summary>
    public long PeakResidentBytes => StatusBytes("VmHWM:");

    /// <summary>Resident memory of the process now (Linux VmRSS), in bytes.</summary>
    public long ResidentBytes => StatusBytes("VmRSS:");

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

    /// <param name="workingDirectory">Where the process starts (default: the test's output folder, beside the program).</param>
    public static async Task<ServiceProcess> StartAsync(string name, string assembly, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string>? arguments = null, Func<bool>? ready = null, string? workingDirectory = null)
    {
        int port = FreePort();
        var info = StartInfo(assembly, environment, arguments, port, workingDirectory);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        var service = new ServiceProcess(name, process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {process.ExitCode}:\n{service.Log}");
            }

            try
            {
                if ((await http.GetAsync(new Uri("/health/live", UriKind.Relative))).IsSuccessStatusCode && (ready?.Invoke() ?? true))
                {
                    return service;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(250);
        }

        await service.DisposeAsync();
        throw new TimeoutException($"{name} did not become live in 90 s:\n{service.Log}");
    }

    /// <summary>Runs the program until it exits by itself (a start-up that must fail); -1 when it was still running after 90 s.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string assembly, IReadOnlyDictionary<string, string> environment)
    {
        using var process = Process.Start(StartInfo(assembly, environment, null, 0))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"still running after 90 s:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Sends a signal (STOP, CONT, KILL, ...) to the process; KILL waits until it is gone.</summary>
    public async Task SignalAsync(string signal)
    {
        await Programs.RunAsync("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        if (signal == "KILL")
        {
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILLs the process the moment it prints a line containing <paramref name="text"/> (or at once when it already has, unless <paramref name="onlyNew"/>).</summary>
    /// <exception cref="TimeoutException">No such line in time; the process runs on, and would still be killed by a later line.</exception>
    public async Task KillOnLogLineAsync(string text, TimeSpan timeout, bool onlyNew = false)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_log)
        {
            _killOn = (text, seen);
            if (!onlyNew && _log.ToString().Contains(text, StringComparison.Ordinal))
            {
                _process.Kill();
                seen.TrySetResult();
            }
        }

        await seen.Task.WaitAsync(timeout);
        await _process.WaitForExitAsync();
    }

    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        await Programs.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

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
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
                if (_killOn is { } k && line.Contains(k.Text, StringComparison.Ordinal) && k.Seen.TrySetResult() is true)
                {
                    _process.Kill(); // SIGKILL, from the thread that read the line: no time for the process to go on
                }
            }
        }
    }

    /// <summary>dotnet ASSEMBLY.dll from the test's output folder on 127.0.0.1:<paramref name="port"/> (0: any), output redirected.</summary>
    private static ProcessStartInfo StartInfo(string assembly, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string>? arguments, int port, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (string a in arguments ?? [])
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            info.Environment[k] = v;
        }

        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["Logging__LogLevel__LiteVL"] = "Information";
        return info;
    }

    /// <summary>A "Name:   N kB" line of /proc/PID/status, in bytes.</summary>
    private long StatusBytes(string field)
    {
        string status = File.ReadAllText($"/proc/{_process.Id}/status");
        string line = status.Split('\n').First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
