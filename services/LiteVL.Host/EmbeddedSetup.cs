using LiteVL.FrameExtractor.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.UploadApi;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Host;

/// <summary>First-start work of the embedded host: the tiny model, the admin key, sample clips.</summary>
internal static class EmbeddedSetup
{
    public const string AdminKeyFile = "admin-key";

    /// <summary>The bundled tiny model under the data directory unless a model directory is configured.</summary>
    public static ModelConfig EnsureModel(string modelDir, TextWriter output)
    {
        if (File.Exists(Path.Combine(modelDir, ModelConfig.FileName)))
        {
            return ModelConfig.Load(modelDir);
        }

        output.WriteLine($"No model at {modelDir}: generating the tiny model (random weights: it wires the platform, it does not find anything meaningful).");
        return ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 0, modelDir);
    }

    /// <summary>Creates an admin key on first start and writes it to &lt;data&gt;/admin-key (owner-only).</summary>
    public static async Task<string> EnsureAdminKeyAsync(IServiceProvider services, string dataDir, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ApiKeyService>()
            .EnsureAdminKeyFileAsync(Path.Combine(dataDir, AdminKeyFile), ct).ConfigureAwait(false);
    }

    /// <summary>When the library is empty, generates a handful of varied clips and uploads them for tenant "demo".</summary>
    public static async Task<int> IngestSamplesIfEmptyAsync(IServiceProvider services, string dataDir, int count, TextWriter output, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        if (count <= 0 || await db.Videos.AnyAsync(ct).ConfigureAwait(false))
        {
            return 0;
        }

        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        if (!await db.Tenants.AnyAsync(t => t.Id == "demo", ct).ConfigureAwait(false))
        {
            var demo = await keys.CreateAsync("demo", "embedded host demo", ct: ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(dataDir, "demo-key"), demo.Key + "\n", ct).ConfigureAwait(false);
        }

        string dir = Path.Combine(dataDir, "samples");
        Directory.CreateDirectory(dir);
        using var clips = new SampleClips();
        var specs = Samples.Take(count).ToList();
        output.WriteLine($"The library is empty: generating {specs.Count} sample clips with ffmpeg's synthetic sources and ingesting them (tenant 'demo').");
        var uploads = scope.ServiceProvider.GetRequiredService<UploadService>();
        foreach (var (spec, title, tags) in specs)
        {
            string path = await clips.GenerateAsync(spec, Path.Combine(dir, spec.FileName), ct).ConfigureAwait(false);
            await using var stream = File.OpenRead(path);
            await uploads.UploadAsync("demo", stream, new UploadMetadata(title, tags, Path.GetFileName(path), "video/" + spec.Container), ct).ConfigureAwait(false);
        }

        return specs.Count;
    }

    /// <summary>
    /// Waits until the sample clips are Indexed or Failed (or <paramref name="timeout"/> passes), so that the banner
    /// printed after it is the last start-up line; returns what became of them, for the banner.
    /// </summary>
    public static async Task<string> WaitForSamplesAsync(IServiceProvider services, int count, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            var states = await db.Videos.AsNoTracking().Where(v => v.TenantId == "demo").Select(v => v.State).ToListAsync(ct).ConfigureAwait(false);
            int indexed = states.Count(s => s == VideoState.Indexed);
            int failed = states.Count(s => s == VideoState.Failed);
            if (indexed + failed >= Math.Min(count, states.Count) || DateTime.UtcNow >= deadline)
            {
                int pending = states.Count - indexed - failed;
                return $"{indexed} of {states.Count} sample clips indexed" + (failed > 0 ? $", {failed} failed" : string.Empty) + (pending > 0 ? $", {pending} still in the pipeline" : string.Empty);
            }

            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }

    private static readonly (ClipSpec Spec, string Title, string[] Tags)[] Samples =
    [
        (new(ClipSource.TestSrc2, 6, 640, 360, 25, ClipCodec.H264, "mp4", true), "Test pattern with a moving gradient", ["pattern", "sample"]),
        (new(ClipSource.Mandelbrot, 14, 480, 270, 24, ClipCodec.H264, "mp4", false), "Zooming into the Mandelbrot set", ["fractal", "sample"]),
        (new(ClipSource.Life, 8, 320, 240, 15, ClipCodec.Vp9, "webm", false), "Game of Life colonies", ["cells", "sample"]),
        (new(ClipSource.SmpteBars, 4, 640, 480, 29.97, ClipCodec.Mpeg4, "avi", true), "Colour bars with tone", ["bars", "sample"]),
        (new(ClipSource.MovingBox, 22, 480, 270, 30, ClipCodec.H264, "mp4", true), "A box moving across the frame", ["motion", "sample"]),
        (new(ClipSource.Color, 3, 320, 320, 24, ClipCodec.H264, "mp4", false, "blue"), "A plain blue screen", ["colour", "sample"]),
    ];
}
