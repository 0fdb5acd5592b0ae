using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.UploadApi;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using LiteVL.Testing;

namespace LiteVL.Pipeline.Tests.Distributed;

/// <summary>
/// The distributed mode as separate OS processes on one machine — Upload API, frame extractor, N encoder workers,
/// indexer — over a RabbitMQ node and a fresh PostgreSQL database, configured by environment variables only.
/// </summary>
internal sealed class DistributedDeployment : IAsyncDisposable
{
    public const string Tenant = "dist";
    public const int MessagesPerBatch = 4;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private readonly PostgresDatabase _database;
    private readonly Dictionary<string, string> _environment;

    private DistributedDeployment(PostgresDatabase database, string data, Dictionary<string, string> environment, ModelConfig model)
    {
        _database = database;
        _environment = environment;
        Data = data;
        Model = model;
    }

    public string Data { get; }

    public ModelConfig Model { get; }

    public string ConnectionString => _environment["LiteVL__Storage__ConnectionString"];

    public List<ServiceProcess> Services { get; } = [];

    public List<ServiceProcess> Encoders { get; } = [];

    public ServiceProcess Upload { get; private set; } = null!;

    public ServiceProcess Indexer { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public static async Task<DistributedDeployment> StartAsync(string postgresAdmin, string rabbitPort, int encoders, IReadOnlyDictionary<string, string>? settings = null)
    {
        var database = await PostgresDatabase.CreateAsync(postgresAdmin, "litevl_dist");

        string data = Directory.CreateTempSubdirectory("litevl-dist-").FullName;
        var model = ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 0, Path.Combine(data, "model"));
        var environment = new Dictionary<string, string>
        {
            ["LiteVL__Storage__Provider"] = "Postgres",
            ["LiteVL__Storage__ConnectionString"] = database.ConnectionString,
            ["LiteVL__Storage__DataDirectory"] = data,
            ["LiteVL__Messaging__Transport"] = "RabbitMq",
            ["LiteVL__Messaging__RabbitMqHost"] = "127.0.0.1",
            ["LiteVL__Messaging__RabbitMqPort"] = rabbitPort,
            ["LiteVL__Model__Directory"] = Path.Combine(data, "model"),
            ["LiteVL__Frames__FramesPerSegment"] = model.NumFrames.ToString(CultureInfo.InvariantCulture),
            ["LiteVL__Frames__FrameSize"] = model.Vision.ImageSize.ToString(CultureInfo.InvariantCulture),
            ["LiteVL__Encoder__MessagesPerBatch"] = MessagesPerBatch.ToString(CultureInfo.InvariantCulture),
            ["LiteVL__Encoder__MaxWaitMilliseconds"] = "100",

            // The encoder's per-batch line ("Encoded N videos, M segments") is Debug on the quiet default console; the
            // fault test reports how many batches a worker finished before it was killed from it.
            ["Logging__LogLevel__LiteVL.Encoder.SegmentEncoder"] = "Debug",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            environment[k] = v;
        }

        var deployment = new DistributedDeployment(database, data, environment, model);
        try
        {
            deployment.Upload = await deployment.StartAsync("upload-api", "LiteVL.UploadApi.dll");
            await deployment.StartAsync("frame-extractor", "LiteVL.FrameExtractor.dll");
            for (int i = 1; i <= encoders; i++)
            {
                await deployment.StartEncoderAsync($"encoder-{i}");
            }

            deployment.Indexer = await deployment.StartAsync("indexer", "LiteVL.Indexer.dll");
            deployment.Http = new HttpClient { BaseAddress = deployment.Upload.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            deployment.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await deployment.CreateKeyAsync());
            return deployment;
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    public async Task<ServiceProcess> StartEncoderAsync(string name)
    {
        var encoder = await StartAsync(name, "LiteVL.Encoder.dll");
        Encoders.Add(encoder);
        return encoder;
    }

    /// <summary><paramref name="count"/> distinct clips of 1 to 3 segments each, with their planned segment counts.</summary>
    public async Task<List<(string Path, int Segments)>> GenerateClipsAsync(int count)
    {
        var clips = new List<(string Path, int Segments)>();
        using var generator = new SampleClips();
        for (int i = 0; i < count; i++)
        {
            double length = 2 + ((i % 10) * 2.1);
            var spec = new ClipSpec(ClipSource.MovingBox, length, 160 + (i * 8), 120, 25, ClipCodec.H264, "mp4", i % 3 == 0);
            string path = await generator.GenerateAsync(spec, Path.Combine(Data, "clips", $"clip{i:D2}.mp4"));
            clips.Add((path, SegmentPlanner.Plan(length, Model.NumFrames, 10, 1).Count));
        }

        return clips;
    }

    /// <summary>Uploads the clips six at a time; every one must be accepted (202, not a duplicate). Returns id → segments.</summary>
    public async Task<Dictionary<Guid, int>> UploadAsync(IEnumerable<(string Path, int Segments)> clips)
    {
        try
        {
            return await UploadAllAsync(clips);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"an upload failed: {e.Message}\n{Logs()}", e);
        }
    }

    private async Task<Dictionary<Guid, int>> UploadAllAsync(IEnumerable<(string Path, int Segments)> clips)
    {
        var ids = new Dictionary<Guid, int>();
        await Parallel.ForEachAsync(clips, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (clip, ct) =>
        {
            using var form = new MultipartFormDataContent();
            var file = new StreamContent(File.OpenRead(clip.Path));
            file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
            form.Add(file, "file", Path.GetFileName(clip.Path));
            using var response = await Http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var body = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json, ct))!;
            Assert.False(body.Duplicate);
            lock (ids)
            {
                ids[body.Id] = clip.Segments;
            }
        });
        return ids;
    }

    /// <summary>Polls the API until every video is Indexed or Failed (or the time is up); requests failing during a fault are retried.</summary>
    public async Task<Dictionary<Guid, VideoView>> WaitForTerminalAsync(IEnumerable<Guid> ids, TimeSpan timeout)
    {
        var pending = ids.ToHashSet();
        var final = new Dictionary<Guid, VideoView>();
        var deadline = DateTime.UtcNow + timeout;
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            foreach (var id in pending.ToList())
            {
                try
                {
                    using var response = await Http.GetAsync(new Uri($"/v1/videos/{id}", UriKind.Relative));
                    if (response.IsSuccessStatusCode && (await response.Content.ReadFromJsonAsync<VideoView>(Json))! is { State: VideoState.Indexed or VideoState.Failed } view)
                    {
                        final[id] = view;
                        pending.Remove(id);
                    }
                }
                catch (HttpRequestException)
                {
                }
            }

            await Task.Delay(500);
        }

        return final;
    }

    /// <summary>Points in the embedded index per video (stops the indexer, which owns the index).</summary>
    public async Task<Dictionary<Guid, long>> CountPointsAsync(IEnumerable<Guid> ids)
    {
        await Indexer.StopAsync();
        using var index = EmbeddedVectorIndex.Open(Path.Combine(Data, "vectors"));
        var counts = new Dictionary<Guid, long>();
        foreach (var id in ids)
        {
            counts[id] = await index.CountAsync(Model.Version, new VectorFilter(Tenant) { VideoIds = [id] });
        }

        return counts;
    }

    /// <summary>Segment rows per video, straight from the database.</summary>
    public async Task<Dictionary<Guid, int>> SegmentRowsAsync()
    {
        await using var provider = StorageProvider();
        await using var scope = provider.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().Segments
            .GroupBy(s => s.VideoId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count);
    }

    /// <summary>Token files in the feature store per video.</summary>
    public int FeatureFiles(Guid id)
    {
        string dir = Path.Combine(Data, "blobs", BlobKeysFeatures(id));
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count() : 0;
    }

    public string Logs() => string.Join("\n", Services.Select(s => $"--- {s.Name}\n{(s.Log.Length > 3000 ? s.Log[^3000..] : s.Log)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var s in Services)
        {
            await s.DisposeAsync();
        }

        Http?.Dispose();
        await _database.DisposeAsync();

        Directory.Delete(Data, recursive: true);
    }

    private static string BlobKeysFeatures(Guid id) => LiteVL.Storage.Blobs.BlobKeys.FeaturesPrefix(id).TrimEnd('/');

    private async Task<ServiceProcess> StartAsync(string name, string assembly)
    {
        var service = await ServiceProcess.StartAsync(name, assembly, _environment);
        Services.Add(service);
        return service;
    }

    private ServiceProvider StorageProvider()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = "Postgres",
            ["LiteVL:Storage:ConnectionString"] = ConnectionString,
            ["LiteVL:Storage:DataDirectory"] = Data,
        }).Build();
        return new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).BuildServiceProvider();
    }

    private async Task<string> CreateKeyAsync()
    {
        await using var provider = StorageProvider();
        await using var scope = provider.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(Tenant, "distributed test")).Key;
    }
}
