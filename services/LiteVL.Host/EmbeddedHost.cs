using LiteVL.Dashboard;
using LiteVL.Encoder;
using LiteVL.FrameExtractor;
using LiteVL.Indexer;
using LiteVL.Model.Config;
using LiteVL.Pipeline;
using LiteVL.QueryApi;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.UploadApi;

namespace LiteVL.Host;

/// <summary>
/// The embedded host's bootstrapping, all of it: arguments and prerequisites, the embedded configuration defaults, the
/// model, every service's registrations on one in-memory bus, their endpoints, first-start work (<see cref="EmbeddedSetup"/>)
/// and the banner. Program.cs only calls <see cref="RunAsync"/>.
/// </summary>
internal static class EmbeddedHost
{
    /// <summary>Runs the host until Ctrl+C; the process's exit code (1: ffmpeg missing, 2: configuration, see <see cref="ServiceMain"/>).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var options = HostArguments.Parse(args);
        if (!await Prerequisites.EnsureFfmpegAsync(Console.Out, Console.Error).ConfigureAwait(false))
        {
            return 1;
        }

        return await ServiceMain.RunAsync("LiteVL host", async () =>
        {
            string dataDir = Path.GetFullPath(options.DataDirectory);
            Directory.CreateDirectory(dataDir);
            var builder = WebApplication.CreateBuilder(options.Remaining);
            // Embedded defaults; anything set by environment or arguments (e.g. LiteVL__Storage__Provider=Postgres) wins.
            var defaults = new Dictionary<string, string?>
            {
                ["LiteVL:Storage:Provider"] = "Sqlite",
                ["LiteVL:Storage:DataDirectory"] = dataDir,
                ["LiteVL:Messaging:Transport"] = "InMemory",
                ["LiteVL:VectorIndex:Kind"] = "Embedded",
                ["LiteVL:Model:Directory"] = Path.Combine(dataDir, "model"),
            };
            builder.Configuration.AddInMemoryCollection(defaults.Where(kv => builder.Configuration[kv.Key] is null).ToList());
            if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
            {
                builder.WebHost.UseUrls("http://127.0.0.1:8080");
            }

            var model = EmbeddedSetup.EnsureModel(builder.Configuration["LiteVL:Model:Directory"]!, builder.Configuration[EmbeddedSetup.ModelSetting], Console.Out);
            AddServices(builder, model, options.Verbose);

            var app = builder.Build();
            app.UseServiceDefaults();
            await app.Services.MigrateLiteVLDatabaseAsync().ConfigureAwait(false);
            MapEndpoints(app);
            await app.StartAsync().ConfigureAwait(false);

            string adminKey = await EmbeddedSetup.EnsureAdminKeyAsync(app.Services, dataDir, app.Lifetime.ApplicationStopping).ConfigureAwait(false);
            // Samples first (their upload and index lines), then the banner: it is the last thing start-up prints.
            int samples = await EmbeddedSetup.IngestSamplesIfEmptyAsync(app.Services, dataDir, options.Samples, Console.Out, app.Lifetime.ApplicationStopping).ConfigureAwait(false);
            string samplesLine = samples > 0
                ? await EmbeddedSetup.WaitForSamplesAsync(app.Services, samples, TimeSpan.FromMinutes(5), app.Lifetime.ApplicationStopping).ConfigureAwait(false) + $" (tenant 'demo', key in {Path.Combine(dataDir, "demo-key")})"
                : string.Empty;
            string urls = string.Join(", ", app.Urls);
            string searchExample = samples > 0
                ? $"     curl -H \"Authorization: Bearer $(cat {Path.Combine(dataDir, "demo-key")})\" -H 'Content-Type: application/json' -d '{{\"query\":\"a red circle moves left\"}}' {app.Urls.First()}/v1/search\n"
                : string.Empty;
            Console.WriteLine($"""

                LiteVL embedded host is running.
                  API          {urls}   (OpenAPI: {app.Urls.First()}/openapi/v1.json)
                  dashboard    {app.Urls.First()}/admin   (sign in with the admin key)
                  admin key    {adminKey}
                  data         {dataDir}
                  model        {model.Version} ({model.Preset}, T={model.NumFrames}, S={model.Vision.ImageSize})
                {(samplesLine.Length > 0 ? "  samples      " + samplesLine + "\n" : string.Empty)}Try: curl -H "Authorization: Bearer $(cat {adminKey})" {app.Urls.First()}/v1/videos
                {searchExample}Ctrl+C stops it. Logs: one line per video that changes state; --verbose for everything.

                """);
            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>Every service in this process: the frame geometry of the model, then each service's own registrations, one bus with every stage's consumers, the reconciler and the sweeper.</summary>
    private static void AddServices(WebApplicationBuilder builder, ModelConfig model, bool verbose)
    {
        builder.Services.AddSingleton(new FrameGeometry(model.NumFrames, model.Vision.ImageSize));
        builder.AddServiceDefaults(verboseLogging: verbose);
        builder.Services.AddLiteVLStorage(builder.Configuration);
        builder.Services.AddUploadApi(builder.Configuration);
        builder.Services.AddFrameExtractor(builder.Configuration);
        builder.Services.AddEncoder(builder.Configuration);
        builder.Services.AddIndexer(builder.Configuration);
        builder.Services.AddQueryApi(builder.Configuration);
        builder.Services.AddDashboard(builder.Configuration);
        builder.Services.AddLiteVLMessaging(builder.Configuration, bus =>
        {
            bus.AddFrameExtractorConsumers();
            bus.AddEncoderConsumers();
            bus.AddIndexerConsumers();
        });
        builder.Services.AddLiteVLReconciler(builder.Configuration);
        builder.Services.AddLiteVLOrphanSweeper(builder.Configuration);
    }

    private static void MapEndpoints(WebApplication app)
    {
        app.MapUploadApi();
        app.MapQueryApi();
        app.MapDashboard();
    }
}
