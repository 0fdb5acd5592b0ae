using LiteVL.Media;

namespace LiteVL.FrameExtractor.Tests;

public class SegmentPlannerTests
{
    [Theory]
    [InlineData(0.5)]
    [InlineData(7.3)]
    [InlineData(10)]
    public void Short_video_is_one_segment(double duration)
    {
        var plan = SegmentPlanner.Plan(duration, 8, 10, 1);
        var s = Assert.Single(plan);
        Assert.Equal(0, s.Start);
        Assert.Equal(duration, s.End, 9);
        Assert.Equal(8, s.SampleTimes.Count);
    }

    [Fact]
    public void Long_video_is_cut_in_fixed_windows_with_a_shorter_last_one()
    {
        var plan = SegmentPlanner.Plan(25, 8, 10, 1);
        Assert.Equal([(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)], plan.Select(p => (p.Start, p.End)));
        Assert.Equal([0, 1, 2], plan.Select(p => p.Index));
    }

    [Fact]
    public void Exact_multiple_has_no_empty_tail()
    {
        var plan = SegmentPlanner.Plan(30, 4, 10, 1);
        Assert.Equal(3, plan.Count);
        Assert.Equal(30, plan[^1].End, 9);
    }

    [Theory]
    [InlineData(20.5, 2, 20.5)]   // 0.5 s tail merged into the second window
    [InlineData(20.999, 2, 20.999)]
    [InlineData(21, 3, 21)]       // a 1 s tail stays
    public void Tail_shorter_than_the_minimum_is_merged(double duration, int count, double lastEnd)
    {
        var plan = SegmentPlanner.Plan(duration, 8, 10, 1);
        Assert.Equal(count, plan.Count);
        Assert.Equal(lastEnd, plan[^1].End, 9);
        Assert.Equal((count - 1) * 10.0, plan[^1].Start, 9);
    }

    [Fact]
    public void Sample_times_are_uniform_midpoints()
    {
        var plan = SegmentPlanner.Plan(25, 4, 10, 1);
        Assert.Equal([1.25, 3.75, 6.25, 8.75], plan[0].SampleTimes);
        Assert.Equal([20.625, 21.875, 23.125, 24.375], plan[2].SampleTimes);
        Assert.Equal(22.5, plan[2].Middle);
    }

    [Fact]
    public void Windows_do_not_drift_on_long_videos()
    {
        var plan = SegmentPlanner.Plan(6 * 3600, 8, 10, 1);
        Assert.Equal(2160, plan.Count);
        Assert.Equal(21590, plan[^1].Start);
        Assert.All(plan.Zip(plan.Skip(1)), p => Assert.Equal(p.First.End, p.Second.Start));
    }

    [Fact]
    public void Select_expression_has_one_progression_per_run_of_equal_windows()
    {
        var plan = SegmentPlanner.Plan(6 * 3600 + 5, 8, 10, 1);
        var groups = SegmentPlanner.Progressions(plan, middleOnly: false);
        Assert.Equal(2, groups.Count);
        Assert.Equal((0.625, 1.25, 2160L * 8), groups[0]);
        Assert.Equal(8, groups[1].Count);
        Assert.True(SegmentPlanner.SelectExpression(plan, false).Length < 400);
        Assert.Equal((5.0, 10.0, 2160L), SegmentPlanner.Progressions(plan, middleOnly: true)[0]);
    }

    [Fact]
    public void Progressions_reproduce_every_sample_time()
    {
        var plan = SegmentPlanner.Plan(57.3, 8, 10, 1);
        var expanded = SegmentPlanner.Progressions(plan, false).SelectMany(g => Enumerable.Range(0, (int)g.Count).Select(j => g.Offset + (j * g.Step)));
        Assert.Equal(plan.SelectMany(p => p.SampleTimes), expanded, (a, b) => Math.Abs(a - b) < 1e-9);
    }

    [Theory]
    [InlineData(0, 8, 10, 1)]
    [InlineData(double.NaN, 8, 10, 1)]
    [InlineData(5, 0, 10, 1)]
    [InlineData(5, 8, 0, 0)]
    [InlineData(5, 8, 10, 10)]
    public void Bad_arguments_are_refused(double duration, int t, double w, double tail) =>
        Assert.ThrowsAny<ArgumentException>(() => SegmentPlanner.Plan(duration, t, w, tail));
}
