using System.CommandLine;
using System.Diagnostics;
using LiteVL.Media.Synth;
using LiteVL.Media;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl data synth</c>: a captioned set of synthetic motion clips (shapes that move, grow, shrink or appear in
/// order), each with its time-reversed twin, in the JSON-lines format of <c>litevl eval</c> and <c>litevl train</c>.
/// See docs/training.md.
/// </summary>
internal static class DataCommand
{
    public static Command Create(TextWriter output)
    {
        var outDir = new Option<string>("--out", "-o") { Description = "New or empty folder for videos/, data.jsonl, train/val/test.jsonl and manifest.json.", Required = true };
        var clips = new Option<int>("--clips") { Description = $"Clips in all, twins included (even, {SynthPlanner.MinClips}–{SynthPlanner.MaxClips}): ≈70 % train, 10 % val, 20 % test.", DefaultValueFactory = _ => 400 };
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice (held-out combinations, shapes, colours, renderings): equal seeds give equal sets.", DefaultValueFactory = _ => 0 };
        var images = new Option<int>("--images") { Description = "Still images (one or two shapes, captioned \"a red square\") for image-text pre-training, 90 % train / 10 % val; 0 for none.", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size") { Description = $"Frame width and height in pixels (even, {SynthPlanner.MinSize}–{SynthPlanner.MaxSize}).", DefaultValueFactory = _ => 128 };
        var synth = new Command("synth", "Render captioned motion clips (H.264 MP4) with time-reversed twins and train/val/test splits whose test holds unseen combinations and renderings.")
        {
            outDir, clips, seed, size, images,
        };
        synth.SetAction(async (p, ct) =>
        {
            var plan = SynthPlanner.Plan(p.GetValue(clips), p.GetValue(seed), p.GetValue(size), p.GetValue(images));
            using (var media = new MediaToolchain())
            {
                try
                {
                    await media.CheckToolsAsync(ct).ConfigureAwait(false);             // before anything is written
                }
                catch (MediaException e)
                {
                    throw new InvalidOperationException(e.Message, e);
                }
            }

            var (dir, created) = PrepareOutput(p.GetValue(outDir)!);
            bool terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
            var (train, val, test) = SynthPlanner.SplitPairs(plan.Clips);
            output.WriteLine($"litevl data synth · seed {plan.Seed} · {plan.Clips} clips ({plan.Clips / 2} clip/twin pairs) · {plan.Size}×{plan.Size} px at {plan.Fps:0.#} fps · {dir}");
            output.WriteLine($"splits: train {train * 2} · val {val * 2} · test {test * 2} clips{(plan.Images.Count > 0 ? $" · {plan.Images.Count} still images" : string.Empty)}");
            var clock = Stopwatch.StartNew();
            try
            {
                await SynthGenerator.GenerateAsync(plan, dir, output, terminal, ct).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                RemoveIncomplete(dir, created);                                        // a half-written set is never left behind
                if (e is MediaException m)
                {
                    throw new InvalidOperationException(m.Kind == MediaErrorKind.ToolMissing ? m.Message : $"{m.Message} ({m.CommandLine})", m);
                }

                throw;
            }

            output.WriteLine($"wrote {plan.Clips} clips{(plan.Images.Count > 0 ? $" and {plan.Images.Count} still images" : string.Empty)} in {clock.Elapsed.TotalSeconds:F1} s");
            output.WriteLine("held out of train and val (test only): " + string.Join(", ", plan.HeldOut.Select(c => c.ToString())));
            output.WriteLine($"test: {plan.In(SynthSplit.Test).Count(q => q.HeldOut) * 2} clips of held-out combinations, "
                + $"{plan.In(SynthSplit.Test).Count(q => q.Rendering == RenderingRanges.Novel) * 2} with unseen renderings (background {RenderingRanges.Novel.BackgroundMin}–{RenderingRanges.Novel.BackgroundMax}, "
                + $"shapes {RenderingRanges.Novel.SizeMin:P0}–{RenderingRanges.Novel.SizeMax:P0} of the frame; training: {RenderingRanges.Seen.BackgroundMin}–{RenderingRanges.Seen.BackgroundMax}, {RenderingRanges.Seen.SizeMin:P0}–{RenderingRanges.Seen.SizeMax:P0})");
            output.WriteLine($"files: {SynthGenerator.DataFile} (all, with a \"split\" field), {SynthGenerator.SplitFile(SynthSplit.Train)}, {SynthGenerator.SplitFile(SynthSplit.Val)}, {SynthGenerator.SplitFile(SynthSplit.Test)}, {SynthGenerator.ManifestFile}, {SynthGenerator.VideosFolder}/");
            output.WriteLine($"video QA: {SynthGenerator.QaSplitFile(SynthSplit.Train)}, {SynthGenerator.QaSplitFile(SynthSplit.Val)}, {SynthGenerator.QaSplitFile(SynthSplit.Test)} ({{\"video\", \"question\", \"answer\", \"type\"}}: colour, shape, direction, size, order)");
            if (plan.Images.Count > 0)
            {
                output.WriteLine($"images: {SynthGenerator.ImageSplitFile(SynthSplit.Train)}, {SynthGenerator.ImageSplitFile(SynthSplit.Val)}, {SynthGenerator.ImagesFolder}/ (image-text pre-training: litevl train --params blip on a --frames 1 model)");
            }

            output.WriteLine($"next: litevl train --model MODEL --data {Path.Combine(dir, SynthGenerator.SplitFile(SynthSplit.Train))} --val {Path.Combine(dir, SynthGenerator.SplitFile(SynthSplit.Val))} --out MODEL-synth");
            return 0;
        });
        return new Command("data", "Make data sets.") { synth };
    }

    /// <summary>
    /// Creates the folder, or accepts an empty one (<c>Created</c> says which); refuses a file, a folder with files in it,
    /// or one that cannot be written.
    /// </summary>
    private static (string Path, bool Created) PrepareOutput(string path)
    {
        string full = Path.GetFullPath(path);
        bool created = !Directory.Exists(full);
        if (File.Exists(full))
        {
            throw new ArgumentException($"--out '{path}' is a file; give a new or empty folder.");
        }

        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new ArgumentException($"--out '{path}' is not empty; give a new or empty folder (the set is never written over another).");
        }

        try
        {
            Directory.CreateDirectory(full);
            string probe = Path.Combine(full, ".write-test");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new ArgumentException($"--out '{path}' cannot be written: {e.Message}", e);
        }

        return (full, created);
    }

    private static void RemoveIncomplete(string dir, bool created)
    {
        try
        {
            if (created)
            {
                Directory.Delete(dir, recursive: true);
                return;
            }

            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo d)
                {
                    d.Delete(recursive: true);
                }
                else
                {
                    entry.Delete();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the error that stopped the run is the one to report.
        }
    }
}
