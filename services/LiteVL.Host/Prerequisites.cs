using System.Diagnostics;

namespace LiteVL.Host;

/// <summary>
/// What the embedded host needs from the machine (ffmpeg). On Debian/Ubuntu as root it installs it, saying so;
/// elsewhere it stops with the exact command to run.
/// </summary>
internal static class Prerequisites
{
    public static async Task<bool> EnsureFfmpegAsync(TextWriter output, TextWriter error)
    {
        if (await CanRunAsync("ffmpeg", "-version").ConfigureAwait(false) && await CanRunAsync("ffprobe", "-version").ConfigureAwait(false))
        {
            return true;
        }

        bool debian = File.Exists("/etc/debian_version");
        bool root = OperatingSystem.IsLinux() && Environment.UserName == "root";
        if (debian && root && await CanRunAsync("apt-get", "--version").ConfigureAwait(false))
        {
            output.WriteLine("ffmpeg is missing: installing it with 'apt-get install -y ffmpeg' (about a minute)...");
            if (await RunAsync("apt-get", "update -qq").ConfigureAwait(false) == 0
                && await RunAsync("apt-get", "install -y -qq --no-install-recommends ffmpeg").ConfigureAwait(false) == 0
                && await CanRunAsync("ffmpeg", "-version").ConfigureAwait(false))
            {
                output.WriteLine("ffmpeg installed.");
                return true;
            }
        }

        string command = debian ? "sudo apt-get install -y ffmpeg"
            : OperatingSystem.IsMacOS() ? "brew install ffmpeg"
            : OperatingSystem.IsWindows() ? "winget install Gyan.FFmpeg"
            : "install ffmpeg with your package manager (e.g. 'sudo dnf install ffmpeg')";
        error.WriteLine($"error: LiteVL needs ffmpeg and ffprobe on PATH. Install them: {command}");
        return false;
    }

    private static async Task<bool> CanRunAsync(string file, string args)
    {
        try
        {
            return await RunAsync(file, args).ConfigureAwait(false) == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static async Task<int> RunAsync(string file, string args)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(info) ?? throw new System.ComponentModel.Win32Exception($"cannot start {file}");
        var drainOut = process.StandardOutput.ReadToEndAsync();
        var drainErr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        await Task.WhenAll(drainOut, drainErr).ConfigureAwait(false);
        return process.ExitCode;
    }
}
