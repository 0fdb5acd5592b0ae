using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using LiteVL.Media;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using LiteVL.UploadApi;
using Microsoft.Playwright;

namespace LiteVL.Dashboard.Tests;

/// <summary>
/// One embedded host process with a tenant "dash" and a few generated clips (one truncated, so it ends Failed), and one
/// headless Chromium (the system's /usr/bin/chromium; Playwright never downloads a browser here).
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string Tenant = "dash";
    public const string ChromiumPath = "/usr/bin/chromium";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly string _root = Directory.CreateTempSubdirectory("litevl-dashboard-").FullName;
    private IPlaywright? _playwright;
    private HostProcess? _host;

    /// <summary>Title → id of every upload.</summary>
    public Dictionary<string, Guid> Videos { get; } = new(StringComparer.Ordinal);

    public HostProcess Host => _host ?? throw new InvalidOperationException("not started");

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Client with the tenant's (non-admin) key.</summary>
    public HttpClient TenantApi { get; private set; } = null!;

    public string TenantKey { get; private set; } = string.Empty;

    public static (string Title, ClipSpec Spec)[] Clips { get; } =
    [
        ("A box moving across the frame", new ClipSpec(ClipSource.MovingBox, 12, 320, 180, 25, ClipCodec.H264, "mp4", false)),
        ("Test pattern", new ClipSpec(ClipSource.TestSrc2, 4, 320, 240, 25, ClipCodec.H264, "mp4", false)),
        ("A plain blue screen", new ClipSpec(ClipSource.Color, 3, 160, 160, 24, ClipCodec.H264, "mp4", false, "blue")),
        ("Colonies to delete", new ClipSpec(ClipSource.Life, 3, 160, 120, 10, ClipCodec.H264, "mp4", false)),
    ];

    public const string TruncatedTitle = "truncated upload";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: apt-get install -y chromium (./tests/run.sh installs it).");
        }

        string clipsDir = Path.Combine(_root, "clips");
        var files = new List<(string Title, string Path)>();
        using (var clips = new SampleClips())
        {
            foreach (var (title, spec) in Clips)
            {
                files.Add((title, await clips.GenerateAsync(spec, Path.Combine(clipsDir, spec.FileName))));
            }

            files.Add((TruncatedTitle, await clips.MakeTruncatedMp4Async(Path.Combine(clipsDir, "truncated.mp4"))));
        }

        // The random tiny model, not the shipped one: the scaling chart test checks a tiny model's two layers of random α.
        _host = await HostProcess.StartAsync(Path.Combine(_root, "data"), new Dictionary<string, string>
        {
            ["LiteVL__Encoder__Heartbeat__Interval"] = "00:00:01",
            ["LiteVL__Embedded__Model"] = "tiny",
        });
        using (var admin = AdminApi())
        {
            using var created = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = Tenant, name = "dashboard tests" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            using var doc = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
            TenantKey = doc.RootElement.GetProperty("key").GetString()!;
        }

        TenantApi = Client(TenantKey);
        foreach (var (title, path) in files)
        {
            using var form = new MultipartFormDataContent();
            form.Add(new StringContent(title), "title");
            var file = new StreamContent(File.OpenRead(path));
            file.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
            form.Add(file, "file", Path.GetFileName(path));
            using var response = await TenantApi.PostAsync(new Uri("/v1/videos", UriKind.Relative), form);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"upload of {title}: {(int)response.StatusCode}");
            Videos[title] = (await response.Content.ReadFromJsonAsync<UploadResponse>(Json))!.Id;
        }

        foreach (var id in Videos.Values)
        {
            await WaitForAsync(id, v => v.State.IsTerminal(), TimeSpan.FromMinutes(3));
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        Assertions.SetDefaultExpectTimeout(20_000);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        TenantApi?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    public HttpClient AdminApi() => Client(Host.AdminKey);

    public HttpClient Client(string? key)
    {
        var client = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromMinutes(1) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    public async Task<VideoView> VideoAsync(Guid id) =>
        (await TenantApi.GetFromJsonAsync<VideoView>(new Uri($"/v1/videos/{id}", UriKind.Relative), Json))!;

    /// <summary>Every video of the tenant as the Upload API lists it, with its full view.</summary>
    public async Task<List<VideoView>> AllVideosAsync()
    {
        var page = (await TenantApi.GetFromJsonAsync<VideoPage>(new Uri("/v1/videos?pageSize=500", UriKind.Relative), Json))!;
        var views = new List<VideoView>();
        foreach (var item in page.Items)
        {
            views.Add(await VideoAsync(item.Id));
        }

        return views;
    }

    public async Task<VideoView> WaitForAsync(Guid id, Func<VideoView, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var view = await VideoAsync(id);
            if (done(view))
            {
                return view;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"video {id} is still {view.State}.\n{Host.Tail()}");
            }

            await Task.Delay(300);
        }
    }

    /// <summary>A fresh browser context (own sessionStorage) on the dashboard, signed in with the admin key.</summary>
    public async Task<(IBrowserContext Context, IPage Page)> SignedInPageAsync(string route = "#/overview")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(Host.BaseAddress, "/admin" + route).ToString());
        await page.Locator("#login-key").FillAsync(Host.AdminKey);
        await page.Locator("#login-form button").ClickAsync();
        await Assertions.Expect(page.Locator("#nav")).ToBeVisibleAsync();
        return (context, page);
    }

    /// <summary>
    /// Saves a full-page PNG under the test output's screenshots/ folder and, when LITEVL_SCREENSHOTS names a folder
    /// (relative to the repository root, e.g. docs/screenshots), there too.
    /// </summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        ArgumentNullException.ThrowIfNull(page);
        byte[] png = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true, Type = ScreenshotType.Png });
        string local = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(local);
        await File.WriteAllBytesAsync(Path.Combine(local, name + ".png"), png);
        if (Environment.GetEnvironmentVariable("LITEVL_SCREENSHOTS") is { Length: > 0 } target)
        {
            string dir = Path.IsPathRooted(target) ? target : Path.Combine(RepositoryRoot.Path, target);
            Directory.CreateDirectory(dir);
            await File.WriteAllBytesAsync(Path.Combine(dir, name + ".png"), png);
        }
    }
}
