using System.ComponentModel.DataAnnotations;

namespace LiteVL.Search;

/// <summary>Section <c>LiteVL:Search</c>.</summary>
public sealed class SearchOptions
{
    public const string Section = "LiteVL:Search";

    [Range(1, 100)]
    public int DefaultLimit { get; set; } = 10;

    [Range(1, 100)]
    public int MaxLimit { get; set; } = 100;

    /// <summary>Segments taken from the coarse search and re-ranked.</summary>
    [Range(1, 512)]
    public int DefaultCandidates { get; set; } = 32;

    [Range(1, 512)]
    public int MaxCandidates { get; set; } = 256;

    /// <summary>Longest query accepted at all; longer ones are refused (400). Within it, text past the tokenizer's 35 tokens is truncated with a warning.</summary>
    [Range(1, 100_000)]
    public int MaxQueryCharacters { get; set; } = 1000;

    /// <summary>Segments of one video shown in a hit.</summary>
    [Range(1, 100)]
    public int SegmentsPerVideo { get; set; } = 5;

    /// <summary>Size of the in-memory cache of candidates' video_tokens (float32), in MiB.</summary>
    [Range(0, 1_000_000)]
    public int TokenCacheMegabytes { get; set; } = 512;
}
