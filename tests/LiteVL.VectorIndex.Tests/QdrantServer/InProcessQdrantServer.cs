using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qdrant.Client;

namespace LiteVL.VectorIndex.Tests.QdrantServer;

/// <summary>
/// A protocol-compatible Qdrant gRPC server for tests: Kestrel on 127.0.0.1 with an ephemeral port, HTTP/2 without TLS,
/// the server bases generated from Qdrant.Client's own descriptors (see generate.sh), state in <see cref="InMemoryQdrant"/>.
/// </summary>
public sealed class InProcessQdrantServer : IAsyncDisposable
{
    /// <summary>The Qdrant version whose protocol the double speaks (that of the Qdrant.Client package).</summary>
    public const string ProtocolVersion = "1.20.0";

    private readonly WebApplication _app;

    private InProcessQdrantServer(WebApplication app, InMemoryQdrant state, Uri address)
    {
        _app = app;
        State = state;
        Address = address;
    }

    public InMemoryQdrant State { get; }

    /// <summary>http://127.0.0.1:{port}</summary>
    public Uri Address { get; }

    public static async Task<InProcessQdrantServer> StartAsync(CancellationToken ct = default)
    {
        var state = new InMemoryQdrant();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = true;
            o.MaxReceiveMessageSize = 64 << 20;
        });
        builder.Services.AddSingleton(state);
        var app = builder.Build();
        app.MapGrpcService<QdrantHealthService>();
        app.MapGrpcService<CollectionsService>();
        app.MapGrpcService<PointsService>();
        await app.StartAsync(ct).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new InProcessQdrantServer(app, state, new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>A client for this server (plain-text HTTP/2).</summary>
    public QdrantClient CreateClient() => new(Address.Host, Address.Port, https: false);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
