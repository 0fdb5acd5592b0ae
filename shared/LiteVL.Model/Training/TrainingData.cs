namespace LiteVL.Model.Training;

/// <summary>
/// One video of a training set: the frame files of its segments (uint8 [T,S,S,3] RGB each, as the platform's frame
/// extraction writes them, so the model is trained on exactly what ingestion feeds it).
/// </summary>
public sealed record TrainingClip(string Name, IReadOnlyList<string> SegmentFrameFiles)
{
    /// <summary>
    /// The clip's twin in the set (its hard negative: the time-reversed clip of <c>litevl data synth</c>), if any. The
    /// trainer puts an example of the twin in the same micro-batch, so each is in the other's contrastive negatives and
    /// among its ITM hard-negative candidates; without that, two clips that differ only in time rarely meet in a batch.
    /// </summary>
    public int? Twin { get; init; }
}

/// <summary>One (video, caption) line of the data set; <paramref name="Line"/> is its line number in the file.</summary>
public sealed record TrainingExample(int Line, int Clip, string Caption);

/// <summary>The usable part of a training set: its clips and examples (bad lines are reported and left out before).</summary>
public sealed record TrainingSet(IReadOnlyList<TrainingClip> Clips, IReadOnlyList<TrainingExample> Examples)
{
    private string[]? _cleaned;

    public int DistinctVideos => Examples.Select(e => e.Clip).Distinct().Count();

    /// <summary>
    /// Whether two examples are positives of each other: the same video (BLIP's retrieval fine-tuning: captions of one
    /// video), or the same caption after BLIP's cleaning. Two videos with one caption ("a red square", "a red square
    /// moves left") both match it, so neither is a negative for the other: ITC puts weight on both, and ITM never
    /// draws one as the other's hard negative.
    /// </summary>
    public bool Positive(int exampleA, int exampleB)
    {
        if (Examples[exampleA].Clip == Examples[exampleB].Clip)
        {
            return true;
        }

        _cleaned ??= Examples.Select(e => Text.BlipTokenizer.CleanCaption(e.Caption)).ToArray();
        return string.Equals(_cleaned[exampleA], _cleaned[exampleB], StringComparison.Ordinal);
    }
}
