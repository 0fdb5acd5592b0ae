using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace LiteVL.Dashboard;

/// <param name="Name">Queue (receive endpoint) name.</param>
/// <param name="Waiting">Messages not yet handed to a consumer.</param>
/// <param name="InProgress">Messages handed to a consumer and not yet acknowledged.</param>
/// <param name="Consumers">Consumers attached (RabbitMQ) or endpoints in this process (in-process).</param>
/// <param name="Handled">Messages finished since the process started (in-process only).</param>
public sealed record QueueFigure(string Name, long Waiting, long InProgress, long Consumers, long? Handled);

/// <param name="Source"><c>rabbitmq</c> or <c>in-process</c>.</param>
/// <param name="Description">Where the figures come from, shown under the table.</param>
/// <param name="Error">Why there are no figures (e.g. the management API did not answer).</param>
public sealed record QueueReport(string Source, string Description, IReadOnlyList<QueueFigure> Queues, string? Error);

/// <summary>Queue depths and consumer counts, from wherever the transport keeps them.</summary>
public interface IQueueFigures
{
    Task<QueueReport> ReadAsync(CancellationToken ct);
}

/// <summary>Distributed mode: the RabbitMQ management HTTP API (<c>GET /api/queues/{vhost}</c>).</summary>
public sealed class RabbitMqQueueFigures(HttpClient http, MessagingOptions messaging, IOptions<DashboardOptions> options) : IQueueFigures
{
    public Uri ManagementUrl => options.Value.RabbitMqManagementUrl ?? new Uri($"http://{messaging.RabbitMqHost}:15672/");

    public async Task<QueueReport> ReadAsync(CancellationToken ct)
    {
        string description = $"RabbitMQ management API at {ManagementUrl} (virtual host '{messaging.RabbitMqVirtualHost}')";
        var url = new Uri(ManagementUrl, $"api/queues/{Uri.EscapeDataString(messaging.RabbitMqVirtualHost)}?columns=name,messages_ready,messages_unacknowledged,consumers");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{messaging.RabbitMqUsername}:{messaging.RabbitMqPassword}")));
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new QueueReport("rabbitmq", description, [], $"the management API answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var doc = await JsonDocument.ParseAsync(body, cancellationToken: timeout.Token).ConfigureAwait(false);
            var queues = doc.RootElement.EnumerateArray()
                .Select(q => new QueueFigure(q.GetProperty("name").GetString() ?? "?", Long(q, "messages_ready"), Long(q, "messages_unacknowledged"), Long(q, "consumers"), null))
                .OrderBy(q => q.Name, StringComparer.Ordinal)
                .ToList();
            return new QueueReport("rabbitmq", description, queues, null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return new QueueReport("rabbitmq", description, [], $"the management API did not answer: {e.Message}");
        }
    }

    private static long Long(JsonElement queue, string name) =>
        queue.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;
}

/// <summary>
/// Embedded mode (in-memory transport, which has no management API): this process's bus observed from inside.
/// Per receive endpoint, <c>InProgress</c> counts deliveries between receive and acknowledgement, and <c>Waiting</c>
/// is what was published of the message types the endpoint consumes minus what it has received — exact for the
/// in-memory bus, where every message is published and consumed in this process. An endpoint's message types are
/// learnt from its first consumed message, so an endpoint that has never received anything shows 0 waiting.
/// </summary>
public sealed class InProcessQueueFigures : IQueueFigures, IPublishObserver, IReceiveObserver, IConsumeObserver
{
    private readonly ConcurrentDictionary<Type, long> _published = new();
    private readonly ConcurrentDictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);

    public Task<QueueReport> ReadAsync(CancellationToken ct)
    {
        var queues = _endpoints.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e =>
        {
            var endpoint = e.Value;
            long published = endpoint.MessageTypes.Keys.Sum(t => _published.TryGetValue(t, out long n) ? n : 0);
            long received = Interlocked.Read(ref endpoint.Received);
            return new QueueFigure(e.Key, Math.Max(0, published - received), Math.Max(0, Interlocked.Read(ref endpoint.InProgress)), 1, Interlocked.Read(ref endpoint.Completed));
        }).ToList();
        return Task.FromResult(new QueueReport(
            "in-process",
            "in-memory bus of this process (embedded mode): published minus received per endpoint, counted since start-up",
            queues,
            null));
    }

    public Task PrePublish<T>(PublishContext<T> context)
        where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context)
        where T : class
    {
        _published.AddOrUpdate(typeof(T), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception)
        where T : class => Task.CompletedTask;

    public Task PreReceive(ReceiveContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = EndpointOf(context.InputAddress);
        Interlocked.Increment(ref endpoint.Received);
        Interlocked.Increment(ref endpoint.InProgress);
        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Done(context);

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Done(context);

    public Task PreConsume<T>(ConsumeContext<T> context)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ReceiveContext?.InputAddress is { } address)
        {
            EndpointOf(address).MessageTypes.TryAdd(typeof(T), 0);
        }

        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
        where T : class => Task.CompletedTask;

    private Task Done(ReceiveContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = EndpointOf(context.InputAddress);
        Interlocked.Decrement(ref endpoint.InProgress);
        Interlocked.Increment(ref endpoint.Completed);
        return Task.CompletedTask;
    }

    private Endpoint EndpointOf(Uri address) => _endpoints.GetOrAdd(address.AbsolutePath.Trim('/').Split('/')[^1], _ => new Endpoint());

    private sealed class Endpoint
    {
        public readonly ConcurrentDictionary<Type, byte> MessageTypes = new();
        public long Received;
        public long InProgress;
        public long Completed;
    }
}
