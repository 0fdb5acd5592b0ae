using Xunit;

namespace LiteVL.Testing;

/// <summary>A server or tool some tests need, which a plain <c>dotnet test</c> may not have.</summary>
public enum Server
{
    /// <summary>PostgreSQL: <c>LITEVL_TEST_POSTGRES</c>, an admin connection string.</summary>
    Postgres,

    /// <summary>RabbitMQ: <c>LITEVL_TEST_RABBITMQ_PORT</c>, the AMQP port of a node on 127.0.0.1 (guest/guest).</summary>
    RabbitMq,

    /// <summary>Qdrant: <c>QDRANT_URL</c>, a gRPC endpoint.</summary>
    Qdrant,

    /// <summary>The <c>docker-compose</c> program on PATH.</summary>
    DockerCompose,

    /// <summary>The <c>kubectl</c> program on PATH.</summary>
    Kubectl,
}

/// <summary>How a <see cref="Server"/> is provided: an environment variable or a program on PATH, and whether CI must have it.</summary>
/// <param name="Name">The server's name in messages.</param>
/// <param name="Variable">The environment variable that provides it, or null for a program.</param>
/// <param name="Program">The program on PATH that provides it, or null for a variable.</param>
/// <param name="RequiredInCi">Under <c>CI=true</c> its tests run even without it, and so fail: CI never skips them.</param>
/// <param name="HowToProvide">What to do to run the tests, for the skip or failure message.</param>
public sealed record ServerRequirement(string Name, string? Variable, string? Program, bool RequiredInCi, string HowToProvide);

/// <summary>What <see cref="Servers.Decide"/> says about a test that needs a server.</summary>
/// <param name="Run">Run the test (the server is there, or CI requires it and the test will fail without it).</param>
/// <param name="Value">The variable's value or the program's full path; null when the server is missing.</param>
/// <param name="Message">Why it is skipped or will fail, and how to provide the server; null when it is there.</param>
public sealed record ServerDecision(bool Run, string? Value, string? Message);

/// <summary>
/// The one policy for tests that need a server (PostgreSQL, RabbitMQ, Qdrant) or a tool (docker-compose, kubectl).
/// Such a test is a <c>[SkippableFact]</c> or <c>[SkippableTheory]</c> (Xunit.SkippableFact) and calls
/// <see cref="Require"/> before it uses the server — in its body, or once for a whole class in the constructor,
/// <c>InitializeAsync</c> or the factory an inherited suite calls. Where the server is missing the test is reported
/// <b>Skipped</b> with a message that says how to provide it; under <c>CI=true</c> the PostgreSQL and RabbitMQ tests run
/// anyway and fail with that message, so CI can never pass by skipping them. Qdrant and the tools stay skipped in CI.
/// </summary>
public static class Servers
{
    /// <summary>The variable CI systems set (GitHub Actions, GitLab: <c>CI=true</c>).</summary>
    public const string CiVariable = "CI";

    public static ServerRequirement RequirementOf(Server server) => server switch
    {
        Server.Postgres => new(
            "PostgreSQL",
            "LITEVL_TEST_POSTGRES",
            null,
            RequiredInCi: true,
            "run ./tests/run.sh (it starts a throwaway PostgreSQL), or start one with 'deploy/postgres.sh start DIR PORT' and export LITEVL_TEST_POSTGRES=<the admin connection string it prints>"),
        Server.RabbitMq => new(
            "RabbitMQ",
            "LITEVL_TEST_RABBITMQ_PORT",
            null,
            RequiredInCi: true,
            "run ./tests/run.sh (it starts a throwaway RabbitMQ), or start one with 'deploy/rabbitmq.sh start DIR PORT MANAGEMENT_PORT' and export LITEVL_TEST_RABBITMQ_PORT=PORT LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT=MANAGEMENT_PORT"),
        Server.Qdrant => new(
            "Qdrant",
            "QDRANT_URL",
            null,
            RequiredInCi: false,
            "set QDRANT_URL to a Qdrant gRPC endpoint (e.g. http://localhost:6334; QDRANT_API_KEY if it needs one) to run these tests against a real Qdrant"),
        Server.DockerCompose => new(
            "docker-compose",
            null,
            "docker-compose",
            RequiredInCi: false,
            "install it (apt-get install docker-compose; tests/validate-deployment.sh does) to render the file with it"),
        Server.Kubectl => new(
            "kubectl",
            null,
            "kubectl",
            RequiredInCi: false,
            "install kubectl to render the overlays with 'kubectl kustomize'"),
        _ => throw new ArgumentOutOfRangeException(nameof(server), server, "Unknown server."),
    };

    /// <summary>Whether <c>CI</c> says this is a CI run (<c>true</c> or <c>1</c>).</summary>
    public static bool IsCi(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return environment(CiVariable) is { } ci && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");
    }

    /// <summary>
    /// The decision, from the environment and PATH given: the server is there → run with its value; missing → skip with
    /// a message, except under <c>CI=true</c> for a server CI must have → run (and fail).
    /// </summary>
    public static ServerDecision Decide(Server server, Func<string, string?> environment, Func<string, string?> findProgram)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(findProgram);
        var r = RequirementOf(server);
        string? value = r.Variable is not null ? environment(r.Variable) : findProgram(r.Program!);
        if (!string.IsNullOrEmpty(value))
        {
            return new ServerDecision(true, value, null);
        }

        string missing = r.Variable is not null ? $"{r.Variable} is not set" : $"{r.Program} is not on PATH";
        return IsCi(environment) && r.RequiredInCi
            ? new ServerDecision(true, null, $"{r.Name} is required under {CiVariable}=true, but {missing}: {r.HowToProvide}.")
            : new ServerDecision(false, null, $"Needs {r.Name}, and {missing}: {r.HowToProvide}.");
    }

    /// <summary>
    /// For a test that needs <paramref name="server"/>: its value (connection string, port, URL or the program's path);
    /// or the test is skipped (<see cref="SkipException"/>, with the message); or, under <c>CI=true</c> for PostgreSQL
    /// and RabbitMQ, it fails (<see cref="InvalidOperationException"/>, with the message).
    /// </summary>
    public static string Require(Server server)
    {
        var decision = Decide(server, Environment.GetEnvironmentVariable, FindOnPath);
        if (!decision.Run)
        {
            throw new SkipException(decision.Message);
        }

        return decision.Value ?? throw new InvalidOperationException(decision.Message);
    }

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
