using System.Net.Http.Headers;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using LiteVL.Search;

namespace LiteVL.QueryApi.Tests;

/// <summary>
/// The query service over real parts: SQLite, the directory blob and feature stores, the embedded index, the tiny model
/// (with random QA heads when asked). With <c>http</c> it runs as the service does (service defaults, API-key
/// authentication, the mapped endpoints) on an in-memory test server.
/// </summary>
internal sealed class SearchRig : IAsyncDisposable
{
    private readonly WebApplication? _app;
    private readonly Dictionary<string, string> _keys = [];

    private SearchRig(string root, IServiceProvider services, WebApplication? app)
    {
        Root = root;
        Services = services;
        _app = app;
    }

    public string Root { get; }

    public IServiceProvider Services { get; }

    public LiteVLModel Model => Services.GetRequiredService<LiteVLModel>();

    public ModelConfig Config => Model.Config;

    public IVectorIndex Index => Services.GetRequiredService<IVectorIndex>();

    public int TokensPerSegment => Config.NumFrames * Config.Vision.TokensPerFrame * Config.Vision.HiddenSize;

    /// <param name="qa">The tiny model with random video QA heads (<c>litevl model init --qa</c>).</param>
    /// <param name="http">Host the endpoints on a test server; <see cref="Client"/> then calls them.</param>
    /// <param name="settings">Further configuration, e.g. <c>LiteVL:Ask:SegmentsToAsk</c>.</param>
    /// <param name="configure">Changes the generated model's config.json before the services load it.</param>
    public static async Task<SearchRig> CreateAsync(
        int modelSeed = 0, bool qa = false, bool http = false, IReadOnlyDictionary<string, string?>? settings = null, Func<ModelConfig, ModelConfig>? configure = null)
    {
        string root = Directory.CreateTempSubdirectory("litevl-search-").FullName;
        string modelDir = Path.Combine(root, "model");
        ModelDirectory.Init(Presets.Get(Presets.Tiny), modelSeed, modelDir, qa: qa);
        if (configure is not null)
        {
            configure(ModelConfig.Load(modelDir)).Save(modelDir);
        }
        var values = new Dictionary<string, string?>
        {
            ["LiteVL:Storage:DataDirectory"] = root,
            ["LiteVL:Model:Directory"] = modelDir,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        SearchRig rig;
        if (http)
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseTestServer();
            builder.Configuration.AddInMemoryCollection(values);
            builder.AddServiceDefaults();
            builder.Services.AddLiteVLStorage(builder.Configuration);
            builder.Services.AddQueryApi(builder.Configuration);
            var app = builder.Build();
            app.UseServiceDefaults();
            app.MapQueryApi();
            await app.Services.MigrateLiteVLDatabaseAsync();
            await app.StartAsync();
            rig = new SearchRig(root, app.Services, app);
        }
        else
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
            var services = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).AddQueryApi(configuration).BuildServiceProvider();
            await services.MigrateLiteVLDatabaseAsync();
            rig = new SearchRig(root, services, null);
        }

        await using var scope = rig.Services.CreateAsyncScope();
        foreach (string tenant in new[] { "acme", "other" })
        {
            rig._keys[tenant] = (await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(tenant, "test")).Key;
        }

        await rig.Index.EnsureCollectionAsync(rig.Config.Version, rig.Config.EmbedDim);
        return rig;
    }

    /// <summary>An HTTP client of the test server holding <paramref name="tenant"/>'s key (rigs made with <c>http</c> only).</summary>
    public HttpClient Client(string tenant)
    {
        var client = (_app ?? throw new InvalidOperationException("This rig has no HTTP host: create it with http: true.")).GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _keys[tenant]);
        return client;
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

    public async Task<AskResponse> AskAsync(string tenant, Guid videoId, AskRequest request)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AskService>().AskAsync(tenant, videoId, request, CancellationToken.None);
    }

    /// <summary>A segment's tokens as the feature store holds them (fp16-rounded), i.e. exactly what the service reads.</summary>
    public async Task<float[]> StoredTokensAsync(Guid videoId, int segment)
    {
        var tokens = new float[TokensPerSegment];
        await Services.GetRequiredService<FeatureStore>().ReadAsync(
            BlobKeys.Tokens(videoId, Config.Version, segment), tokens, Config.NumFrames, Config.Vision.TokensPerFrame, Config.Vision.HiddenSize);
        return tokens;
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
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        else
        {
            await ((ServiceProvider)Services).DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Root, recursive: true);
    }
}
