using Npgsql;
using Xunit;

namespace LiteVL.Testing;

/// <summary>
/// A PostgreSQL cluster and a RabbitMQ node of the test's own, started and stopped with the scripts users run
/// (deploy/postgres.sh, deploy/rabbitmq.sh), so the fault test can restart them without disturbing the shared ones.
/// </summary>
public sealed class OwnInfrastructure : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _repository;

    private OwnInfrastructure(string root, string repository)
    {
        _root = root;
        _repository = repository;
    }

    public int PostgresPort { get; private set; }

    public int RabbitMqPort { get; private set; }

    public string PostgresAdmin { get; private set; } = "";

    /// <summary>The RabbitMQ management API's port (guest/guest), 1000 above the AMQP port, as this class starts the node.</summary>
    public int RabbitMqManagementPort => RabbitMqPort + 1000;

    private string PgDir => Path.Combine(_root, "pg");

    private string MqDir => Path.Combine(_root, "mq");

    public static async Task<OwnInfrastructure> StartAsync()
    {
        // Short: RabbitMQ names the node after the directory, and PostgreSQL puts its socket there (path limit 107 bytes).
        string root = Path.Combine("/tmp", $"lvf-{Guid.NewGuid():N}"[..12]);
        Directory.CreateDirectory(root);
        var infra = new OwnInfrastructure(root, RepositoryRoot.Path);
        try
        {
            // Ports below Linux's ephemeral range and away from tests/run.sh's (21000-27999); retried like run.sh does.
            for (int attempt = 0; ; attempt++)
            {
                int port = 28000 + Random.Shared.Next(2000);
                var (code, output) = await infra.ScriptAsync("postgres.sh", "start", infra.PgDir, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (code == 0)
                {
                    infra.PostgresPort = port;
                    infra.PostgresAdmin = output.Trim();
                    break;
                }

                if (attempt == 4)
                {
                    throw new InvalidOperationException($"PostgreSQL did not start: {output}");
                }
            }

            for (int attempt = 0; ; attempt++)
            {
                int port = 30000 + Random.Shared.Next(1000);
                var (code, output) = await infra.ScriptAsync("rabbitmq.sh", "start", infra.MqDir, port.ToString(System.Globalization.CultureInfo.InvariantCulture), (port + 1000).ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (code == 0)
                {
                    infra.RabbitMqPort = port;
                    break;
                }

                await infra.ScriptAsync("rabbitmq.sh", "stop", infra.MqDir);
                if (attempt == 4)
                {
                    throw new InvalidOperationException($"RabbitMQ did not start: {output}");
                }
            }

            return infra;
        }
        catch
        {
            await infra.DisposeAsync();
            throw;
        }
    }

    public async Task RestartRabbitMqAsync()
    {
        await ScriptAsync("rabbitmq.sh", "stop", MqDir);
        string port = RabbitMqPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, output) = await ScriptAsync("rabbitmq.sh", "start", MqDir, port, RabbitMqManagementPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, $"RabbitMQ did not come back: {output}");
    }

    public async Task RestartPostgresAsync()
    {
        await ScriptAsync("postgres.sh", "stop", PgDir);
        var (code, output) = await ScriptAsync("postgres.sh", "start", PgDir, PostgresPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, $"PostgreSQL did not come back: {output}");
    }

    /// <summary>Messages ready and unacknowledged in <paramref name="queue"/>, read from the node (no statistics delay).</summary>
    public async Task<(int Ready, int Unacked, int Consumers)> QueueAsync(string queue)
    {
        var (code, output) = await ScriptAsync("rabbitmq.sh", "queues", MqDir);
        Assert.True(code == 0, output);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('\t');
            if (f.Length == 4 && f[0] == queue)
            {
                return (int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return (0, 0, 0);
    }

    /// <summary>
    /// Every queue of the node with its messages (ready + unacknowledged), from the management API (its figures lag the
    /// node by up to 5 s, the statistics interval).
    /// </summary>
    public async Task<IReadOnlyList<(string Name, long Messages)>> ManagementQueuesAsync(CancellationToken ct = default)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{RabbitMqManagementPort}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("guest:guest"u8.ToArray()));
        using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/queues", UriKind.Relative), ct).ConfigureAwait(false));
        return [.. doc.RootElement.EnumerateArray().Select(q => (
            q.GetProperty("name").GetString() ?? "",
            q.TryGetProperty("messages", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.Number ? m.GetInt64() : 0))];
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ScriptAsync("rabbitmq.sh", "stop", MqDir);
        await ScriptAsync("postgres.sh", "stop", PgDir);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task<(int Code, string Output)> ScriptAsync(string script, params string[] arguments)
    {
        var run = await Programs.RunAsync(Path.Combine(_repository, "deploy", script), arguments, limit: TimeSpan.FromMinutes(5));
        return (run.ExitCode, run.Output + run.Error);
    }
}
