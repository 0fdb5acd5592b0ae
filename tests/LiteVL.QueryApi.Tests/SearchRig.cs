using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.QueryApi.Tests;

/// <summary>The query service over real parts: SQLite, the directory blob and feature stores, the embedded index, the tiny model.</summary>
internal sealed class SearchRig : IAsyncDisposable
{
    private SearchRig(string root, ServiceProvider services)
    {
        Root = root;
        Services = services;
    }

    public string Root { get; }

    public ServiceProvider Services { get; }

    public LiteVLModel Model => Services.GetRequiredService<LiteVLModel>();

    public ModelConfig Config => Model.Config;

    public IVectorIndex Index => Services.GetRequiredService<IVectorIndex>();

    public int TokensPerSegment => Config.NumFrames * Config.Vision.TokensPerFrame * Config.Vision.HiddenSize;

    public static async Task<SearchRig> CreateAsync(int modelSeed = 0)
    {
        string root = Directory.CreateTempSubdirectory("litevl-search-").FullName;
        string modelDir = Path.Combine(root, "model");
        ModelDirectory.Init(Presets.Get(Presets.Tiny), modelSeed, modelDir);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteVL:Storage:DataDirectory"] = root,
            ["LiteVL:Model:Directory"] = modelDir,
        }).Build();
        var services = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).AddQueryApi(configuration).BuildServiceProvider();
        await services.MigrateLiteVLDatabaseAsync();
        var rig = new SearchRig(root, services);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("acme", "test");
        await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("other", "test");
        await rig.Index.EnsureCollectionAsync(rig.Config.Version, rig.Config.EmbedDim);
        return rig;
    }

    /// <summary>An Indexed video with one segment per token set, its tokens in the feature store and its points in the index.</summary>
    public async Task<Guid> AddVideoAsync(string tenant, string title, IReadOnlyList<(float[] Tokens, float[] Vector)> segments, IReadOnlyList<string>? tags = null)
    {
        var id = Guid.NewGuid();
        var now = DateTime.UtcNow;
        var c = Config;
        var features = Services.GetRequiredService<FeatureStore>();
        var video = new Video
        {
            Id = id,
            TenantId = tenant,
            Sha256 = Convert.ToHexStringLower(id.ToByteArray()).PadRight(64, '0'),
            Title = title,
            Tags = [.. tags ?? []],
            State = VideoState.Indexed,
            ModelVersion = c.Version,
            SegmentCount = segments.Count,
            CreatedAt = now,
            UpdatedAt = now,
            StateChangedAt = now,
        };
        var points = new List<VectorPoint>();
        for (int i = 0; i < segments.Count; i++)
        {
            string key = BlobKeys.Tokens(id, c.Version, i);
            await features.WriteAsync(key, segments[i].Tokens, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize);
            video.Segments.Add(new Segment
            {
                Index = i,
                StartSeconds = i * 10,
                EndSeconds = (i * 10) + 10,
                FrameTimes = [.. Enumerable.Range(0, c.NumFrames).Select(t => (i * 10) + ((t + 0.5) * 10 / c.NumFrames))],
                FramesKey = BlobKeys.Frames(id, i),
                ThumbnailKey = BlobKeys.Thumbnail(id, i),
                TokensKey = key,
                ModelVersion = c.Version,
            });
            points.Add(new VectorPoint(id, i, tenant, i * 10, (i * 10) + 10, title, video.Tags, new DateTimeOffset(now), segments[i].Vector));
        }

        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        db.Videos.Add(video);
        await db.SaveChangesAsync();
        await Index.UpsertAsync(c.Version, points);
        return id;
    }

    public async Task<SearchResponse> SearchAsync(string tenant, SearchRequest request)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<SearchService>().SearchAsync(tenant, request, CancellationToken.None);
    }

    public float[] RandomTokens(int seed)
    {
        var rng = new Random(seed);
        var t = new float[TokensPerSegment];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = (float)((rng.NextDouble() * 4) - 2);
        }

        return t;
    }

    public float[] RandomUnitVector(int seed)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, Config.EmbedDim).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Root, recursive: true);
    }
}
