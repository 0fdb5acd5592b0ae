namespace LiteVL.Model.Training;

/// <summary>
/// One video of a training set: the frame files of its segments (uint8 [T,S,S,3] RGB each, as the platform's frame
/// extraction writes them, so the model is trained on exactly what ingestion feeds it).
/// </summary>
public sealed record TrainingClip(string Name, IReadOnlyList<string> SegmentFrameFiles);

/// <summary>One (video, caption) line of the data set; <paramref name="Line"/> is its line number in the file.</summary>
public sealed record TrainingExample(int Line, int Clip, string Caption);

/// <summary>The usable part of a training set: its clips and examples (bad lines are reported and left out before).</summary>
public sealed record TrainingSet(IReadOnlyList<TrainingClip> Clips, IReadOnlyList<TrainingExample> Examples)
{
    public int DistinctVideos => Examples.Select(e => e.Clip).Distinct().Count();
}
