using System.ComponentModel.DataAnnotations;

namespace LiteVL.UploadApi;

/// <summary>Section <c>LiteVL:Upload</c>.</summary>
public sealed class UploadOptions
{
    public const string Section = "LiteVL:Upload";

    /// <summary>Largest accepted video in bytes (default 4 GiB); larger uploads get 413.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 4L << 30;

    [Range(1, 200)]
    public int MaxTags { get; set; } = 32;
}
