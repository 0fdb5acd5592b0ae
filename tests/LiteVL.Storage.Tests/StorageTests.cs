using LiteVL.Storage;
using LiteVL.Storage.Blobs;
using LiteVL.Storage.Entities;
using LiteVL.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LiteVL.Storage.Tests;

public sealed class StorageTests
{
    [SkippableTheory]
    [Providers]
    public async Task Migrations_ApplyAndRoundTripAVideoWithSegmentsAndLists(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        var id = Guid.NewGuid();
        await using (var scope = database.Scope())
        {
            var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
            await keys.CreateAsync("acme", "ingest");
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            var now = DateTime.UtcNow;
            db.Videos.Add(new Video
            {
                Id = id,
                TenantId = "acme",
                Sha256 = new string('a', 64),
                Tags = ["cats", "outdoor"],
                State = VideoState.Extracted,
                CreatedAt = now,
                UpdatedAt = now,
                StateChangedAt = now,
                Segments = [new Segment { Index = 0, StartSeconds = 0, EndSeconds = 4.5, FramesKey = "f", ThumbnailKey = "t", FrameTimes = [0.28, 0.84] }],
            });
            await db.SaveChangesAsync();
        }

        await using (var scope = database.Scope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
            var video = await db.Videos.Include(v => v.Segments).SingleAsync(v => v.Id == id);
            Assert.Equal(["cats", "outdoor"], video.Tags);
            Assert.Equal(VideoState.Extracted, video.State);
            Assert.Equal([0.28, 0.84], Assert.Single(video.Segments).FrameTimes);
            Assert.Equal(1, await db.Videos.CountAsync(v => v.Tags.Contains("cats")));
        }
    }

    [SkippableTheory]
    [Providers]
    public async Task Videos_SameTenantAndHash_AreRejectedByTheUniqueIndex(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        await using var scope = database.Scope();
        await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("acme", "k");
        await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("other", "k");
        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        string hash = new('b', 64);
        Video Make(string tenant) => new() { Id = Guid.NewGuid(), TenantId = tenant, Sha256 = hash, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow, StateChangedAt = DateTime.UtcNow };
        db.Videos.Add(Make("acme"));
        db.Videos.Add(Make("other")); // same bytes, other tenant: allowed
        await db.SaveChangesAsync();
        db.Videos.Add(Make("acme"));
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
    }

    [SkippableTheory]
    [Providers]
    public async Task ApiKeys_AuthenticateUntilRevoked_AndStoreOnlyAHash(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        await using var scope = database.Scope();
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        var issued = await keys.CreateAsync("acme", "uploader");
        var admin = await keys.CreateAsync(ApiKeyService.AdminTenant, "root", isAdmin: true);

        Assert.Equal(new Caller(issued.Id, "acme", false), await keys.AuthenticateAsync(issued.Key));
        Assert.True((await keys.AuthenticateAsync(admin.Key))!.IsAdmin);
        Assert.Null(await keys.AuthenticateAsync(issued.Key + "x"));
        Assert.Null(await keys.AuthenticateAsync("not-a-key"));

        var db = scope.ServiceProvider.GetRequiredService<LiteVLDbContext>();
        var stored = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == issued.Id);
        Assert.NotEqual(issued.Key, stored.KeyHash);
        Assert.Equal(ApiKeyService.Hash(issued.Key), stored.KeyHash);
        Assert.DoesNotContain(issued.Key, await db.ApiKeys.Select(k => k.KeyHash + k.Prefix + k.Name).ToListAsync());

        Assert.True(await keys.RevokeAsync(issued.Id));
        Assert.False(await keys.RevokeAsync(issued.Id));
        Assert.Null(await keys.AuthenticateAsync(issued.Key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("../etc")]
    public async Task ApiKeys_InvalidTenant_IsRejected(string tenant)
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await using var scope = database.Scope();
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        await Assert.ThrowsAsync<ArgumentException>(() => keys.CreateAsync(tenant, "k"));
    }
}

