using System.Security.Cryptography;
using LiteVL.Contracts;
using LiteVL.Encoder;
using LiteVL.FrameExtractor;
using LiteVL.Media;
using LiteVL.Indexer;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.VectorIndex;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Pipeline.Tests.Stages;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset UtcNow { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => UtcNow;

    public void Advance(TimeSpan by) => UtcNow += by;
}

/// <summary>
/// The three pipeline stages in one real service container (storage, ffmpeg, tiny model, embedded vector index) on
/// MassTransit's in-memory test harness. The bus is configured by the production <c>AddLiteVLMessaging</c> (consumer
/// definitions, correlation ids) and then replaced by the harness, which keeps those registrations.
/// </summary>
public sealed class PipelineRig : IAsyncDisposable
{
    public const string Tenant = "acme";
    public const int Frames = 8;
    public const int Size = 64;

    private static readonly CancellationToken Snapshot = new(canceled: true);

    private readonly PostgresDatabase? _postgres;

    private PipelineRig(ServiceProvider services, string root, PostgresDatabase? postgres)
    {
        Services = services;
        Root = root;
        _postgres = postgres;
    }

    public ServiceProvider Services { get; }

    public string Root { get; }

    public string DataDirectory => Path.Combine(Root, "data");

    public string BlobRoot => Path.Combine(DataDirectory, "blobs");

    public ITestHarness Harness => Services.GetRequiredService<ITestHarness>();

    /// <summary>A short, valid clip (3 s, 160×120 H.264) generated once per rig; 3 segments at 1 s windows.</summary>
    public string ClipPath => Path.Combine(Root, "clip.mp4");

    public static async Task<PipelineRig> CreateAsync(
        DatabaseProvider provider = DatabaseProvider.Sqlite,
        bool consumers = true,
        TimeProvider? clock = null)
    {
        string root = Directory.CreateTempSubdirectory("litevl-stages-").FullName;
        string modelDir = Path.Combine(root, "model");
        ModelDirectory.Init(Presets.Get(Presets.Tiny), 0, modelDir);
        var settings = new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = provider.ToString(),
            ["LiteVL:Storage:DataDirectory"] = Path.Combine(root, "data"),
            ["LiteVL:Messaging:Transport"] = "InMemory",
            ["LiteVL:VectorIndex:Kind"] = "Embedded",
            ["LiteVL:Model:Directory"] = modelDir,
            ["LiteVL:Model:IntraOpThreads"] = "1",
            ["LiteVL:Media:SegmentSeconds"] = "1",
            ["LiteVL:Media:MinTailSeconds"] = "0.5",
        };
        PostgresDatabase? postgres = null;
        if (provider == DatabaseProvider.Postgres)
        {
            postgres = await PostgresDatabase.CreateAsync("litevl_stages");
            settings["LiteVL:Storage:ConnectionString"] = postgres.ConnectionString;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(new FrameGeometry(Frames, Size)); // before AddFrameExtractor, like the host
        services.AddLiteVLStorage(configuration);
        if (clock is not null)
        {
            services.AddSingleton(clock);
        }

        services.AddFrameExtractor(configuration);
        services.AddEncoder(configuration);
        services.AddIndexer(configuration);
        services.AddLiteVLMessaging(configuration, bus =>
        {
            if (consumers)
            {
                bus.AddFrameExtractorConsumers();
                bus.AddEncoderConsumers();
                bus.AddIndexerConsumers();
            }
        });
        services.AddMassTransitTestHarness();
        var sp = services.BuildServiceProvider();
        var rig = new PipelineRig(sp, root, postgres);
        try
        {
            await sp.MigrateLiteVLDatabaseAsync();
            await using (var scope = sp.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(Tenant, "stage tests");
            }

            using (var clips = new SampleClips())
            {
                await clips.GenerateAsync(new ClipSpec(ClipSource.TestSrc2, 3, 160, 120, 25, ClipCodec.H264, "mp4", false), rig.ClipPath);
            }

            await rig.Harness.Start();
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates the video row (state Uploaded) and puts <paramref name="file"/> (default: the clip) at its original key.</summary>
    public async Task<Guid> SeedVideoAsync(string? file = null, bool storeOriginal = true)
    {
        var id = Guid.NewGuid();
        file ??= ClipPath;
        if (storeOriginal)
        {
            var blobs = Services.GetRequiredService<IBlobStore>();
            await using var source = File.OpenRead(file);
            await blobs.WriteAsync(BlobKeys.Original(Tenant, id), (s, ct) => source.CopyToAsync(s, ct));
        }

        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<VideoLedger>().CreateAsync(new Video
        {
            Id = id,
            TenantId = Tenant,
            // Unique per video (the same clip bytes are reused for several videos of one tenant).
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(id.ToByteArray())),
            SizeBytes = new FileInfo(file).Length,
            Title = "clip",
        });
        return id;
    }

    /// <summary>
    /// Seeds <paramref name="count"/> videos and extracts their frames directly (not through the bus), so their
    /// FramesExtracted can be published together and reach the encoder as one batch.
    /// </summary>
    public async Task<(Guid[] Ids, List<FramesExtracted> Events)> SeedExtractedAsync(int count)
    {
        var ids = new Guid[count];
        var events = new List<FramesExtracted>();
        for (int i = 0; i < count; i++)
        {
            ids[i] = await SeedVideoAsync();
            await using var scope = Services.CreateAsyncScope();
            var outcome = (await scope.ServiceProvider.GetRequiredService<FrameExtraction>().ExtractAsync(Uploaded(ids[i]), CancellationToken.None)).Message;
            events.Add(Assert.IsType<FramesExtracted>(outcome));
        }

        return (ids, events);
    }

    public static VideoUploaded Uploaded(Guid id) => new()
    {
        VideoId = id,
        TenantId = Tenant,
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(id.ToByteArray())),
        SizeBytes = 1,
        UploadedAt = DateTimeOffset.UtcNow,
    };

