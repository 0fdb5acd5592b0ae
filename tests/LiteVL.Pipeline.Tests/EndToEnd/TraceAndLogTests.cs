using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LiteVL.Media;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;

namespace LiteVL.Pipeline.Tests.EndToEnd;

/// <summary>
/// The embedded host with JSON console logs: the upload request's log line and the indexer's "Indexed" line of the same
/// video carry one trace id (HTTP → VideoUploaded → FramesExtracted → SegmentsEncoded), and the stages' lines carry
/// the video id in their scope.
/// </summary>
public sealed class TraceAndLogTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    [Fact]
    public async Task One_trace_runs_from_the_upload_request_to_the_indexer_and_logs_name_the_video()
    {
        string data = Directory.CreateTempSubdirectory("litevl-trace-").FullName;
        try
        {
            await using var host = await HostProcess.StartAsync(data, new Dictionary<string, string>
            {
                ["Logging__Console__FormatterName"] = "json",
                ["Logging__Console__FormatterOptions__IncludeScopes"] = "true",
            });
            string clip = Path.Combine(data, "clip.mp4");
            using (var clips = new SampleClips())
            {
                await clips.GenerateAsync(new ClipSpec(ClipSource.MovingBox, 3, 160, 120, 25, ClipCodec.H264, "mp4", false), clip);
            }

            using var http = new HttpClient { BaseAddress = host.BaseAddress };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminKey);
            using var form = new MultipartFormDataContent();
            var file = new StreamContent(File.OpenRead(clip));
            file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
            form.Add(file, "file", "clip.mp4");
            using var response = await http.PostAsync(new Uri("/v1/videos", UriKind.Relative), form);
            var id = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!.Id;

            VideoState state = VideoState.Uploaded;
            for (var deadline = DateTime.UtcNow.AddSeconds(60); !state.IsTerminal() && DateTime.UtcNow < deadline; await Task.Delay(250))
            {
                state = (await http.GetFromJsonAsync<VideoView>(new Uri($"/v1/videos/{id}", UriKind.Relative), Json))!.State;
            }

            Assert.Equal(VideoState.Indexed, state);
            await Task.Delay(500); // the console logger writes from its own queue
            var lines = host.Log.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var accepted = Assert.Single(lines, l => Message(l).StartsWith($"Accepted video {id}", StringComparison.Ordinal));
            var indexed = Assert.Single(lines, l => Message(l).StartsWith($"Indexed video {id}", StringComparison.Ordinal));

            string? trace = Scope(accepted, "TraceId");
            Assert.False(string.IsNullOrEmpty(trace), $"no trace id in the upload's log line: {accepted}");
            Assert.Equal(trace, Scope(indexed, "TraceId"));
            Assert.Equal(id.ToString(), Scope(indexed, "VideoId")); // the consume filter's scope
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static string Message(JsonElement line) => line.TryGetProperty("Message", out var m) ? m.GetString() ?? "" : "";

    private static string? Scope(JsonElement line, string name) =>
        line.TryGetProperty("Scopes", out var scopes)
            ? scopes.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty(name, out _)).Select(s => s.GetProperty(name).ToString()).FirstOrDefault()
            : null;
}
