using System.Net;
using System.Text.Json;

namespace LiteVL.UploadApi.Tests;

public sealed class HealthTests : IDisposable
{
    private readonly UploadApiFactory _api = new();

    [Fact]
    public async Task Ready_ReportsDatabaseAndBlobStoreAsHealthy_AndNeedsNoKey()
    {
        using var client = _api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        using var ready = await client.GetAsync("/health/ready");
        string body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        using var doc = JsonDocument.Parse(body);
        var checks = doc.RootElement.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("blob-store").GetProperty("status").GetString());
        Assert.Equal("Healthy", doc.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_WithAnUnwritableBlobStore_IsUnhealthy()
    {
        using var client = _api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        string blobs = Path.Combine(_api.DataDirectory, "blobs");
        Directory.Delete(blobs, recursive: true);
        await File.WriteAllTextAsync(blobs, "a file where the blob directory should be");
        using var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var doc = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", doc.RootElement.GetProperty("checks").GetProperty("blob-store").GetProperty("status").GetString());
        File.Delete(blobs);
    }

    public void Dispose() => _api.Dispose();
}
