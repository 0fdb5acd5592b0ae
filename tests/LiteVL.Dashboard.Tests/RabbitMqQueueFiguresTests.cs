using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using LiteVL.ServiceDefaults;
using LiteVL.Testing;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard.Tests;

/// <summary>The distributed mode's queue figures, read from a real RabbitMQ node's management API (started by tests/run.sh).</summary>
public sealed class RabbitMqQueueFiguresTests
{
    private static int AmqpPort => int.Parse(Servers.Require(Server.RabbitMq), System.Globalization.CultureInfo.InvariantCulture);

    private static Uri Management => new($"http://127.0.0.1:{Environment.GetEnvironmentVariable("LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT")
        ?? throw new InvalidOperationException("LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT is not set: run the tests through ./tests/run.sh.")}/");

    /// <summary>Every test here needs the node: skipped with the policy's message where it is missing, failed under CI=true.</summary>
    public RabbitMqQueueFiguresTests() => Servers.Require(Server.RabbitMq);

    [SkippableFact]
    public async Task Waiting_messages_and_consumers_of_a_queue_come_from_the_management_API()
    {
        string queue = $"dashboard-test-{Guid.NewGuid():N}";
        using var admin = new HttpClient { BaseAddress = Management };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("guest:guest")));
        (await admin.PutAsJsonAsync(new Uri($"api/queues/%2F/{queue}", UriKind.Relative), new { durable = false, auto_delete = false })).EnsureSuccessStatusCode();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var publish = new { properties = new { }, routing_key = queue, payload = $"message {i}", payload_encoding = "string" };
                (await admin.PostAsJsonAsync(new Uri("api/exchanges/%2F/amq.default/publish", UriKind.Relative), publish)).EnsureSuccessStatusCode();
            }

            var figures = Figures("guest");
            // The management API's queue statistics are refreshed every few seconds: wait for the three messages.
            QueueFigure? figure = null;
            for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(500))
            {
                var report = await figures.ReadAsync(CancellationToken.None);
                Assert.Null(report.Error);
                Assert.Equal("rabbitmq", report.Source);
                figure = report.Queues.SingleOrDefault(q => q.Name == queue);
                if (figure?.Waiting == 3)
                {
                    break;
                }
            }

            Assert.NotNull(figure);
            Assert.Equal((3L, 0L, 0L), (figure.Waiting, figure.InProgress, figure.Consumers));
            Assert.Null(figure.Handled);
        }
        finally
        {
            await admin.DeleteAsync(new Uri($"api/queues/%2F/{queue}", UriKind.Relative));
        }
    }

    [SkippableFact]
    public async Task Wrong_credentials_give_an_error_line_not_an_exception()
    {
        var report = await Figures("not-the-password").ReadAsync(CancellationToken.None);
        Assert.Empty(report.Queues);
        Assert.Contains("401", report.Error, StringComparison.Ordinal);
    }

    private static RabbitMqQueueFigures Figures(string password) => new(
        new HttpClient(),
        new MessagingOptions { Transport = MessageTransport.RabbitMq, RabbitMqHost = "127.0.0.1", RabbitMqPort = AmqpPort, RabbitMqUsername = "guest", RabbitMqPassword = password },
        Options.Create(new DashboardOptions { RabbitMqManagementUrl = Management }));
}