    public async Task<Video> GetVideoAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        return await db.Videos.AsNoTracking().Include(v => v.Segments).Include(v => v.Events).SingleAsync(v => v.Id == id);
    }

    public async Task<int> SegmentRowsAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().Segments.CountAsync(s => s.VideoId == id);
    }

    public async Task<int> EventCountAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<LiteVLDbContext>().VideoEvents.CountAsync(e => e.VideoId == id);
    }

    public async Task<Video> WaitForStateAsync(Guid id, Func<VideoState, bool> done, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var video = await GetVideoAsync(id);
            // The state and its timeline entry are two statements: wait for both.
            if (done(video.State) && video.Events.MaxBy(e => e.Id)?.State == video.State)
            {
                return video;
            }

            if (DateTime.UtcNow > deadline)
            {
                var faults = string.Join("; ", Harness.Consumed.Select(m => m.Exception != null, Snapshot).Select(m => m.Exception!.Message));
                throw new TimeoutException($"Video {id} is still {video.State} after {seconds} s ({video.FailedStage}: {video.FailureReason}). Consumer faults: [{faults}]");
            }

            await Task.Delay(50);
        }
    }

    public Task<Video> WaitForTerminalAsync(Guid id, double seconds = 30) => WaitForStateAsync(id, s => s.IsTerminal(), seconds);

    /// <summary>Waits until at least <paramref name="count"/> messages of type T for the video were consumed.</summary>
    public async Task WaitForConsumedAsync<T>(Func<T, Guid> videoId, Guid id, int count, double seconds = 30)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (ConsumedOf(videoId, id).Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{typeof(T).Name} for {id} consumed {ConsumedOf(videoId, id).Count} times, expected {count}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>What was consumed so far (no waiting).</summary>
    public List<IReceivedMessage<T>> ConsumedOf<T>(Func<T, Guid> videoId, Guid id)
        where T : class =>
        [.. Harness.Consumed.Select<T>(Snapshot).Where(m => videoId(m.Context.Message) == id)];

    /// <summary>What was published so far (no waiting).</summary>
    public List<IPublishedMessage<T>> PublishedOf<T>(Func<T, Guid> videoId, Guid id)
        where T : class =>
        [.. Harness.Published.Select<T>(Snapshot).Where(m => videoId(m.Context.Message) == id)];

    /// <summary>
    /// Whether a <typeparamref name="T"/> matching <paramref name="match"/> is published within 30 s. The harness's own
    /// <c>Published.Any</c> gives up after a short bus inactivity, which a loaded machine can exceed between a video's
    /// terminal row and its event.
    /// </summary>
    public async Task<bool> WaitForPublishedAsync<T>(Func<T, bool> match)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Harness.Published.Select<T>(Snapshot).Any(m => match(m.Context.Message)))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    public int CountFiles(string prefix)
    {
        string dir = Path.Combine(BlobRoot, prefix.TrimEnd('/'));
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count() : 0;
    }

    public async Task<long> CountPointsAsync(Guid id, string modelVersion) =>
        await Services.GetRequiredService<IVectorIndex>().CountAsync(modelVersion, new VectorFilter(Tenant) { VideoIds = [id] });

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Harness.Stop();
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            // Not started.
        }

        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temp folder is cleaned by the OS.
        }
    }
}
