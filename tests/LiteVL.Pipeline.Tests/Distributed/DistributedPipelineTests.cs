using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LiteVL.FrameExtractor.Media;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.UploadApi;
using LiteVL.VectorIndex;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace LiteVL.Pipeline.Tests.Distributed;

/// <summary>
/// The distributed mode on one machine: RabbitMQ and PostgreSQL (started by tests/run.sh) and every service as its own
/// OS process — Upload API, frame extractor, two competing encoder workers, indexer — ingesting 30 clips at once.
/// </summary>
public sealed partial class DistributedPipelineTests(ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public async Task ThirtyClips_TwoEncoders_EachIndexedExactlyOnce_NoDuplicates()
    {
        string admin = Environment.GetEnvironmentVariable("LITEVL_TEST_POSTGRES")
            ?? throw new InvalidOperationException("LITEVL_TEST_POSTGRES is not set: run the tests through ./tests/run.sh, which starts PostgreSQL and RabbitMQ.");
        string rabbitPort = Environment.GetEnvironmentVariable("LITEVL_TEST_RABBITMQ_PORT")
            ?? throw new InvalidOperationException("LITEVL_TEST_RABBITMQ_PORT is not set: run the tests through ./tests/run.sh, which starts RabbitMQ.");
        string database = $"litevl_dist_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
            await create.ExecuteNonQueryAsync();
        }

        string data = Directory.CreateTempSubdirectory("litevl-dist-").FullName;
        var services = new List<ServiceProcess>();
        try
        {
            var model = ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 0, Path.Combine(data, "model"));
            string connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ConnectionString;
            var environment = new Dictionary<string, string>
            {
                ["LiteVL__Storage__Provider"] = "Postgres",
                ["LiteVL__Storage__ConnectionString"] = connectionString,
                ["LiteVL__Storage__DataDirectory"] = data,
                ["LiteVL__Messaging__Transport"] = "RabbitMq",
                ["LiteVL__Messaging__RabbitMqHost"] = "127.0.0.1",
                ["LiteVL__Messaging__RabbitMqPort"] = rabbitPort,
                ["LiteVL__Model__Directory"] = Path.Combine(data, "model"),
                ["LiteVL__Frames__FramesPerSegment"] = model.NumFrames.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LiteVL__Frames__FrameSize"] = model.Vision.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LiteVL__Encoder__MessagesPerBatch"] = "4",
                ["LiteVL__Encoder__MaxWaitMilliseconds"] = "100",
            };

            var upload = await ServiceProcess.StartAsync("upload-api", "LiteVL.UploadApi.dll", environment);
            services.Add(upload);
            services.Add(await ServiceProcess.StartAsync("frame-extractor", "LiteVL.FrameExtractor.dll", environment));
            var encoders = new[]
            {
                await ServiceProcess.StartAsync("encoder-1", "LiteVL.Encoder.dll", environment),
                await ServiceProcess.StartAsync("encoder-2", "LiteVL.Encoder.dll", environment),
            };
            services.AddRange(encoders);
            var indexer = await ServiceProcess.StartAsync("indexer", "LiteVL.Indexer.dll", environment);
            services.Add(indexer);

            string key = await CreateKeyAsync(data, connectionString);
            using var http = new HttpClient { BaseAddress = upload.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

            // 30 distinct clips (different lengths: 1 to 3 segments each).
            var clips = new List<(string Path, int Segments)>();
            using (var generator = new SampleClips())
            {
                for (int i = 0; i < 30; i++)
                {
                    double length = 2 + ((i % 10) * 2.1);
                    var spec = new ClipSpec(ClipSource.MovingBox, length, 160 + (i * 8), 120, 25, ClipCodec.H264, "mp4", i % 3 == 0);
                    string path = await generator.GenerateAsync(spec, Path.Combine(data, "clips", $"clip{i:D2}.mp4"));
                    clips.Add((path, SegmentPlanner.Plan(length, model.NumFrames, 10, 1).Count));
                }
            }

            var started = DateTime.UtcNow;
            var ids = new Dictionary<Guid, int>();
            await Parallel.ForEachAsync(clips, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (clip, ct) =>
            {
                using var form = new MultipartFormDataContent();
                var file = new StreamContent(File.OpenRead(clip.Path));
                file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
                form.Add(file, "file", Path.GetFileName(clip.Path));
                using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form, ct);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                var body = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json, ct))!;
                Assert.False(body.Duplicate);
                lock (ids)
                {
                    ids[body.Id] = clip.Segments;
                }
            });

            var final = new Dictionary<Guid, VideoView>();
            var deadline = DateTime.UtcNow.AddMinutes(5);
            while (final.Count < ids.Count && DateTime.UtcNow < deadline)
            {
                foreach (var id in ids.Keys.Where(i => !final.ContainsKey(i)))
                {
                    var view = (await http.GetFromJsonAsync<VideoView>(new Uri($"/v1/videos/{id}", UriKind.Relative), Json))!;
                    if (view.State is VideoState.Indexed or VideoState.Failed)
                    {
                        final[id] = view;
                    }
                }

                await Task.Delay(500);
            }

            Assert.True(final.Count == ids.Count, $"{ids.Count - final.Count} videos did not finish:\n{string.Join("\n", services.Select(s => $"--- {s.Name}\n{Tail(s.Log)}"))}");
            double seconds = (DateTime.UtcNow - started).TotalSeconds;
            int[] encoded = [.. encoders.Select(e => EncodedLine().Matches(e.Log).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)))];
            output.WriteLine($"30 clips indexed in {seconds:F1} s by 2 encoders: {encoded[0]} and {encoded[1]} videos encoded");
            foreach (var (id, segments) in ids)
            {
                var view = final[id];
                Assert.True(view.State == VideoState.Indexed, $"{id} ended {view.State}: {view.Failure?.Reason}");
                Assert.Equal(segments, view.SegmentCount);
                Assert.Single(view.Timeline, t => t.State == VideoState.Indexed);
                Assert.Single(view.Timeline, t => t.State == VideoState.Encoded);
            }

            Assert.All(encoded, count => Assert.True(count > 0, $"an encoder did no work: {string.Join(", ", encoded)}"));
            Assert.Equal(30, encoded.Sum());

            // Exactly one point per segment: stop the indexer (it owns the embedded index) and count.
            await indexer.StopAsync();
            using var index = EmbeddedVectorIndex.Open(Path.Combine(data, "vectors"));
            long points = await index.CountAsync(model.Version, new VectorFilter("dist"));
            output.WriteLine($"{ids.Values.Sum()} segments, {points} points");
            Assert.Equal(ids.Values.Sum(), points);
        }
        finally
        {
            foreach (var s in services)
            {
                await s.DisposeAsync();
            }

            NpgsqlConnection.ClearAllPools();
            await using (var connection = new NpgsqlConnection(admin))
            {
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }

            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<string> CreateKeyAsync(string data, string connectionString)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteVL:Storage:Provider"] = "Postgres",
            ["LiteVL:Storage:ConnectionString"] = connectionString,
            ["LiteVL:Storage:DataDirectory"] = data,
        }).Build();
        await using var provider = new ServiceCollection().AddLogging().AddLiteVLStorage(configuration).BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("dist", "distributed test")).Key;
    }

    private static string Tail(string log) => log.Length > 3000 ? log[^3000..] : log;

    [GeneratedRegex(@"Encoded (\d+) videos")]
    private static partial Regex EncodedLine();
}
