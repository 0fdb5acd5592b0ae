using System.Globalization;
using System.Text.RegularExpressions;
using LiteVL.Testing;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.Soak;

/// <summary>
/// CI's short soak: the driver of tests/soak.sh as its own process (with its own PostgreSQL cluster and RabbitMQ node),
/// 16 videos, two kills of each worker kind, one restart each of the broker and the database, two deletes in flight.
/// It must exit 0 and end with the issue's line, its numbers adding up.
/// </summary>
public sealed partial class SoakCommandTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task A_short_soak_loses_and_duplicates_nothing_and_ends_with_its_summary_line()
    {
        // It starts a cluster and a node of its own with the scripts, which needs the servers installed.
        Servers.Require(Server.Postgres);
        Servers.Require(Server.RabbitMq);
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "LiteVL.Soak.dll"),
            "--videos", "16", "--encoder-kills", "2", "--extractor-kills", "2", "--indexer-kills", "2",
            "--broker-restarts", "1", "--db-restarts", "1", "--deletes", "2", "--seed", "17",
        ];
        var run = await Programs.RunAsync("dotnet", args, limit: TimeSpan.FromMinutes(20));
        output.WriteLine(run.Output);
        output.WriteLine(run.Error);

        string last = run.Output.TrimEnd().Split('\n')[^1];
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; last line: {last}\n{run.Error}");
        var m = LastLine().Match(last);
        Assert.True(m.Success, $"not the soak's last line: {last}");
        int N(string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

        Assert.Equal((16, 0, 0, 6, 1, 1, 2), (N("accepted"), N("lost"), N("duplicated"), N("kills"), N("broker"), N("db"), N("deletes")));
        Assert.Equal(N("accepted"), N("indexed") + N("failed") + N("deletes"));
        Assert.True(N("points") >= N("indexed"), "every Indexed video has at least one point");
    }

    [Fact]
    public async Task A_bad_command_line_exits_2_with_the_usage()
    {
        var run = await Programs.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "LiteVL.Soak.dll"), "--videos", "lots"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error: --videos lots: the value must be a whole number", run.Error, StringComparison.Ordinal);
        Assert.Contains("usage: tests/soak.sh", run.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^soak: (?<accepted>\d+) accepted, (?<indexed>\d+) indexed, (?<failed>\d+) failed, (?<lost>\d+) lost, (?<duplicated>\d+) duplicated, (?<points>\d+) points, (?<kills>\d+) kills, (?<broker>\d+) broker restarts, (?<db>\d+) db restarts, (?<deletes>\d+) deletes, (?<seconds>\d+) s$")]
    private static partial Regex LastLine();
}
