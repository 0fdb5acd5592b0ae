using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using LiteVL.Contracts;
using LiteVL.Storage.Entities;
using MassTransit.Testing;

namespace LiteVL.UploadApi.Tests;

public sealed class UploadEndpointTests : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
    private readonly UploadApiFactory _api = new() { MaxBytes = 4 << 20 };

    [Fact]
    public async Task Upload_Multipart_StoresStreamsHashesAndPublishes()
    {
        using var client = await _api.ClientForAsync("acme");
        var bytes = FakeVideos.Mp4Like(1_500_000, 1);
        using var form = Multipart(bytes, "beach.mp4", ("title", "At the beach"), ("tags", "sea, sand"));
        using var response = await client.PostAsync("/v1/videos", form);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!;
        Assert.False(body.Duplicate);
        Assert.Equal(VideoState.Uploaded, body.State);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), body.Sha256);
        Assert.Equal($"/v1/videos/{body.Id}", response.Headers.Location!.OriginalString);

        string stored = Path.Combine(_api.DataDirectory, "blobs", "originals", "acme", body.Id.ToString("N"));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(stored));
        var published = Assert.Single(_api.Harness.Published.Select<VideoUploaded>());
        Assert.Equal(body.Id, published.Context.Message.VideoId);
        Assert.Equal(body.Id, published.Context.CorrelationId);
        Assert.Equal("acme", published.Context.Message.TenantId);

        var view = (await client.GetFromJsonAsync<VideoView>($"/v1/videos/{body.Id}", Json))!;
        Assert.Equal("At the beach", view.Title);
        Assert.Equal(["sea", "sand"], view.Tags);
        Assert.Equal(VideoState.Uploaded, Assert.Single(view.Timeline).State);
        Assert.Equal(bytes.Length, view.SizeBytes);
    }

    [Fact]
    public async Task Upload_FieldsAfterTheFile_AreStillApplied()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(FakeVideos.Mp4Like(10_000, 2));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        form.Add(file, "file", "clip.mp4");
        form.Add(new StringContent("Late title"), "title");
        form.Add(new StringContent("a,b"), "tags");
        using var response = await client.PostAsync("/v1/videos", form);
        var body = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!;
        var view = (await client.GetFromJsonAsync<VideoView>($"/v1/videos/{body.Id}", Json))!;
        Assert.Equal("Late title", view.Title);
        Assert.Equal(["a", "b"], view.Tags);
    }

    [Fact]
    public async Task Upload_RawVideoBody_IsAccepted()
    {
        using var client = await _api.ClientForAsync("acme");
        using var content = new ByteArrayContent(FakeVideos.Mp4Like(20_000, 3));
        content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        using var response = await client.PostAsync("/v1/videos?title=Raw&tags=x,y&filename=raw.mp4", content);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!;
        var view = (await client.GetFromJsonAsync<VideoView>($"/v1/videos/{body.Id}", Json))!;
        Assert.Equal("Raw", view.Title);
        Assert.Equal(["x", "y"], view.Tags);
    }

    [Fact]
    public async Task Upload_SameBytesTwice_ReturnsTheExistingVideoAsDuplicate()
    {
        using var client = await _api.ClientForAsync("acme");
        var bytes = FakeVideos.Mp4Like(100_000, 4);
        var first = await UploadAsync(client, bytes);
        var second = await UploadAsync(client, bytes);
        Assert.True(second.Duplicate);
        Assert.Equal(first.Id, second.Id);
        Assert.Single(Directory.GetFiles(Path.Combine(_api.DataDirectory, "blobs", "originals", "acme")));
        Assert.Single(_api.Harness.Published.Select<VideoUploaded>());

        using var other = await _api.ClientForAsync("other");
        var third = await UploadAsync(other, bytes);
        Assert.False(third.Duplicate);
        Assert.NotEqual(first.Id, third.Id);
    }

    [Fact]
    public async Task Upload_TextRenamedMp4_Is415AndStoresNothing()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = Multipart("just some text, not a video\n"u8.ToArray(), "fake.mp4");
        using var response = await client.PostAsync("/v1/videos", form);
        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType, "Not a video");
        AssertNoOriginals();
    }

    [Theory]
    [InlineData("a\u001b[31mred\r\nINFO forged.mp4", "Bad file name")]
    [InlineData("clip\u0000.mp4", "Bad file name")]
    [InlineData("clip\u202egpj.mp4", "Bad file name")]
    [InlineData("long", "File name too long")]
    public async Task Upload_UnsafeOrOverlongFileName_Is400AndStoresNothing(string name, string title)
    {
        using var client = await _api.ClientForAsync("acme");
        using var content = new ByteArrayContent(FakeVideos.Mp4Like(20_000, 6));
        content.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        string fileName = name == "long" ? new string('x', UploadService.MaxFileNameLength + 1) : name;
        using var response = await client.PostAsync("/v1/videos?filename=" + Uri.EscapeDataString(fileName), content);
        await AssertProblem(response, HttpStatusCode.BadRequest, title);
        AssertNoOriginals();
    }

    [Fact]
    public async Task Upload_TitleOverTheColumnSize_Is400()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = Multipart(FakeVideos.Mp4Like(20_000, 7), "clip.mp4", ("title", new string('t', UploadService.MaxTitleLength + 1)));
        using var response = await client.PostAsync("/v1/videos", form);
        await AssertProblem(response, HttpStatusCode.BadRequest, "Title too long");
    }

    [Fact]
    public async Task Upload_ZeroBytes_Is400()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = Multipart([], "empty.mp4");
        using var response = await client.PostAsync("/v1/videos", form);
        await AssertProblem(response, HttpStatusCode.BadRequest, "Empty upload");
        AssertNoOriginals();
    }

    [Fact]
    public async Task Upload_OverTheLimit_Is413AndLeavesNoFile()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = Multipart(FakeVideos.Mp4Like((4 << 20) + 10, 5), "big.mp4");
        using var response = await client.PostAsync("/v1/videos", form);
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "Video too large");
        AssertNoOriginals();
        Assert.Empty(_api.Harness.Published.Select<VideoUploaded>());
    }

    [Fact]
    public async Task Upload_WrongContentType_Is415()
    {
        using var client = await _api.ClientForAsync("acme");
        using var content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/v1/videos", content);
        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType, "Unsupported content type");
    }

    [Fact]
    public async Task Upload_MultipartWithoutFile_Is400()
    {
        using var client = await _api.ClientForAsync("acme");
        using var form = new MultipartFormDataContent { { new StringContent("t"), "title" } };
        using var response = await client.PostAsync("/v1/videos", form);
        await AssertProblem(response, HttpStatusCode.BadRequest, "No file");
    }

    [Fact]
    public async Task Videos_OfAnotherTenant_AreInvisible()
    {
        using var acme = await _api.ClientForAsync("acme");
        using var other = await _api.ClientForAsync("other");
        var uploaded = await UploadAsync(acme, FakeVideos.Mp4Like(5000, 6));
        using var response = await other.GetAsync($"/v1/videos/{uploaded.Id}");
        await AssertProblem(response, HttpStatusCode.NotFound, "Not found");
        var page = (await other.GetFromJsonAsync<VideoPage>("/v1/videos", Json))!;
        Assert.Equal(0, page.Total);
    }

    [Fact]
    public async Task List_PagesAndFiltersByState()
    {
        using var client = await _api.ClientForAsync("acme");
        for (int i = 0; i < 5; i++)
        {
            await UploadAsync(client, FakeVideos.Mp4Like(3000, 100 + i));
        }

        var page1 = (await client.GetFromJsonAsync<VideoPage>("/v1/videos?page=1&pageSize=2", Json))!;
        var page3 = (await client.GetFromJsonAsync<VideoPage>("/v1/videos?page=3&pageSize=2", Json))!;
        Assert.Equal(5, page1.Total);
        Assert.Equal(2, page1.Items.Count);
        Assert.Single(page3.Items);
        Assert.Equal(5, (await client.GetFromJsonAsync<VideoPage>("/v1/videos?state=Uploaded", Json))!.Total);
        Assert.Equal(0, (await client.GetFromJsonAsync<VideoPage>("/v1/videos?state=Indexed", Json))!.Total);
        using var bad = await client.GetAsync("/v1/videos?pageSize=0");
        await AssertProblem(bad, HttpStatusCode.BadRequest, "Bad paging");
    }

    [Fact]
    public async Task Requests_WithoutOrWithABadKey_Get401Problems()
    {
        using var anonymous = _api.CreateClient();
        using var none = await anonymous.GetAsync("/v1/videos");
        await AssertProblem(none, HttpStatusCode.Unauthorized, "Unauthorized");
        anonymous.DefaultRequestHeaders.Add("X-Api-Key", "lvk_not-a-real-key");
        using var bad = await anonymous.GetAsync("/v1/videos");
        await AssertProblem(bad, HttpStatusCode.Unauthorized, "Unauthorized");
    }

    [Fact]
    public async Task AdminKeys_CreateUseAndRevoke_AndTenantKeysGet403()
    {
        using var admin = await _api.ClientForAsync("admin", admin: true);
        using var created = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = "newco", name = "uploader" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<LiteVL.Storage.IssuedApiKey>(Json))!;
        Assert.StartsWith("lvk_", key.Key, StringComparison.Ordinal);

        using var tenant = _api.CreateClient();
        tenant.DefaultRequestHeaders.Add("X-Api-Key", key.Key);
        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync("/v1/videos")).StatusCode);
        using var forbidden = await tenant.PostAsJsonAsync("/v1/admin/keys", new { tenant = "x", name = "y" });
        await AssertProblem(forbidden, HttpStatusCode.Forbidden, "Forbidden");

        using var badTenant = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = "../x", name = "y" });
        await AssertProblem(badTenant, HttpStatusCode.BadRequest, "Invalid key request");

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/keys/{key.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("/v1/videos")).StatusCode);
        await AssertProblem(await admin.DeleteAsync($"/v1/admin/keys/{key.Id}"), HttpStatusCode.NotFound, "Not found");
    }

    public void Dispose() => _api.Dispose();

    private static MultipartFormDataContent Multipart(byte[] bytes, string fileName, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields)
        {
            form.Add(new StringContent(value), name);
        }

        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        form.Add(file, "file", fileName);
        return form;
    }

    private static async Task<UploadResponse> UploadAsync(HttpClient client, byte[] bytes)
    {
        using var form = Multipart(bytes, "v.mp4");
        using var response = await client.PostAsync("/v1/videos", form);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!;
    }

    private static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string title)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(title, doc.RootElement.GetProperty("title").GetString());
        Assert.Equal((int)status, doc.RootElement.GetProperty("status").GetInt32());
    }

    private void AssertNoOriginals()
    {
        string dir = Path.Combine(_api.DataDirectory, "blobs", "originals");
        Assert.True(!Directory.Exists(dir) || Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).ToList() is []);
    }
}
