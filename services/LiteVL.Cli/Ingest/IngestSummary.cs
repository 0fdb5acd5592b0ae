using System.Globalization;

namespace LiteVL.Cli.Ingest;

/// <summary>The final table of an ingest run, and its exit code.</summary>
public static class IngestSummary
{
    /// <summary>Everything was uploaded, already on the server, or in the state file.</summary>
    public const int ExitOk = 0;

    /// <summary>At least one file was rejected (by the server or locally).</summary>
    public const int ExitSomeRejected = 3;

    public static int ExitCode(IReadOnlyList<IngestOutcome> outcomes, IReadOnlyList<LocalRejection> local)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(local);
        return local.Count > 0 || outcomes.Any(o => o.Kind == IngestOutcomeKind.Rejected) ? ExitSomeRejected : ExitOk;
    }

    public static void Write(TextWriter o, IReadOnlyList<IngestOutcome> outcomes, IReadOnlyList<LocalRejection> local, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(local);
        var rows = outcomes.Select(x => (Status: Label(x.Kind), x.Source, Id: x.VideoId ?? "-", x.Bytes, Reason: x.Reason ?? string.Empty))
            .Concat(local.Select(r => (Status: "rejected", r.Source, Id: "-", Bytes: 0L, r.Reason)))
            .OrderBy(r => Order(r.Status)).ThenBy(r => r.Source, StringComparer.Ordinal)
            .ToList();
        int width = Math.Clamp(rows.Count == 0 ? 4 : rows.Max(r => r.Source.Length), 4, 60);
        o.WriteLine($"{"status",-9}  {"file".PadRight(width)}  {"video",-36}  {"size",10}  reason");
        foreach (var r in rows)
        {
            string source = r.Source.Length > width ? "…" + r.Source[^(width - 1)..] : r.Source;
            o.WriteLine($"{r.Status,-9}  {source.PadRight(width)}  {r.Id,-36}  {Bytes(r.Bytes),10}  {r.Reason}".TrimEnd());
        }

        int uploaded = outcomes.Count(x => x.Kind == IngestOutcomeKind.Uploaded);
        int duplicate = outcomes.Count(x => x.Kind == IngestOutcomeKind.Duplicate);
        int resumed = outcomes.Count(x => x.Kind == IngestOutcomeKind.Resumed);
        int rejected = outcomes.Count(x => x.Kind == IngestOutcomeKind.Rejected) + local.Count;
        long sent = outcomes.Where(x => x.Kind == IngestOutcomeKind.Uploaded).Sum(x => x.Bytes);
        o.WriteLine();
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"total {rows.Count}: uploaded {uploaded}, duplicate {duplicate}, already done (state file) {resumed}, rejected {rejected}; {Bytes(sent)} uploaded in {elapsed.TotalSeconds:F1} s"));
    }

    public static string Label(IngestOutcomeKind kind) => kind switch
    {
        IngestOutcomeKind.Uploaded => "uploaded",
        IngestOutcomeKind.Duplicate => "duplicate",
        IngestOutcomeKind.Resumed => "skipped",
        _ => "rejected",
    };

    private static int Order(string status) => status switch
    {
        "uploaded" => 0,
        "duplicate" => 1,
        "skipped" => 2,
        _ => 3,
    };

    public static string Bytes(long n)
    {
        var inv = CultureInfo.InvariantCulture;
        return n switch
        {
            < 1024 => n.ToString(inv) + " B",
            < 1024 * 1024 => (n / 1024.0).ToString("F1", inv) + " KiB",
            < 1024L * 1024 * 1024 => (n / (1024.0 * 1024)).ToString("F1", inv) + " MiB",
            _ => (n / (1024.0 * 1024 * 1024)).ToString("F2", inv) + " GiB",
        };
    }
}

/// <summary>
/// Live progress on stderr: one line refreshed with <c>\r</c> every 250 ms when stderr is a terminal, otherwise a plain
/// line every 5 s (logs and CI output stay readable). Disposing prints the final state.
/// </summary>
public sealed class ProgressPrinter : IDisposable
{
    private readonly TextWriter _error;
    private readonly IngestProgress _progress;
    private readonly bool _terminal;
    private readonly Timer _timer;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private int _lastLength;
    private bool _stopped;

    public ProgressPrinter(TextWriter error, IngestProgress progress, bool terminal, TimeSpan? period = null)
    {
        _error = error;
        _progress = progress;
        _terminal = terminal;
        var every = period ?? (terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(5));
        _timer = new Timer(_ => Print(final: false), null, every, every);
    }

    public static string Line(IngestProgress p, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(p);
        double rate = elapsed.TotalSeconds > 0 ? p.BytesSent / elapsed.TotalSeconds : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.Done}/{p.TotalFiles} files  {IngestSummary.Bytes(p.BytesSent)} / {IngestSummary.Bytes(p.TotalBytes)}  {IngestSummary.Bytes((long)rate)}/s  {elapsed.TotalSeconds:F0} s");
    }

    private void Print(bool final)
    {
        lock (_lock)
        {
            if (_stopped) return;
            _stopped = final;
            string line = Line(_progress, _clock.Elapsed);
            if (_terminal)
            {
                _error.Write("\r" + line.PadRight(_lastLength));
                _lastLength = line.Length;
                if (final) _error.WriteLine();
            }
            else
            {
                _error.WriteLine(line);
            }

            _error.Flush();
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Print(final: true);
    }
}
