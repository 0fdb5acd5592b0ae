namespace LiteVL.Storage.Entities;

/// <summary>Where a video is in the pipeline. The database state drives the pipeline; messages are triggers.</summary>
public enum VideoState
{
    /// <summary>Original stored; waiting for the frame extractor.</summary>
    Uploaded,

    Extracting,

    /// <summary>Frames and thumbnails stored; waiting for an encoder.</summary>
    Extracted,

    Encoding,

    /// <summary>video_tokens stored; waiting for the indexer.</summary>
    Encoded,

    Indexing,

    /// <summary>Every segment has one point in the vector index: searchable.</summary>
    Indexed,

    /// <summary>A stage gave up; <see cref="Video.FailureReason"/> says why.</summary>
    Failed,
}

public static class VideoStates
{
    public static bool IsTerminal(this VideoState state) => state is VideoState.Indexed or VideoState.Failed;
}
