using System.Diagnostics;
using System.Text;

namespace LiteVL.Testing;

/// <summary>A program run to its end: its exit code, standard output (bytes, e.g. raw video frames) and standard error.</summary>
public sealed record ProgramRun(int ExitCode, byte[] OutputBytes, string Error)
{
    /// <summary>Standard output as UTF-8 text.</summary>
    public string Output => Encoding.UTF8.GetString(OutputBytes);
}

/// <summary>
/// Runs a tool (ffmpeg, a script under deploy/ or tests/, docker-compose, kubectl) to its end with both output streams
/// read, and kills it with its children when it runs past its limit. The LiteVL programs themselves run as
/// <see cref="ServiceProcess"/>.
/// </summary>
public static class Programs
{
    private static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="program"/>; a <see cref="TimeoutException"/> after <paramref name="limit"/> (default 2 minutes).</summary>
    /// <param name="workingDirectory">Where it runs (default: the test's current directory).</param>
    public static ProgramRun Run(string program, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? limit = null)
    {
        using var process = Start(program, arguments, workingDirectory);
        var (stdout, stderr) = Read(process);
        if (!process.WaitForExit(limit ?? DefaultLimit))
        {
            throw Timeout(process, program, arguments, limit);
        }

        process.WaitForExit(); // the output streams to their end
        return new ProgramRun(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <inheritdoc cref="Run"/>
    public static async Task<ProgramRun> RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? limit = null)
    {
        using var process = Start(program, arguments, workingDirectory);
        var (stdout, stderr) = Read(process);
        using var timeout = new CancellationTokenSource(limit ?? DefaultLimit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw Timeout(process, program, arguments, limit);
        }

        return new ProgramRun(process.ExitCode, await stdout, await stderr);
    }

    private static Process Start(string program, IEnumerable<string> arguments, string? workingDirectory)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
    }

    private static (Task<byte[]> Output, Task<string> Error) Read(Process process)
    {
        async Task<byte[]> ReadAllAsync()
        {
            using var buffer = new MemoryStream();
            await process.StandardOutput.BaseStream.CopyToAsync(buffer);
            return buffer.ToArray();
        }

        return (ReadAllAsync(), process.StandardError.ReadToEndAsync());
    }

    private static TimeoutException Timeout(Process process, string program, IEnumerable<string> arguments, TimeSpan? limit)
    {
        process.Kill(entireProcessTree: true);
        return new TimeoutException($"{program} {string.Join(' ', arguments)} ran past {(limit ?? DefaultLimit).TotalSeconds:F0} s.");
    }
}
