using System.Globalization;

namespace LiteVL.Soak;

/// <summary>What a worker is doing, read from /proc: whether it runs a child program, whether it is using the CPU.</summary>
internal static class ProcessProbe
{
    /// <summary>Whether <paramref name="pid"/> has a live child process named one of <paramref name="names"/> (the extractor's ffmpeg).</summary>
    public static bool HasChild(int pid, params string[] names)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                continue;
            }

            var stat = Stat(dir);
            if (stat is { } s && s.ParentPid == pid && names.Contains(s.Name, StringComparer.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the process used at least <paramref name="ticks"/> clock ticks (10 ms each) of CPU during <paramref name="window"/>.</summary>
    public static bool Busy(int pid, TimeSpan window, int ticks)
    {
        var before = Stat($"/proc/{pid}");
        Thread.Sleep(window);
        var after = Stat($"/proc/{pid}");
        return before is not null && after is not null && after.Value.CpuTicks - before.Value.CpuTicks >= ticks;
    }

    /// <summary>Name, parent and CPU ticks (user + system) from /proc/PID/stat; null when the process is gone.</summary>
    private static (string Name, int ParentPid, long CpuTicks)? Stat(string procDir)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procDir, "stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ')'.
        int open = text.IndexOf('(', StringComparison.Ordinal);
        int close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        string[] f = text[(close + 2)..].Split(' ');
        // f[0] = state (field 3), f[1] = ppid (4), f[11] = utime (14), f[12] = stime (15).
        return (text[(open + 1)..close], int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture));
    }
}
