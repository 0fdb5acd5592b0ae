using LiteVL.Model.Training;

namespace LiteVL.Model.Tests.Training;

public sealed class PositivesTests
{
    [Fact]
    public void Positives_AreCaptionsOfOneVideo_OrOneCaptionAfterBlipCleaning()
    {
        var set = new TrainingSet(
            [new TrainingClip("a.mp4", ["a.rgb"]), new TrainingClip("b.mp4", ["b.rgb"]), new TrainingClip("c.mp4", ["c.rgb"])],
            [
                new TrainingExample(1, 0, "a red square moves left"),
                new TrainingExample(2, 0, "the red square moves to the left"),
                new TrainingExample(3, 1, "A red square  moves LEFT."),
                new TrainingExample(4, 2, "a red square moves right"),
            ]);
        Assert.True(set.Positive(0, 1));          // same video
        Assert.True(set.Positive(0, 2));          // same caption once cleaned (case, spaces, punctuation)
        Assert.True(set.Positive(2, 0));
        Assert.False(set.Positive(1, 2));         // different video, different wording
        Assert.False(set.Positive(0, 3));         // the time-reversed caption is a negative
        Assert.True(set.Positive(3, 3));
    }
}
