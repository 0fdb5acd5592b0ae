using LiteVL.Storage.Blobs;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace LiteVL.Search;

/// <summary>
/// An in-memory LRU cache of segments' <c>video_tokens</c> in front of the feature store (MemoryCache with a size limit,
/// evicting the least recently used). The key carries the model version and the video's last state change, so tokens
/// of a re-encoded or re-indexed video are never served from an older entry, and a deleted video is filtered out
/// before its key is ever asked for.
/// </summary>
public sealed class TokenCache : IDisposable
{
    private readonly FeatureStore _features;
    private readonly MemoryCache _cache;

    public TokenCache(FeatureStore features, IOptions<SearchOptions> options)
    {
        _features = features;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, (long)options.Value.TokenCacheMegabytes << 20), CompactionPercentage = 0.2 });
    }

    private long _hits;
    private long _misses;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Copies a segment's tokens into <paramref name="destination"/>.</summary>
    public async Task ReadAsync(TokenKey key, Memory<float> destination, int frames, int tokensPerFrame, int width, CancellationToken ct)
    {
        if (_cache.TryGetValue(key, out float[]? cached) && cached is not null)
        {
            Interlocked.Increment(ref _hits);
            cached.CopyTo(destination);
            return;
        }

        Interlocked.Increment(ref _misses);
        var tokens = new float[destination.Length];
        await _features.ReadAsync(key.BlobKey, tokens, frames, tokensPerFrame, width, ct).ConfigureAwait(false);
        _cache.Set(key, tokens, new MemoryCacheEntryOptions { Size = (long)tokens.Length * sizeof(float) });
        tokens.CopyTo(destination);
    }

    public void Dispose() => _cache.Dispose();
}

/// <summary>Identity of a segment's tokens: blob key (video, model version, segment) and the video's generation.</summary>
public sealed record TokenKey(string BlobKey, long Generation);
