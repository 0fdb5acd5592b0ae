using LiteVL.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LiteVL.Pipeline.Tests.Security;

/// <summary>
/// A self-hosted system calls no one home: MassTransit (8.4+) reports usage telemetry to usage-tracking.masstransit.io
/// unless told not to, and every service's bus is configured through <see cref="MessagingExtensions.AddLiteVLMessaging(IServiceCollection, IConfiguration)"/>.
/// </summary>
public sealed class NoCallHomeTests
{
    [Theory]
    [InlineData("InMemory")]
    [InlineData("RabbitMq")]
    public void The_bus_is_configured_without_MassTransits_usage_telemetry(string transport)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteVL:Messaging:Transport"] = transport,
        }).Build();
        var services = new ServiceCollection().AddLogging().AddLiteVLMessaging(configuration);
        using var provider = services.BuildServiceProvider();

        Assert.False(provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }
}
