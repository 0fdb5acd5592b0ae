using LiteVL.Media;
using LiteVL.Media.Synth;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Weights;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.UploadApi;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Host;

/// <summary>First-start work of the embedded host: the model, the admin key, sample clips.</summary>
internal static class EmbeddedSetup
{
    public const string AdminKeyFile = "admin-key";

    /// <summary>Which model a first start installs: <c>small</c> (the shipped trained model, the default) or <c>tiny</c> (random weights).</summary>
    public const string ModelSetting = "LiteVL:Embedded:Model";

    public const string ShippedModel = "small";

    public const string TinyModel = "tiny";

    /// <summary>The shipped small model beside the host's assembly: models/small of the repository, copied there by build and publish.</summary>
    public static string ShippedModelDirectory => ModelDirectory.ShippedSmall;

    /// <summary>
    /// The model in <paramref name="modelDir"/>; when it has none, installs the one <paramref name="choice"/> names (see
    /// <see cref="ModelSetting"/>): the shipped small model from <paramref name="shippedDir"/> (default
    /// <see cref="ShippedModelDirectory"/>) with its graphs built, or the random tiny model. An existing model is used as it is.
    /// </summary>
    public static ModelConfig EnsureModel(string modelDir, string? choice, TextWriter output, string? shippedDir = null)
    {
        string model = string.IsNullOrWhiteSpace(choice) ? ShippedModel : choice.Trim().ToLowerInvariant();
        if (model is not (ShippedModel or TinyModel))
        {
            throw new StartupException(
                $"{ModelSetting} is '{choice}': it must be '{ShippedModel}' (the shipped trained model, the default) or '{TinyModel}' (random weights, for wiring and tests).");
        }

        if (File.Exists(Path.Combine(modelDir, ModelConfig.FileName)))
        {
            return ModelConfig.Load(modelDir);
        }

        if (model == TinyModel)
        {
            output.WriteLine($"No model at {modelDir}: generating the tiny model (random weights: it wires the platform, it does not find anything meaningful).");
            return ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 0, modelDir);
        }

        return InstallShipped(shippedDir ?? ShippedModelDirectory, modelDir, output);
    }

    /// <summary>Installs the shipped model with <see cref="ModelDirectory.Install"/>, saying what to do when its files are missing.</summary>
    private static ModelConfig InstallShipped(string shippedDir, string modelDir, TextWriter output)
    {
        var missing = ModelDirectory.MissingSourceFiles(shippedDir);
        if (missing.Count > 0)
        {
            throw new StartupException(
                $"the shipped small model is missing: {shippedDir} has no {string.Join(", ", missing)}. The files come from models/small of the "
                + "repository, copied beside the host when it is built or published; build the host from a complete checkout, or start with "
                + $"--{ModelSetting}={TinyModel} for the random tiny model, or point LiteVL:Model:Directory at a model directory of your own.");
        }

        output.WriteLine($"Installing the shipped small model (trained on synthetic motion clips; docs/evaluation.md) into {modelDir}");
        return ModelDirectory.Install(shippedDir, modelDir);
    }

    /// <summary>Creates an admin key on first start and writes it to &lt;data&gt;/admin-key (owner-only).</summary>
    public static async Task<string> EnsureAdminKeyAsync(IServiceProvider services, string dataDir, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ApiKeyService>()
            .EnsureAdminKeyFileAsync(Path.Combine(dataDir, AdminKeyFile), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// When the library is empty, renders the first <paramref name="count"/> of <see cref="SampleClipList"/> with the synthetic
    /// generator (128×128, 10 fps, H.264) and uploads them for tenant "demo", titled with their captions.
    /// </summary>
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
            await ApiKeyService.WriteKeyFileAsync(Path.Combine(dataDir, "demo-key"), demo.Key, ct).ConfigureAwait(false);
        }

        string dir = Path.Combine(dataDir, "samples");
        Directory.CreateDirectory(dir);
        using var encoder = new SampleClips();
        var clips = SampleClipList().Take(count).ToList();
        output.WriteLine($"The library is empty: rendering {clips.Count} synthetic sample {(clips.Count == 1 ? "clip" : "clips")} (shapes that move, grow, shrink or appear in turn, as the small model was trained on) and ingesting them (tenant 'demo').");
        var uploads = scope.ServiceProvider.GetRequiredService<UploadService>();
        foreach (var clip in clips)
        {
            string path = await encoder.EncodeFramesAsync(clip.Frames, SampleSize, SampleSize, SynthPlanner.Fps, Path.Combine(dir, clip.FileName), ct).ConfigureAwait(false);
            await using var stream = File.OpenRead(path);
            await uploads.UploadAsync("demo", stream, new UploadMetadata(clip.Caption, ["sample", "synthetic", clip.Family], clip.FileName, "video/mp4"), ct).ConfigureAwait(false);
        }

        return clips.Count;
    }

    /// <summary>Side of the sample clips in pixels (the synthetic training set's default).</summary>
    public const int SampleSize = 128;

    /// <summary>One sample clip: its caption (the video's title), family tag, file name and rgb24 frames.</summary>
    public sealed record SampleClip(string Caption, string Family, string FileName, byte[][] Frames);

    /// <summary>
    /// The sample pairs, each a clip and its time-reversed twin (the same frames backwards, with the opposite caption):
    /// "a red circle moves left" / "... right", a grow/shrink pair, up/down, an order pair and a second left/right pair.
    /// Fixed seeds: every first start renders the same clips.
    /// </summary>
    private static readonly (MotionFamily Family, SynthObject First, SynthObject? Second, bool Positive, int Seed)[] SamplePairs =
    [
        (MotionFamily.Horizontal, SynthVocabulary.Object("red", "circle"), null, false, 1),
        (MotionFamily.Size, SynthVocabulary.Object("blue", "square"), null, true, 2),
        (MotionFamily.Vertical, SynthVocabulary.Object("green", "triangle"), null, false, 3),
        (MotionFamily.Order, SynthVocabulary.Object("red", "square"), SynthVocabulary.Object("blue", "circle"), true, 4),
        (MotionFamily.Horizontal, SynthVocabulary.Object("yellow", "square"), null, true, 5),
    ];

    /// <summary>The sample clips in upload order: each pair's clip, then its twin.</summary>
    public static IEnumerable<SampleClip> SampleClipList()
    {
        foreach (var (family, first, second, positive, seed) in SamplePairs)
        {
            var pair = SynthPlanner.Chosen(family, first, second, positive, seed, SampleSize);
            var frames = SynthRenderer.Render(pair.Scene, SampleSize);
            string tag = family.ToString().ToLowerInvariant();
            yield return new SampleClip(pair.Caption, tag, FileName(pair.Caption), frames);
            yield return new SampleClip(pair.TwinCaption, tag, FileName(pair.TwinCaption), [.. frames.Reverse()]);
        }
    }

    /// <summary>"a red square appears, then a blue circle appears" → "a-red-square-appears-then-a-blue-circle-appears.mp4".</summary>
    private static string FileName(string caption) =>
        System.Text.RegularExpressions.Regex.Replace(caption, "[^a-z0-9]+", "-").Trim('-') + ".mp4";

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
}
