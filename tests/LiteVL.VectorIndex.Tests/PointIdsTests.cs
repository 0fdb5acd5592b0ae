namespace LiteVL.VectorIndex.Tests;

public sealed class PointIdsTests
{
    [Fact]
    public void Name_based_ids_are_RFC_UUIDv5()
    {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") (the example of Python's documentation).
        var dns = new Guid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        Assert.Equal(new Guid("886313e1-3b8a-5372-9b90-0c9aee199e5d"), PointIds.NameBased(dns, "python.org"));
    }

    [Fact]
    public void Point_ids_are_deterministic_and_distinct_per_video_segment_and_version()
    {
        var video = new Guid("0f8fad5b-d9cb-469f-a165-70867728950e");
        var id = PointIds.For(video, 3, "v1");
        Assert.Equal(id, PointIds.For(video, 3, "v1"));
        Assert.Equal(PointIds.NameBased(PointIds.Namespace, "0f8fad5b-d9cb-469f-a165-70867728950e/3/v1"), id);
        Assert.Equal(5, id.Version);
        Assert.NotEqual(id, PointIds.For(video, 4, "v1"));
        Assert.NotEqual(id, PointIds.For(video, 3, "v2"));
        Assert.NotEqual(id, PointIds.For(Guid.NewGuid(), 3, "v1"));
        Assert.Throws<ArgumentException>(() => PointIds.For(video, 3, ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => PointIds.For(video, -1, "v1"));
    }
}
