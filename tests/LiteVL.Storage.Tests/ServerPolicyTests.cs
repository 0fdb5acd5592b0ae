using LiteVL.Testing;

namespace LiteVL.Storage.Tests;

/// <summary>
/// The one policy for tests that need a server (tests/LiteVL.Testing/Servers.cs), decided from a given environment and
/// PATH: run when provided; skip with a message that says how to provide it; under CI=true, run (and so fail) for
/// PostgreSQL and RabbitMQ, skip for Qdrant and the tools.
/// </summary>
public sealed class ServerPolicyTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    private static string? NoPrograms(string program) => null;

    [Theory]
    [InlineData(Server.Postgres, "LITEVL_TEST_POSTGRES", "Host=127.0.0.1;Port=21001;Username=postgres")]
    [InlineData(Server.RabbitMq, "LITEVL_TEST_RABBITMQ_PORT", "21002")]
    [InlineData(Server.Qdrant, "QDRANT_URL", "http://localhost:6334")]
    public void Variable_set_runs_with_its_value(Server server, string variable, string value)
    {
        foreach (var ci in new[] { "", "true" })
        {
            var decision = Servers.Decide(server, Environment((variable, value), ("CI", ci)), NoPrograms);
            Assert.Equal(new ServerDecision(true, value, null), decision);
        }
    }

    [Theory]
    [InlineData(Server.Postgres, "LITEVL_TEST_POSTGRES", "deploy/postgres.sh")]
    [InlineData(Server.RabbitMq, "LITEVL_TEST_RABBITMQ_PORT", "deploy/rabbitmq.sh")]
    [InlineData(Server.Qdrant, "QDRANT_URL", "Qdrant gRPC endpoint")]
    public void Missing_without_CI_skips_with_a_message_saying_how_to_provide_it(Server server, string variable, string hint)
    {
        var decision = Servers.Decide(server, Environment(), NoPrograms);

        Assert.False(decision.Run);
        Assert.Null(decision.Value);
        Assert.Contains($"{variable} is not set", decision.Message, StringComparison.Ordinal);
        Assert.Contains(hint, decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Server.Postgres, "true")]
    [InlineData(Server.Postgres, "TRUE")]
    [InlineData(Server.RabbitMq, "true")]
    [InlineData(Server.RabbitMq, "1")]
    public void Missing_under_CI_runs_so_that_the_test_fails(Server server, string ci)
    {
        var decision = Servers.Decide(server, Environment(("CI", ci)), NoPrograms);

        Assert.True(decision.Run);
        Assert.Null(decision.Value);
        Assert.Contains("required under CI=true", decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Server.Qdrant)]
    [InlineData(Server.DockerCompose)]
    [InlineData(Server.Kubectl)]
    public void Missing_under_CI_still_skips_what_CI_cannot_install(Server server)
    {
        var decision = Servers.Decide(server, Environment(("CI", "true")), NoPrograms);

        Assert.False(decision.Run);
        Assert.NotNull(decision.Message);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("")]
    public void CI_other_than_true_is_not_CI(string ci) =>
        Assert.False(Servers.Decide(Server.Postgres, Environment(("CI", ci)), NoPrograms).Run);

    [Theory]
    [InlineData(Server.DockerCompose, "docker-compose")]
    [InlineData(Server.Kubectl, "kubectl")]
    public void A_tool_is_provided_by_PATH_not_by_a_variable(Server server, string program)
    {
        var found = Servers.Decide(server, Environment(), p => p == program ? "/usr/bin/" + p : null);
        Assert.Equal(new ServerDecision(true, "/usr/bin/" + program, null), found);

        var missing = Servers.Decide(server, Environment(), NoPrograms);
        Assert.False(missing.Run);
        Assert.Contains($"{program} is not on PATH", missing.Message, StringComparison.Ordinal);
    }
}
