using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LiteVL.ServiceDefaults;

/// <summary>
/// The outer frame of every service's Program: a start-up that fails on configuration or an unreachable database ends
/// with one message that says what to fix (and exit code 2) instead of an unhandled-exception stack trace.
/// </summary>
public static class ServiceMain
{
    public const int ConfigurationError = 2;

    public static async Task<int> RunAsync(string service, Func<Task> run, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        try
        {
            await run().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (Describe(e) is { } message)
        {
            await (error ?? Console.Error).WriteLineAsync($"{service} cannot start: {message}").ConfigureAwait(false);
            return ConfigurationError;
        }
    }

    /// <summary>A person's explanation of a start-up failure, or null when it is not one we can explain.</summary>
    public static string? Describe(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: > 0 } a when a.InnerExceptions.All(i => Describe(i) is not null) =>
            string.Join("\n", a.InnerExceptions.Select(Describe).Distinct()),
        StartupException => e.Message,
        OptionsValidationException o =>
            $"invalid configuration{SectionOf(o.OptionsType)}:\n" + string.Join("\n", o.Failures.Select(f => $"  - {f}")) + "\n" + HowToSet,
        Microsoft.EntityFrameworkCore.Storage.RetryLimitExceededException { InnerException: { } inner } => Describe(inner),
        InvalidOperationException { Message: var m } when m.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            $"{m} {e.InnerException?.Message}\n{HowToSet}",
        NpgsqlException { InnerException: SocketException or TimeoutException } or NpgsqlException { SqlState: "28P01" or "3D000" } =>
            $"the PostgreSQL database cannot be used ({e.Message}); check LiteVL:Storage:ConnectionString (host, port, database, user, password) and that the server is running.",
        _ => null,
    };

    /// <summary>" in section X" for an options class with the usual <c>const string Section</c>.</summary>
    private static string SectionOf(Type? options) =>
        options?.GetField("Section", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)?.GetRawConstantValue() is string section
            ? $" in section {section}"
            : "";

    private const string HowToSet =
        "Set values in appsettings.json or as environment variables, where ':' becomes '__' (e.g. LiteVL__Storage__ConnectionString).";
}

/// <summary>A start-up failure whose message already says what is wrong and what to do; <see cref="ServiceMain"/> prints it as it is.</summary>
public sealed class StartupException : Exception
{
    public StartupException()
    {
    }

    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
