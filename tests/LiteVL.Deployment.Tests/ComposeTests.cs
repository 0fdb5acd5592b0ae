using LiteVL.Testing;

namespace LiteVL.Deployment.Tests;

public class ComposeTests
{
    private static Compose Load() => new(Repo.Read("docker-compose.yml"));

    private static Compose Mutated(string from, string to)
    {
        string text = Repo.Read("docker-compose.yml");
        Assert.Contains(from, text, StringComparison.Ordinal);
        return new Compose(text.Replace(from, to, StringComparison.Ordinal));
    }

    [Fact]
    public void Compose_file_passes_every_check() => Assert.Empty(ComposeChecks.All(Load()));

    [Fact]
    public void Gpu_decode_override_binds_and_reserves_a_gpu()
    {
        var overlay = new Compose(Repo.Read("deploy/compose/gpu-decode.yml"), "deploy/compose/gpu-decode.yml");
        var extractor = overlay.Service("frame-extractor");
        Assert.Contains(extractor.At("deploy", "resources", "reservations", "devices").Seq(), d => d.At("driver").Str() == "nvidia");
        Assert.Empty(EnvironmentVariable.Problems(overlay.AllEnvironment()));
        Assert.Contains(overlay.AllEnvironment(), v => v.Name == "LiteVL__Media__UseCudaDecoding" && v.Value == "true");
    }

    [Fact]
    public void Interpolation_takes_the_defaults()
    {
        Assert.Equal("litevl/encoder:0.1.0", Compose.Interpolate("litevl/encoder:${LITEVL_TAG:-0.1.0}"));
        Assert.Equal("a-b", Compose.Interpolate("a${X-}-b"));
        Assert.Equal("$X", Compose.Interpolate("$$X"));
    }

    [Fact]
    public void A_misspelt_variable_fails() =>
        Assert.Contains(EnvironmentVariable.Problems(Mutated("LiteVL__VectorIndex__QdrantUrl:", "LiteVL__VectorIndex__QdrantUri:").AllEnvironment()),
            p => p.Contains("QdrantUri", StringComparison.Ordinal));

    [Fact]
    public void A_wrong_health_path_fails() =>
        Assert.NotEmpty(ComposeChecks.HealthChecks(Mutated("http://127.0.0.1:8080/health/ready", "http://127.0.0.1:8080/healthz")));

    [Fact]
    public void An_unpinned_image_fails() =>
        Assert.NotEmpty(ComposeChecks.PinnedImages(Mutated("image: postgres:17.6-bookworm", "image: postgres")));

    [Fact]
    public void A_latest_image_fails() =>
        Assert.NotEmpty(ComposeChecks.PinnedImages(Mutated("${LITEVL_TAG:-0.1.0}", "latest")));

    [Fact]
    public void An_encoder_without_a_gpu_fails() =>
        Assert.NotEmpty(ComposeChecks.Gpus(Mutated("capabilities: [gpu]", "capabilities: [utility]")));

    [Fact]
    public void A_qdrant_that_does_not_match_the_client_fails() =>
        Assert.NotEmpty(ComposeChecks.QdrantMatchesClient(Mutated("qdrant/qdrant:v1.20.0-unprivileged", "qdrant/qdrant:v1.12.6-unprivileged")));

    [Fact]
    public void Qdrant_client_version_is_read_from_the_central_package_versions() =>
        Assert.Matches(@"^\d+\.\d+\.\d+$", Images.QdrantClientVersion());

    [SkippableFact]
    public void Docker_compose_renders_the_file_and_the_rendered_file_passes_every_check()
    {
        string compose = Servers.Require(Server.DockerCompose); // the YAML checks above run without it
        string rendered = Repo.Run(compose, "-f", "docker-compose.yml", "config");
        Assert.Empty(ComposeChecks.All(new Compose(rendered, "docker-compose config")));
        string withOverride = Repo.Run(compose, "-f", "docker-compose.yml", "-f", "deploy/compose/gpu-decode.yml", "config");
        Assert.Empty(ComposeChecks.All(new Compose(withOverride, "docker-compose config (gpu-decode)")));
    }
}
