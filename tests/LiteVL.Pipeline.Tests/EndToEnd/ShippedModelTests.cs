using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Media.Synth;
using LiteVL.Host;
using LiteVL.Model.Config;
using LiteVL.QueryApi;
using LiteVL.ServiceDefaults;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;
using Xunit.Abstractions;
using LiteVL.Search;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// The README's first command on a fresh data directory: the host installs the shipped small model, ingests the synthetic
/// sample clips for tenant "demo", a search for the README's example (an order clip: what frame-mean pooling cannot tell
/// from its reversal) finds that clip first and its time-reversed twin second, the order and size samples find their
/// own clip first, and every sample's caption finds its own clip among the top two. Also: what the host says when the shipped model is missing or the model setting is wrong, and the sample list.
/// </summary>
public sealed class ShippedModelTests(ITestOutputHelper output)
{
    private const string Query = "a red square appears, then a blue circle appears";
    private const string Twin = "a blue circle appears, then a red square appears";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public async Task First_start_installs_the_shipped_model_and_finds_the_readme_example_first()
    {
        string root = Directory.CreateTempSubdirectory("litevl-shipped-").FullName;
        string data = Path.Combine(root, "data");
        try
        {
            int samples = EmbeddedSetup.SampleClipList().Count();
            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string>(), samples: samples, workingDirectory: root);
            await host.WaitUntilRunningAsync(TimeSpan.FromMinutes(3));

            Assert.Contains($"Installing the shipped small model (trained on synthetic motion clips; docs/evaluation.md) into {Path.Combine(data, "model")}", host.Log, StringComparison.Ordinal);
            var model = ModelConfig.Load(Path.Combine(data, "model"));
            Assert.Equal(Presets.Small, model.Preset);
            Assert.All(LiteVL.Model.ModelDirectory.GraphNames, g => Assert.True(File.Exists(Path.Combine(data, "model", g + ".onnx")), $"no {g}.onnx in the installed model"));
            Assert.False(Directory.Exists(Path.Combine(data, "model", ".installing")), "the staging folder was left behind");

            using var http = new HttpClient { BaseAddress = host.BaseAddress };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(data, "demo-key"))).Trim());
            var videos = (await http.GetFromJsonAsync<VideoPage>(new Uri("/v1/videos?pageSize=100", UriKind.Relative), Json))!;
            Assert.Equal(samples, videos.Total);
            Assert.All(videos.Items, v => Assert.True(v.State == VideoState.Indexed, $"sample '{v.Title}' is {v.State}: {v.FailureReason}"));
            Assert.Equal(EmbeddedSetup.SampleClipList().Select(c => c.Caption).Order(StringComparer.Ordinal), videos.Items.Select(v => v.Title!).Order(StringComparer.Ordinal));

            using var response = await http.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query = Query, limit = samples });
            response.EnsureSuccessStatusCode();
            var result = (await response.Content.ReadFromJsonAsync<SearchResponse>(Json))!;
            output.WriteLine($"'{Query}' with {result.ModelVersion} (reranked: {result.Reranked}):");
            foreach (var (hit, rank) in result.Hits.Select((h, i) => (h, i + 1)))
            {
                var s = hit.Segments[0];
                output.WriteLine($"  {rank,2}. {hit.Score,8:F4}  (match logit {s.MatchLogit,8:F4}, cosine {s.CoarseScore:F4})  {hit.Title}");
            }

            // The shipped model's re-ranker scored below its coarse ranking on its test split (docs/evaluation.md), so its
            // config says not to re-rank unless asked, and a request that leaves "rerank" out gets the coarse ranking.
            Assert.False(model.RerankByDefault);
            Assert.False(result.Reranked);
            Assert.Equal(samples, result.Hits.Count);
            Assert.All(result.Hits, h => Assert.InRange(h.Segments[0].EvidenceTime ?? double.NaN, h.Segments[0].Start, h.Segments[0].End));

            // The README's example: the order clip first, its time-reversed twin second. Order and size change are
            // learned (89.6 % and 87.0 % twin accuracy on a fresh rendering of the generator), so those samples are
            // asserted to find their own clip first; left/right/up/down are not (exactly 50 %: docs/evaluation.md), so
            // those are printed (8 of these 10 captions put their own clip first when this was written).
            Assert.Equal([Query, Twin], result.Hits.Take(2).Select(h => h.Title!));
            int first = 0;
            foreach (var caption in EmbeddedSetup.SampleClipList().Select(c => c.Caption))
            {
                using var answer = await http.PostAsJsonAsync(new Uri("/v1/search", UriKind.Relative), new { query = caption, limit = 2 });
                answer.EnsureSuccessStatusCode();
                var top = (await answer.Content.ReadFromJsonAsync<SearchResponse>(Json))!.Hits.Select(h => h.Title!).ToList();
                output.WriteLine($"  '{caption}': {string.Join(" > ", top)}");
                first += top[0] == caption ? 1 : 0;

                // Colour, shape and kind of motion are learned: every caption's own clip is one of the top two.
                Assert.Contains(caption, top);
                if (caption.Contains("then", StringComparison.Ordinal) || caption.EndsWith("grows", StringComparison.Ordinal) || caption.EndsWith("shrinks", StringComparison.Ordinal))
                {
                    Assert.True(top[0] == caption, $"'{caption}' put '{top[0]}' first");
                }
            }

            output.WriteLine($"{first} of {samples} sample captions find their own clip first");

            // The shipped model answers questions too: its QA heads name the colour of every one-shape sample (93 % on
            // its held-out test split, chance 20 %: docs/evaluation.md, "Video QA"), with the evidence frame inside the
            // clip. The shape is printed, not asserted: 58 % on the test split —
            // weak, and better heads should make it assertable.
            Assert.All(LiteVL.Model.ModelDirectory.QaGraphNames, g => Assert.True(File.Exists(Path.Combine(data, "model", g + ".onnx")), $"no {g}.onnx in the installed model"));
            int colours = 0, shapes = 0, asked = 0;
            foreach (var video in videos.Items.Where(v => !v.Title!.Contains("then", StringComparison.Ordinal)))
            {
                string[] words = video.Title!.Split(' ');
                var colour = await AskAsync(http, video.Id, "what colour is the shape?", ["red", "green", "blue", "yellow", "white"]);
                var shape = await AskAsync(http, video.Id, "what shape is it?", ["square", "circle", "triangle"]);
                output.WriteLine($"  {video.Title}: colour '{colour.Answer}' ({colour.Score:P0}), shape '{shape.Answer}' ({shape.Score:P0}), evidence {colour.EvidenceTime:F1} s");
                colours += colour.Answer == words[1] ? 1 : 0;
                shapes += shape.Answer == words[2] ? 1 : 0;
                asked++;
                Assert.InRange(colour.EvidenceTime!.Value, colour.Segment.Start, colour.Segment.End);
            }

            output.WriteLine($"colour {colours}/{asked}, shape {shapes}/{asked}");
            Assert.Equal(8, asked);
            Assert.Equal(asked, colours);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<AskResponse> AskAsync(HttpClient http, Guid video, string question, string[] answers)
    {
        using var response = await http.PostAsJsonAsync(new Uri($"/v1/videos/{video}/ask", UriKind.Relative), new { question, answers });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<AskResponse>(Json))!;
    }

    [Fact]
    public void Without_the_shipped_files_the_host_stops_with_a_message_that_says_what_to_do()
    {
        string root = Directory.CreateTempSubdirectory("litevl-shipped-").FullName;
        try
        {
            string shipped = Directory.CreateDirectory(Path.Combine(root, "shipped")).FullName;
            File.Copy(Path.Combine(EmbeddedSetup.ShippedModelDirectory, "config.json"), Path.Combine(shipped, "config.json"));
            var e = Assert.Throws<StartupException>(() => EmbeddedSetup.EnsureModel(Path.Combine(root, "model"), null, TextWriter.Null, shipped));
            output.WriteLine(e.Message);
            Assert.Contains(shipped, e.Message, StringComparison.Ordinal);
            Assert.Contains("weights.safetensors, vocab.txt", e.Message, StringComparison.Ordinal);
            Assert.Contains("--LiteVL:Embedded:Model=tiny", e.Message, StringComparison.Ordinal);
            Assert.Contains("LiteVL:Model:Directory", e.Message, StringComparison.Ordinal);
            Assert.Equal(e.Message, ServiceMain.Describe(e)); // printed as it is, exit code 2
            Assert.False(File.Exists(Path.Combine(root, "model", "config.json")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_model_setting_is_small_or_tiny_and_an_installed_model_is_kept()
    {
        string root = Directory.CreateTempSubdirectory("litevl-shipped-").FullName;
        try
        {
            var e = Assert.Throws<StartupException>(() => EmbeddedSetup.EnsureModel(Path.Combine(root, "model"), "large", TextWriter.Null));
            Assert.Contains("LiteVL:Embedded:Model is 'large'", e.Message, StringComparison.Ordinal);

            using var said = new StringWriter();
            var tiny = EmbeddedSetup.EnsureModel(Path.Combine(root, "model"), "tiny", said);
            Assert.Equal(Presets.Tiny, tiny.Preset);
            Assert.Contains("generating the tiny model", said.ToString(), StringComparison.Ordinal);

            // A second start with the default setting keeps the model that is there.
            using var again = new StringWriter();
            Assert.Equal(tiny.Version, EmbeddedSetup.EnsureModel(Path.Combine(root, "model"), null, again).Version);
            Assert.Equal(string.Empty, again.ToString());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_sample_clips_are_fixed_pairs_whose_frames_do_what_their_captions_say()
    {
        var clips = EmbeddedSetup.SampleClipList().ToList();
        output.WriteLine(string.Join('\n', clips.Select(c => $"{c.FileName} ({c.Family}, {c.Frames.Length} frames)")));
        Assert.InRange(clips.Count, 8, 12);
        Assert.Equal("a red circle moves left", clips[0].Caption);
        Assert.Equal("a red circle moves right", clips[1].Caption);
        foreach (string caption in new[] { Query, Twin, "a blue square grows", "a blue square shrinks", "a green triangle moves up", "a green triangle moves down", "a red square appears, then a blue circle appears" })
        {
            Assert.Contains(clips, c => c.Caption == caption);
        }

        Assert.Equal(clips.Count, clips.Select(c => c.FileName).Distinct(StringComparer.Ordinal).Count());
        for (int i = 0; i < clips.Count; i += 2)
        {
            Assert.Equal(clips[i].Family, clips[i + 1].Family);
            Assert.Equal(clips[i].Frames.Reverse(), clips[i + 1].Frames); // the twin is the clip backwards
        }

        // Deterministic: every first start renders the same frames.
        Assert.Equal(clips.SelectMany(c => c.Frames), EmbeddedSetup.SampleClipList().SelectMany(c => c.Frames));

        // Where the red of the red circle is, first and last frame: it moves left.
        var (first, last) = (RedCentre(clips[0].Frames[0]), RedCentre(clips[0].Frames[^1]));
        output.WriteLine($"red circle centre x: {first:F1} → {last:F1}");
        Assert.True(last < first - 10, $"the red circle moves from x={first:F1} to x={last:F1}");

        var chosen = SynthPlanner.Chosen(MotionFamily.Size, SynthVocabulary.Object("blue", "square"), null, positive: true, seed: 2, EmbeddedSetup.SampleSize);
        Assert.True(chosen.Scene.Shapes[0].Size1 > chosen.Scene.Shapes[0].Size0);
        Assert.Throws<ArgumentException>(() => SynthPlanner.Chosen(MotionFamily.Order, SynthVocabulary.Object("red", "square"), null, true, 1, 128));
        Assert.Throws<ArgumentException>(() => SynthVocabulary.Object("purple", "circle"));
    }

    /// <summary>Mean x of the pixels that are clearly red (rgb24, <see cref="EmbeddedSetup.SampleSize"/> wide).</summary>
    private static double RedCentre(byte[] frame)
    {
        double sum = 0;
        int n = 0;
        for (int p = 0; p < frame.Length / 3; p++)
        {
            if (frame[p * 3] > 150 && frame[(p * 3) + 1] < 90 && frame[(p * 3) + 2] < 90)
            {
                sum += p % EmbeddedSetup.SampleSize;
                n++;
            }
        }

        Assert.True(n > 0, "no red pixels");
        return sum / n;
    }
}
