namespace LiteVL.UploadApi;

/// <summary>
/// Recognises video containers by their first bytes, so a text file renamed .mp4 is refused (415) before anything is
/// stored. It only decides "could be a video"; ffprobe decides whether it really is one.
/// </summary>
public static class VideoSniffer
{
    /// <summary>How many leading bytes <see cref="LooksLikeVideo"/> wants (fewer is fine for short files).</summary>
    public const int HeaderBytes = 192;

    public static bool LooksLikeVideo(ReadOnlySpan<byte> head, out string container)
    {
        container = head switch
        {
            _ when head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8) => "mp4/mov",
            [0x1A, 0x45, 0xDF, 0xA3, ..] => "matroska/webm",
            _ when head.Length >= 12 && head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("AVI "u8) => "avi",
            [0x47, ..] when head.Length >= 189 && head[188] == 0x47 => "mpeg-ts",
            [0x00, 0x00, 0x01, 0xBA, ..] => "mpeg-ps",
            [0x46, 0x4C, 0x56, 0x01, ..] => "flv",
            [0x4F, 0x67, 0x67, 0x53, ..] => "ogg",
            [0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, ..] => "asf/wmv",
            _ when head.Length >= 10 && head[..10].SequenceEqual("YUV4MPEG2 "u8) => "y4m",
            _ when head.Length >= 8 && (head[4..8].SequenceEqual("moov"u8) || head[4..8].SequenceEqual("mdat"u8) || head[4..8].SequenceEqual("wide"u8) || head[4..8].SequenceEqual("free"u8)) => "quicktime",
            _ => string.Empty,
        };
        return container.Length > 0;
    }
}
