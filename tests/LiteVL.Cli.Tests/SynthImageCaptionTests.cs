using LiteVL.Media.Synth;

namespace LiteVL.Cli.Tests;

/// <summary>The still images of image-text pre-training say what one frame shows, including where the shape sits.</summary>
public sealed class SynthImageCaptionTests
{
    [Fact]
    public void ImageCaptions_NameTheShapes_AndTheirPlace_WhereTheyAreDrawn()
    {
        const int Size = 128;
        var plan = SynthPlanner.Plan(40, seed: 5, Size, images: 400);
        Assert.Equal(360, plan.Images.Count(i => i.Split == SynthSplit.Train));
        Assert.Equal(40, plan.Images.Count(i => i.Split == SynthSplit.Val));
        int placed = 0;
        foreach (var image in plan.Images)
        {
            string caption = image.Caption;
            var shapes = image.Scene.Shapes;
            Assert.All(image.Objects, o => Assert.Contains(o.ToString(), caption, StringComparison.Ordinal));
            if (shapes.Count == 2)
            {
                string firstPlace = shapes[0].X0 < shapes[1].X0 ? "on the left" : "on the right";
                Assert.StartsWith($"a {image.Objects[0]} {firstPlace} and a {image.Objects[1]} ", caption, StringComparison.Ordinal);
                continue;
            }

            double x = shapes[0].X0, y = shapes[0].Y0;
            if (caption.EndsWith("on the left", StringComparison.Ordinal))
            {
                Assert.True(x < Size / 3.0, $"{caption}: x = {x}");
            }
            else if (caption.EndsWith("on the right", StringComparison.Ordinal))
            {
                Assert.True(x > 2 * Size / 3.0, $"{caption}: x = {x}");
            }
            else if (caption.EndsWith("up at the top", StringComparison.Ordinal))
            {
                Assert.True(y < Size / 3.0, $"{caption}: y = {y}");
            }
            else if (caption.EndsWith("down at the bottom", StringComparison.Ordinal))
            {
                Assert.True(y > 2 * Size / 3.0, $"{caption}: y = {y}");
            }
            else
            {
                // No place named: the shape is in the middle third both ways.
                Assert.InRange(x, Size / 3.0, 2 * Size / 3.0);
                Assert.InRange(y, Size / 3.0, 2 * Size / 3.0);
                continue;
            }

            placed++;
        }

        Assert.True(placed > plan.Images.Count / 3, $"only {placed} of {plan.Images.Count} captions name a place");
    }
}
