using LiteVL.Testing;
using LiteVL.VectorIndex.Tests.Infrastructure;
using LiteVL.VectorIndex.Tests.QdrantServer;
using Qdrant.Client;
using Qdrant.Client.Grpc;

namespace LiteVL.VectorIndex.Tests;

/// <summary>One in-process Qdrant server for the test class; tests isolate themselves by collection prefix.</summary>
public sealed class InProcessQdrantFixture : IAsyncLifetime
{
    public InProcessQdrantServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await InProcessQdrantServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Shared by both Qdrant flavours: a unique prefix per test, and removal of what the test created.</summary>
public abstract class QdrantConformanceTests : VectorIndexConformanceTests
{
    protected string Prefix { get; } = "lvtest" + Guid.NewGuid().ToString("N")[..10];

    protected abstract QdrantClient CreateClient();

    protected override Task<IVectorIndex> CreateIndexAsync() =>
        Task.FromResult<IVectorIndex>(new QdrantVectorIndex(CreateClient(), new QdrantVectorIndexOptions { Prefix = Prefix, UpsertBatchSize = 300 }, ownsClient: true));

    protected override async Task DestroyIndexAsync(IVectorIndex index)
    {
        using var client = CreateClient();
        foreach (var alias in await client.ListAliasesAsync())
        {
            if (alias.AliasName.StartsWith(Prefix, StringComparison.Ordinal))
            {
                await client.DeleteAliasAsync(alias.AliasName);
            }
        }

        foreach (var name in await client.ListCollectionsAsync())
        {
            if (name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                await client.DeleteCollectionAsync(name);
            }
        }

        ((IDisposable)index).Dispose();
    }
}

/// <summary>The conformance suite against the in-process, protocol-compatible Qdrant gRPC server.</summary>
public sealed class InProcessQdrantVectorIndexTests(InProcessQdrantFixture fixture) : QdrantConformanceTests, IClassFixture<InProcessQdrantFixture>
{
    protected override QdrantClient CreateClient() => fixture.Server.CreateClient();

    [Fact]
    public async Task Collections_aliases_payload_indexes_and_payload_follow_the_documented_layout()
    {
        var rng = new Random(21);
        var uploaded = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.FromHours(2)).AddTicks(1234567);
        var point = new VectorPoint(TestData.NewGuid(rng), 3, "t1", 6.5, 8, "A title", ["x", "y"], uploaded, TestData.UnitVector(rng));
        await Index.EnsureCollectionAsync("Tiny 1.0", TestData.Dimensions);
        await Index.UpsertAsync("Tiny 1.0", [point]);
        await Index.ActivateAsync("Tiny 1.0");

        var state = fixture.Server.State;
        var name = ((QdrantVectorIndex)Index).CollectionName("Tiny 1.0");
        Assert.StartsWith(Prefix + "_tiny_1.0_", name, StringComparison.Ordinal);
        var info = state.GetInfo(name);
        Assert.Equal(Distance.Cosine, info.Config.Params.VectorsConfig.Params.Distance);
        Assert.Equal(256ul, info.Config.Params.VectorsConfig.Params.Size);
        Assert.Equal(PayloadSchemaType.Keyword, info.PayloadSchema["tenant_id"].DataType);
        Assert.True(info.PayloadSchema["tenant_id"].Params.KeywordIndexParams.IsTenant);
        Assert.Equal(PayloadSchemaType.Keyword, info.PayloadSchema["video_id"].DataType);
        Assert.Equal(PayloadSchemaType.Keyword, info.PayloadSchema["tags"].DataType);
        Assert.Equal(PayloadSchemaType.Datetime, info.PayloadSchema["uploaded_at"].DataType);
        Assert.Equal(name, Assert.Single(state.ListAliases(), a => a.AliasName == Prefix + "_active").CollectionName);

        Assert.Equal(1ul, state.GetInfo(name).PointsCount);
        var payload = state.Snapshot(name).Single().Payload;
        Assert.Equal("t1", payload["tenant_id"].StringValue);
        Assert.Equal(point.VideoId.ToString("D"), payload["video_id"].StringValue);
        Assert.Equal(3, payload["segment"].IntegerValue);
        Assert.Equal(6.5, payload["start"].DoubleValue);
        Assert.Equal(8.0, payload["end"].DoubleValue);
        Assert.Equal("A title", payload["title"].StringValue);
        Assert.Equal(["x", "y"], payload["tags"].ListValue.Values.Select(v => v.StringValue));
        Assert.Equal("2025-03-04T03:06:07.123456Z", payload["uploaded_at"].StringValue);
        Assert.Equal(PointIds.For(point.VideoId, 3, "Tiny 1.0").ToString("D"), state.Snapshot(name).Single().Id.Uuid);

        // Searches go through the Query RPC with the tenant as a must-condition.
        Assert.Contains("Points/Query", state.Calls);
    }
}

/// <summary>
/// The conformance suite against a real Qdrant (gRPC port, e.g. http://localhost:6334) when QDRANT_URL is set; every
/// inherited test is skipped with the policy's message otherwise, in CI too (Qdrant is not installed there).
/// </summary>
public sealed class RealQdrantVectorIndexTests : QdrantConformanceTests
{
    protected override QdrantClient CreateClient() =>
        new(new Uri(Servers.Require(Server.Qdrant)), apiKey: Environment.GetEnvironmentVariable("QDRANT_API_KEY"));
}
