using LiteVL.Model.Config;
using LiteVL.Model.Training;
using LiteVL.Model.Weights;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteVL.Dashboard.Tests;

/// <summary>
/// A separate dashboard process (no model loaded in it) reads the scaling from <c>LiteVL:Model:Directory</c>; the
/// embedded host's case is covered through the real host in <see cref="DashboardTests"/>.
/// </summary>
public sealed class DashboardModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-dashboard-model-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DashboardModel Model(string? directory)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(directory is null ? [] : [new("LiteVL:Model:Directory", directory)])
            .Build();
        return new DashboardModel(new ServiceCollection().BuildServiceProvider(), configuration, NullLogger<DashboardModel>.Instance);
    }

    [Fact]
    public void ConfiguredDirectory_GivesItsPerLayerMeans()
    {
        var weights = ModelWeights.Random(Presets.Get(Presets.Tiny) with { Version = "tiny-dash" }, seed: 9);
        weights.Config.Save(_dir);
        weights.Save(Path.Combine(_dir, ModelWeights.FileName));
        var (config, means) = Model(_dir).ReadScaling();
        Assert.Equal("tiny-dash", config.Version);
        Assert.Equal(ScalingChart.LayerMeans(weights), means);
    }

    [Fact]
    public void NoDirectory_Or_NoModelInIt_Is404WithTheSettingNamed()
    {
        var none = Assert.Throws<DashboardModelException>(() => Model(null).ReadScaling());
        Assert.Equal(StatusCodes.Status404NotFound, none.Status);
        Assert.Contains("LiteVL:Model:Directory", none.Message, StringComparison.Ordinal);

        var empty = Assert.Throws<DashboardModelException>(() => Model(_dir).ReadScaling());
        Assert.Equal(StatusCodes.Status404NotFound, empty.Status);
        Assert.Contains("config.json", empty.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedWeights_Are500NamingTheModel()
    {
        var weights = ModelWeights.Random(Presets.Get(Presets.Tiny), seed: 9);
        weights.Config.Save(_dir);
        File.WriteAllBytes(Path.Combine(_dir, ModelWeights.FileName), [1, 2, 3]);
        var e = Assert.Throws<DashboardModelException>(() => Model(_dir).ReadScaling());
        Assert.Equal(StatusCodes.Status500InternalServerError, e.Status);
        Assert.Contains(_dir, e.Message, StringComparison.Ordinal);
    }
}