public sealed class BlobStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("litevl-blobs-").FullName;

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("a/../../b")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    [InlineData("")]
    public void Keys_ThatCouldEscapeTheRoot_AreRejected(string key)
    {
        var store = new DirectoryBlobStore(_root);
        Assert.Throws<ArgumentException>(() => store.LocalPath(key));
    }

    [Fact]
    public async Task PendingBlob_IsInvisibleUntilCommitted_AndRemovedWhenAbandoned()
    {
        var store = new DirectoryBlobStore(_root);
        await using (var pending = store.BeginWrite("originals/acme/v1"))
        {
            await pending.Stream.WriteAsync(new byte[] { 1, 2, 3 });
            Assert.False(store.Exists("originals/acme/v1"));
        }

        Assert.False(store.Exists("originals/acme/v1"));
        Assert.Empty(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));

        await using (var pending = store.BeginWrite("originals/acme/v1"))
        {
            await pending.Stream.WriteAsync(new byte[] { 1, 2, 3 });
            await pending.CommitAsync();
        }

        Assert.Equal(3, store.Length("originals/acme/v1"));
        Assert.Single(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Delete_Prefix_RemovesEverythingBelowIt()
    {
        var store = new DirectoryBlobStore(_root);
        var video = Guid.NewGuid();
        for (int i = 0; i < 3; i++)
        {
            await store.WriteAsync(BlobKeys.Frames(video, i), (s, ct) => s.WriteAsync(new byte[] { 7 }, ct).AsTask());
        }

        await store.WriteAsync(BlobKeys.Frames(Guid.NewGuid(), 0), (s, ct) => s.WriteAsync(new byte[] { 7 }, ct).AsTask());
        Assert.Equal(3, store.Delete(BlobKeys.FramesPrefix(video)));
        Assert.Single(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task FeatureStore_RoundTripsTokensAsFp16_AndChecksTheShape()
    {
        var store = new FeatureStore(new DirectoryBlobStore(_root));
        var tokens = Enumerable.Range(0, 2 * 3 * 4).Select(i => (float)Math.Sin(i) * 3).ToArray();
        await store.WriteAsync("features/x/v/00000.f16", tokens, 2, 3, 4);
        var back = new float[tokens.Length];
        await store.ReadAsync("features/x/v/00000.f16", back, 2, 3, 4);
        for (int i = 0; i < tokens.Length; i++)
        {
            Assert.Equal((float)(Half)tokens[i], back[i]);
            Assert.True(Math.Abs(tokens[i] - back[i]) < 2e-3);
        }

        Assert.Equal(20 + (tokens.Length * 2), new FileInfo(Path.Combine(_root, "features/x/v/00000.f16")).Length);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync("features/x/v/00000.f16", new float[24], 2, 4, 3));
        Assert.Contains("[2, 3, 4]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FeatureStore_ReadsEachFramesClsTokenAlone_AndChecksTheShape()
    {
        var store = new FeatureStore(new DirectoryBlobStore(_root));
        const int frames = 3, perFrame = 5, width = 4;
        var tokens = Enumerable.Range(0, frames * perFrame * width).Select(i => (float)Math.Cos(i) * 2).ToArray();
        await store.WriteAsync("features/x/v/00001.f16", tokens, frames, perFrame, width);
        var cls = new float[frames * width];
        await store.ReadFrameClsAsync("features/x/v/00001.f16", cls, frames, perFrame, width);
        for (int t = 0; t < frames; t++)
        {
            for (int j = 0; j < width; j++)
            {
                Assert.Equal((float)(Half)tokens[(t * perFrame * width) + j], cls[(t * width) + j]);
            }
        }

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadFrameClsAsync("features/x/v/00001.f16", new float[frames * width], frames, perFrame + 1, width));
        Assert.Contains("[3, 5, 4]", e.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
