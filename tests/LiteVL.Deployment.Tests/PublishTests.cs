namespace LiteVL.Deployment.Tests;

/// <summary>
/// <c>dotnet publish</c> of the all-in-one host, the way to deploy the embedded mode without Docker. Every service the
/// host composes has its own appsettings.json; publish used to stop at NETSDK1152 (several files with one name).
/// </summary>
public sealed class PublishTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("litevl-host-publish-").FullName;

    [Fact]
    public void Host_publishes_with_its_own_settings_and_the_shipped_model()
    {
        Repo.Run(TimeSpan.FromMinutes(6), "dotnet", "publish", "services/LiteVL.Host/LiteVL.Host.csproj", "-c", "Release", "-o", _out, "--nologo");

        Assert.True(File.Exists(Path.Combine(_out, "litevl-host.dll")));
        Assert.Equal(Repo.Read("services/LiteVL.Host/appsettings.json"), File.ReadAllText(Path.Combine(_out, "appsettings.json")));
        foreach (string file in new[] { "config.json", "weights.safetensors", "vocab.txt" })
        {
            Assert.Equal(
                File.ReadAllBytes(Repo.PathOf($"models/small/{file}")),
                File.ReadAllBytes(Path.Combine(_out, "models", "small", file)));
        }
    }

    public void Dispose() => Directory.Delete(_out, recursive: true);
}
