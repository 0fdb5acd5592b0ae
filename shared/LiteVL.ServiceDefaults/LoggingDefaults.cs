using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Hosting;

namespace LiteVL.ServiceDefaults;

/// <summary>
/// The console a person reads: the frameworks (EF Core, MassTransit, ASP.NET Core, hosting, DataProtection) at Warning,
/// LiteVL's own logs at Information (one line per video that changes state), each entry on one line. These are the
/// lowest-precedence configuration source, so <c>appsettings.json</c>, <c>Logging__LogLevel__*</c> variables and
/// <c>--Logging:LogLevel:*=</c> arguments still win; <see cref="Verbose"/> brings every detail back. One line per entry is
/// an option of the simple formatter only: a service that logs JSON (<c>Logging:Console:FormatterName=json</c>) keeps its fields.
/// </summary>
public static class LoggingDefaults
{
    public static IReadOnlyDictionary<string, string?> Quiet { get; } = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft"] = "Warning",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting"] = "Warning",
        ["Logging:LogLevel:Microsoft.Extensions.Hosting"] = "Warning",
        ["Logging:LogLevel:MassTransit"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Grpc"] = "Warning",
        ["Logging:LogLevel:LiteVL"] = "Information",
        // Named, because with no formatter name the console provider rebuilds the simple formatter's options from its own
        // legacy settings and drops SingleLine. A configured name (json) wins over this one.
        ["Logging:Console:FormatterName"] = "simple",
        ["Logging:Console:FormatterOptions:SingleLine"] = "true",
    };

    /// <summary>Everything at Information again (SQL, MassTransit, hosting), LiteVL at Debug.</summary>
    public static IReadOnlyDictionary<string, string?> Verbose { get; } = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft"] = "Information",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information",
        ["Logging:LogLevel:Microsoft.Hosting"] = "Information",
        ["Logging:LogLevel:Microsoft.Extensions.Hosting"] = "Information",
        ["Logging:LogLevel:MassTransit"] = "Information",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Information",
        ["Logging:LogLevel:Grpc"] = "Information",
        ["Logging:LogLevel:LiteVL"] = "Debug",
    };

    /// <summary>Adds <see cref="Quiet"/> beneath every other configuration source, and <see cref="Verbose"/> on top when asked.</summary>
    public static IHostApplicationBuilder AddLiteVLLoggingDefaults(this IHostApplicationBuilder builder, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Quiet });
        if (verbose)
        {
            builder.Configuration.AddInMemoryCollection(Verbose);
        }

        return builder;
    }
}
