using LiteVL.Testing;

namespace LiteVL.Pipeline.Tests.Distributed;

/// <summary>
/// A service started with a bad configuration stops at once with exit code 2 and one message that names the key to fix,
/// not an unhandled-exception stack trace (and not a process that runs on and fails later).
/// </summary>
public sealed class StartupValidationTests : IDisposable
{
    // One data folder per test (xUnit makes an instance per test), removed afterwards: the services refuse to start,
    // so it stays empty, but a folder per run would pile up in /tmp.
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("litevl-startup-");

    public void Dispose() => _data.Delete(recursive: true);

    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "LiteVL__Messaging__Transport", "Kafka", "LiteVL:Messaging:Transport", "MessageTransport" },
        { "LiteVL__Messaging__PrefetchCount", "0", "LiteVL:Messaging", "PrefetchCount" },
        { "LiteVL__Messaging__RabbitMqPort", "70000", "LiteVL:Messaging", "RabbitMqPort" },
        { "LiteVL__Storage__Provider", "Postgres", "LiteVL:Storage:ConnectionString is required", "Host=" },
        { "LiteVL__Model__Device", "tpu", "LiteVL:Model", "must be cpu or cuda" },
        { "LiteVL__Encoder__MessagesPerBatch", "0", "LiteVL:Encoder", "MessagesPerBatch" },
    };

    [Fact]
    public async Task The_upload_API_refuses_a_reconciler_that_would_never_run()
    {
        var (exitCode, output) = await ServiceProcess.RunToExitAsync("LiteVL.UploadApi.dll", new Dictionary<string, string>
        {
            ["LiteVL__Storage__DataDirectory"] = _data.FullName,
            ["LiteVL__Reconciler__Interval"] = "00:00:00",
        });

        Assert.True(exitCode == 2, $"exit code {exitCode}:\n{output}");
        Assert.Contains("upload API cannot start: invalid configuration in section LiteVL:Reconciler", output, StringComparison.Ordinal);
        Assert.Contains("LiteVL:Reconciler:Interval must be positive.", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_setting_stops_the_encoder_with_a_message_naming_it(string variable, string value, string expected, string alsoExpected)
    {
        var environment = new Dictionary<string, string>
        {
            ["LiteVL__Messaging__Transport"] = "RabbitMq",
            ["LiteVL__Messaging__RabbitMqHost"] = "127.0.0.1",
            ["LiteVL__Storage__DataDirectory"] = _data.FullName,
            [variable] = value,
        };
        var (exitCode, output) = await ServiceProcess.RunToExitAsync("LiteVL.Encoder.dll", environment);

        Assert.True(exitCode == 2, $"exit code {exitCode}:\n{output}");
        Assert.Contains("encoder cannot start", output, StringComparison.Ordinal);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.Contains(alsoExpected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_database_is_named_with_the_key_to_check()
    {
        var environment = new Dictionary<string, string>
        {
            ["LiteVL__Storage__Provider"] = "Postgres",
            // Port 1 on loopback: nothing listens there, the connection is refused at once.
            ["LiteVL__Storage__ConnectionString"] = "Host=127.0.0.1;Port=1;Database=litevl;Username=litevl;Password=x;Timeout=2",
            ["LiteVL__Storage__DataDirectory"] = _data.FullName,
        };
        var (exitCode, output) = await ServiceProcess.RunToExitAsync("LiteVL.Indexer.dll", environment);

        Assert.True(exitCode == 2, $"exit code {exitCode}:\n{output}");
        Assert.Contains("indexer cannot start: the PostgreSQL database cannot be used", output, StringComparison.Ordinal);
        Assert.Contains("LiteVL:Storage:ConnectionString", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }
}
