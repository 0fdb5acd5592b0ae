using System.Net.Http.Headers;
using LiteVL.Storage;
using MassTransit;
using MassTransit.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.UploadApi.Tests;

/// <summary>The Upload API over SQLite in a temp directory, with MassTransit's in-memory test harness as the bus.</summary>
public sealed class UploadApiFactory : WebApplicationFactory<Program>
{
    public UploadApiFactory()
    {
        DataDirectory = Directory.CreateTempSubdirectory("litevl-upload-").FullName;
    }

    public string DataDirectory { get; }

    public long MaxBytes { get; init; } = 64L << 20;

    public ITestHarness Harness => Services.GetTestHarness();

    /// <summary>An HTTP client with a fresh key of <paramref name="tenant"/>.</summary>
    public async Task<HttpClient> ClientForAsync(string tenant, bool admin = false)
    {
        await using var scope = Services.CreateAsyncScope();
        var issued = await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(tenant, "test", admin);
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issued.Key);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("LiteVL:Storage:DataDirectory", DataDirectory);
        builder.UseSetting("LiteVL:Upload:MaxBytes", MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.ConfigureTestServices(services => services.AddMassTransitTestHarness());
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}

internal static class FakeVideos
{
    /// <summary>Bytes that start like an MP4 (ftyp box) followed by deterministic noise; enough for the Upload API, which only sniffs.</summary>
    public static byte[] Mp4Like(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        byte[] head = [0, 0, 0, 0x20, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'i', (byte)'s', (byte)'o', (byte)'m'];
        head.CopyTo(bytes, 0);
        return bytes;
    }
}
