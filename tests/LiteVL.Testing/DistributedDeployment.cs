using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LiteVL.Media;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Testing;

/// <summary>The model the workers load: its version (the index collection) and the frame geometry the extractors cut.</summary>
public sealed record DeployedModel(string Version, int FramesPerSegment, int FrameSize);

/// <summary>What an upload over the API became: the video's id and whether the platform answered "duplicate".</summary>
public sealed record UploadAnswer(Guid Id, bool Duplicate);

/// <summary>
/// The distributed mode as separate OS processes on one machine — Upload API, N frame extractors, N encoder workers,
/// indexer — over a RabbitMQ node and a fresh PostgreSQL database, configured by environment variables only. Used by
/// the distributed tests and by the soak (tests/soak.sh), which kills and restarts its workers. The service programs
/// must be in the caller's output folder (reference the service projects).
/// </summary>
public sealed class DistributedDeployment : IAsyncDisposable
{
    public const string Tenant = "dist";
    public const int MessagesPerBatch = 4;

    private readonly PostgresDatabase _database;
    private readonly Dictionary<string, string> _environment;
    private readonly ServiceProvider _storage;

    private DistributedDeployment(PostgresDatabase database, string data, Dictionary<string, string> environment, DeployedModel model)
    {
        _database = database;
        _environment = environment;
        Data = data;
        Model = model;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = "Postgres",
            ["LiteVL:Storage:ConnectionString"] = database.ConnectionString,
            ["LiteVL:Storage:DataDirectory"] = data,
        }).Build();
        _storage = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).BuildServiceProvider();
    }

    public string Data { get; }

    public DeployedModel Model { get; }

    public string ConnectionString => _environment["LiteVL__Storage__ConnectionString"];

    /// <summary>Every process started, killed ones included (for their logs).</summary>
    public List<ServiceProcess> Services { get; } = [];

    /// <summary>The live frame extractors (a killed one is removed by <see cref="ReplaceAsync"/>).</summary>
    public List<ServiceProcess> Extractors { get; } = [];

    /// <summary>The encoder workers started (the distributed tests also keep killed ones here, by index).</summary>
    public List<ServiceProcess> Encoders { get; } = [];

    public ServiceProcess Upload { get; private set; } = null!;

    public ServiceProcess Indexer { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <param name="initModel">Writes the model into the folder it is given (e.g. the tiny preset) and describes it.</param>
    public static async Task<DistributedDeployment> StartAsync(string postgresAdmin, string rabbitPort, int encoders, Func<string, DeployedModel> initModel, IReadOnlyDictionary<string, string>? settings = null, int extractors = 1)
    {
        ArgumentNullException.ThrowIfNull(initModel);
        var database = await PostgresDatabase.CreateAsync(postgresAdmin, "litevl_dist").ConfigureAwait(false);

        string data = Directory.CreateTempSubdirectory("litevl-dist-").FullName;
        var model = initModel(Path.Combine(data, "model"));
        var environment = new Dictionary<string, string>
        {
            ["LiteVL__Storage__Provider"] = "Postgres",
            ["LiteVL__Storage__ConnectionString"] = database.ConnectionString,
            ["LiteVL__Storage__DataDirectory"] = data,
            ["LiteVL__Messaging__Transport"] = "RabbitMq",
            ["LiteVL__Messaging__RabbitMqHost"] = "127.0.0.1",
            ["LiteVL__Messaging__RabbitMqPort"] = rabbitPort,
            ["LiteVL__Model__Directory"] = Path.Combine(data, "model"),
            ["LiteVL__Frames__FramesPerSegment"] = model.FramesPerSegment.ToString(CultureInfo.InvariantCulture),
            ["LiteVL__Frames__FrameSize"] = model.FrameSize.ToString(CultureInfo.InvariantCulture),
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
            deployment.Upload = await deployment.StartAsync("upload-api", "LiteVL.UploadApi.dll").ConfigureAwait(false);
            for (int i = 1; i <= extractors; i++)
            {
                deployment.Extractors.Add(await deployment.StartAsync(extractors == 1 ? "frame-extractor" : $"frame-extractor-{i}", "LiteVL.FrameExtractor.dll").ConfigureAwait(false));
            }

            for (int i = 1; i <= encoders; i++)
            {
                await deployment.StartEncoderAsync($"encoder-{i}").ConfigureAwait(false);
            }

            deployment.Indexer = await deployment.StartAsync("indexer", "LiteVL.Indexer.dll").ConfigureAwait(false);
            deployment.Http = new HttpClient { BaseAddress = deployment.Upload.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            deployment.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await deployment.CreateKeyAsync().ConfigureAwait(false));
            return deployment;
        }
        catch
        {
            await deployment.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<ServiceProcess> StartEncoderAsync(string name)
    {
        var encoder = await StartAsync(name, "LiteVL.Encoder.dll").ConfigureAwait(false);
        Encoders.Add(encoder);
        return encoder;
    }

    /// <summary>Starts a process of the same program in place of <paramref name="gone"/> (killed or exited), named <paramref name="name"/>.</summary>
    public async Task<ServiceProcess> ReplaceAsync(ServiceProcess gone, string name)
    {
        ArgumentNullException.ThrowIfNull(gone);
        if (ReferenceEquals(gone, Indexer))
        {
            return Indexer = await StartAsync(name, "LiteVL.Indexer.dll").ConfigureAwait(false);
        }

        var list = Extractors.Contains(gone) ? Extractors : Encoders.Contains(gone) ? Encoders : throw new ArgumentException($"{gone.Name} is not a worker of this deployment.", nameof(gone));
        var started = await StartAsync(name, list == Extractors ? "LiteVL.FrameExtractor.dll" : "LiteVL.Encoder.dll").ConfigureAwait(false);
        list[list.IndexOf(gone)] = started;
        return started;
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
            string path = await generator.GenerateAsync(spec, Path.Combine(Data, "clips", $"clip{i:D2}.mp4")).ConfigureAwait(false);
            clips.Add((path, PlannedSegments(length)));
        }

        return clips;
    }

    /// <summary>How many segments the extractor cuts from a clip of <paramref name="seconds"/> (10 s segments, 1 s minimum tail).</summary>
    public int PlannedSegments(double seconds) => SegmentPlanner.Plan(seconds, Model.FramesPerSegment, 10, 1).Count;

    /// <summary>Uploads the clips six at a time; every one must be accepted (202, not a duplicate). Returns id → segments.</summary>
    public async Task<Dictionary<Guid, int>> UploadAsync(IEnumerable<(string Path, int Segments)> clips)
    {
        var ids = new Dictionary<Guid, int>();
        await Parallel.ForEachAsync(clips, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (clip, ct) =>
        {
            UploadAnswer answer;
            try
            {
                answer = await UploadOnceAsync(clip.Path, ct).ConfigureAwait(false) ?? throw new InvalidOperationException($"the upload of {clip.Path} was refused");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                throw new InvalidOperationException($"an upload failed: {e.Message}\n{Logs()}", e);
            }

            if (answer.Duplicate)
            {
                throw new InvalidOperationException($"{clip.Path} was answered as a duplicate of {answer.Id}");
            }

            lock (ids)
            {
                ids[answer.Id] = clip.Segments;
            }
        }).ConfigureAwait(false);
        return ids;
    }

    /// <summary>One multipart upload of <paramref name="path"/>: the answer on 202, null on any other status.</summary>
    public async Task<UploadAnswer?> UploadOnceAsync(string path, CancellationToken ct = default)
    {
        using var form = new MultipartFormDataContent();
        var file = new StreamContent(File.OpenRead(path));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        form.Add(file, "file", Path.GetFileName(path));
        using var response = await Http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            return null;
        }

        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), cancellationToken: ct).ConfigureAwait(false);
        return new UploadAnswer(body.RootElement.GetProperty("id").GetGuid(), body.RootElement.GetProperty("duplicate").GetBoolean());
    }

    /// <summary>
    /// Reads the database until every video is Indexed or Failed (or the time is up); returns the terminal ones with their
    /// timeline. Reads failing during a fault (PostgreSQL restarting) are retried.
    /// </summary>
    public async Task<Dictionary<Guid, Video>> WaitForTerminalAsync(IEnumerable<Guid> ids, TimeSpan timeout)
    {
        var pending = ids.ToHashSet();
        var final = new Dictionary<Guid, Video>();
        var deadline = DateTime.UtcNow + timeout;
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            try
            {
                var done = await QueryAsync(db => db.Videos.AsNoTracking().Include(v => v.Events)
                    .Where(v => pending.Contains(v.Id) && (v.State == VideoState.Indexed || v.State == VideoState.Failed)).ToListAsync()).ConfigureAwait(false);
                foreach (var video in done)
                {
                    final[video.Id] = video;
                    pending.Remove(video.Id);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or System.Data.Common.DbException)
            {
                // PostgreSQL is restarting: read again.
            }

            await Task.Delay(500).ConfigureAwait(false);
        }

        return final;
    }

    /// <summary>Runs a query on the deployment's database (the production storage services, a fresh scope).</summary>
    public async Task<T> QueryAsync<T>(Func<LiteVLDbContext, Task<T>> query)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var scope = _storage.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<LiteVLDbContext>()).ConfigureAwait(false);
    }

    /// <summary>Points in the embedded index per video (stops the indexer, which owns the index).</summary>
    public async Task<Dictionary<Guid, long>> CountPointsAsync(IEnumerable<Guid> ids) => (await CountAllPointsAsync(ids).ConfigureAwait(false)).PerVideo;

    /// <summary>Points per video and all points of <see cref="Tenant"/> in the embedded index (stops the indexer, which owns the index).</summary>
    public async Task<(Dictionary<Guid, long> PerVideo, long Total)> CountAllPointsAsync(IEnumerable<Guid> ids)
    {
        await Indexer.StopAsync().ConfigureAwait(false);
        using var index = EmbeddedVectorIndex.Open(Path.Combine(Data, "vectors"));
        var counts = new Dictionary<Guid, long>();
        if (await index.GetActiveVersionAsync().ConfigureAwait(false) is null)
        {
            return (ids.ToDictionary(id => id, _ => 0L), 0); // nothing was ever indexed
        }

        foreach (var id in ids)
        {
            counts[id] = await index.CountAsync(Model.Version, new VectorFilter(Tenant) { VideoIds = [id] }).ConfigureAwait(false);
        }

        return (counts, await index.CountAsync(Model.Version, new VectorFilter(Tenant)).ConfigureAwait(false));
    }

    /// <summary>Segment rows per video, straight from the database.</summary>
    public Task<Dictionary<Guid, int>> SegmentRowsAsync() =>
        QueryAsync(db => db.Segments.GroupBy(s => s.VideoId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count));

    /// <summary>Token files in the feature store per video.</summary>
    public int FeatureFiles(Guid id) => FilesUnder(LiteVL.Storage.Blobs.BlobKeys.FeaturesPrefix(id));

    /// <summary>Frame and thumbnail files of a video in the blob store.</summary>
    public int MediaFiles(Guid id) => FilesUnder(LiteVL.Storage.Blobs.BlobKeys.MediaPrefix(id));

    /// <summary>Whether the uploaded original of a video of <see cref="Tenant"/> is in the blob store.</summary>
    public bool OriginalExists(Guid id) => File.Exists(Path.Combine(Data, "blobs", LiteVL.Storage.Blobs.BlobKeys.Original(Tenant, id)));

    public string Logs() => string.Join("\n", Services.Select(s => $"--- {s.Name}\n{(s.Log.Length > 3000 ? s.Log[^3000..] : s.Log)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var s in Services)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        Http?.Dispose();
        await _storage.DisposeAsync().ConfigureAwait(false);
        await _database.DisposeAsync().ConfigureAwait(false);

        Directory.Delete(Data, recursive: true);
    }

    private int FilesUnder(string prefix)
    {
        string dir = Path.Combine(Data, "blobs", prefix.TrimEnd('/'));
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count() : 0;
    }

    private async Task<ServiceProcess> StartAsync(string name, string assembly)
    {
        var service = await ServiceProcess.StartAsync(name, assembly, _environment).ConfigureAwait(false);
        Services.Add(service);
        return service;
    }

    private async Task<string> CreateKeyAsync()
    {
        await using var scope = _storage.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(Tenant, "distributed test").ConfigureAwait(false)).Key;
    }
}
