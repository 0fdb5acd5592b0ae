namespace LiteVL.Deployment.Tests;

public class ConfigurationBindingTests
{
    private static readonly string[] SourceFolders = ["services", "shared"];

    [Fact]
    public void Reflection_finds_every_options_section_of_the_services()
    {
        string[] expected =
        [
            "LiteVL:Storage", "LiteVL:Sweeper", "LiteVL:Model", "LiteVL:Messaging", "LiteVL:VectorIndex", "LiteVL:Reconciler",
            "LiteVL:Encoder", "LiteVL:Search", "LiteVL:Frames", "LiteVL:Upload", "LiteVL:Media",
        ];
        var missing = expected.Where(s => !ConfigurationBinding.Sections.ContainsKey(s)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void Every_source_of_variables_is_read()
    {
        // A check over no variables would pass whatever the files say.
        Assert.True(new Compose(Repo.Read("docker-compose.yml")).AllEnvironment().Count(v => v.IsLiteVL) >= 60, "docker-compose.yml: too few LiteVL__ variables found");
        var k8s = Kubernetes.Environment(Kubernetes.Base()).Where(v => v.IsLiteVL).ToList();
        Assert.Contains(k8s, v => v.Origin.Contains("ConfigMap/litevl-config", StringComparison.Ordinal));
        Assert.Contains(k8s, v => v.Origin.Contains("Secret/litevl-app", StringComparison.Ordinal));
        Assert.Contains(k8s, v => v.Origin.Contains("Deployment/upload-api", StringComparison.Ordinal));
    }

    [Fact]
    public void Dashboard_options_are_found()
    {
        Assert.True(File.Exists(Repo.PathOf("services/LiteVL.Dashboard/LiteVL.Dashboard.csproj")), "services/LiteVL.Dashboard is missing");
        Assert.True(ConfigurationBinding.Sections.ContainsKey("LiteVL:Dashboard"), "LiteVL:Dashboard not found: is the Dashboard project referenced?");
    }

    [Fact]
    public void Every_options_section_declared_in_the_source_is_found()
    {
        // Every `const string Section = "LiteVL:..."` in services/ and shared/: a section the reflection misses would let
        // a misspelt variable for it pass unnoticed.
        var declared = SourceFolders
            .SelectMany(d => Directory.EnumerateFiles(Repo.PathOf(d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .SelectMany(f => System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(f), "const string Section = \"(LiteVL:[A-Za-z:]+)\"").Select(m => m.Groups[1].Value))
            .Distinct()
            .ToList();
        Assert.True(declared.Count >= 10, $"only {declared.Count} sections declared in the source: is the search broken?");
        var missing = declared.Where(s => !ConfigurationBinding.Sections.ContainsKey(s)).ToList();
        Assert.True(missing.Count == 0, $"declared but not found by reflection: {string.Join(", ", missing)}");
    }

    [Theory]
    [InlineData("LiteVL__Storage__DataDirectory", "/data")]
    [InlineData("LITEVL__storage__dataDIRECTORY", "/data")] // the binder ignores case
    [InlineData("LiteVL__Storage__Provider", "Postgres")]
    [InlineData("LiteVL__Messaging__Transport", "rabbitmq")]
    [InlineData("LiteVL__Messaging__RabbitMqPort", "5672")]
    [InlineData("LiteVL__Model__Device", "cuda")]
    [InlineData("LiteVL__Frames__FrameSize", "64")]
    [InlineData("LiteVL__Media__UseCudaDecoding", "true")]
    [InlineData("LiteVL__Media__ProcessTimeout", "00:15:00")]
    [InlineData("LiteVL__Reconciler__StaleAfter", "00:05:00")]
    [InlineData("LiteVL__AdminKeyFile", "/data/admin-key")]
    [InlineData("LiteVL__VectorIndex__QdrantUrl", "http://qdrant:6334")]
    public void Real_settings_bind(string name, string value) =>
        Assert.Null(ConfigurationBinding.Check(name, value));

    [Theory]
    [InlineData("LiteVL__Storage__DataDirectry", "/data")] // misspelt property
    [InlineData("LiteVL__Storge__DataDirectory", "/data")] // misspelt section
    [InlineData("LiteVL__DataDirectory", "/data")] // no section
    [InlineData("LiteVL__Storage", "/data")] // a section, not a value
    [InlineData("LiteVL_Storage_DataDirectory", "/data")] // single underscores never bind
    [InlineData("LiteVL__Messaging__Transport", "Rabbit")] // not an enum value
    [InlineData("LiteVL__Frames__FrameSize", "99999999999")] // out of int
    [InlineData("LiteVL__Frames__FrameSize", "large")] // not an int
    [InlineData("LiteVL__Media__UseCudaDecoding", "yes")] // not a bool
    [InlineData("LiteVL__Storage__EffectiveConnectionString", "x")] // read-only property: the binder skips it
    [InlineData("LiteVL__AdminKey", "x")] // not the key Program.cs reads
    public void Wrong_settings_are_reported(string name, string value) =>
        Assert.NotNull(ConfigurationBinding.Check(name, value));
}
