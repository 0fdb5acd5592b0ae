using System.IO.Compression;
using LiteVL.Cli.Ingest;

namespace LiteVL.Cli.Tests.Ingest;

public sealed class CollectorAndManifestTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Folder_IsRecursive_AndFilteredByExtension()
    {
        _dir.File("v/a.mp4");
        _dir.File("v/sub/b.MKV");
        _dir.File("v/sub/deeper/c.webm");
        _dir.File("v/notes.txt");

        using var plan = new PathCollector().Collect([Path.Combine(_dir.Root, "v")]);
        Assert.Equal(["a", "b", "c"], plan.Items.Select(i => i.Title).Order(StringComparer.Ordinal));

        using var only = new PathCollector(["mkv"]).Collect([Path.Combine(_dir.Root, "v")]);
        Assert.Equal("b", Assert.Single(only.Items).Title);
    }

    [Fact]
    public void MissingPath_IsALocalRejection_AndGlobalTagsApply()
    {
        string file = _dir.File("x.mov");
        using var plan = new PathCollector(tags: ["sea", "sand"]).Collect([file, file, Path.Combine(_dir.Root, "nope.mp4")]);
        var item = Assert.Single(plan.Items);
        Assert.Equal(["sea", "sand"], item.Tags);
        Assert.Equal("no such file or folder", Assert.Single(plan.Rejections).Reason);
    }

    [Fact]
    public void Csv_Manifest_GivesTitlesAndTags_RelativeToItsFolder()
    {
        _dir.File("m/clips/beach.mp4");
        _dir.File("m/clips/city.mp4");
        string manifest = _dir.File("m/list.csv",
            "path,title,tags\n" +
            "clips/beach.mp4,\"Beach, at dawn\",sea;sand\n" +
            "clips/city.mp4,City \"night\",urban|night\n" +
            "\n" +
            "clips/missing.mp4,Gone,\n");

        using var plan = new PathCollector(tags: ["batch1"]).Collect([manifest]);

        Assert.Equal(2, plan.Items.Count);
        Assert.Equal("Beach, at dawn", plan.Items[0].Title);
        Assert.Equal(["batch1", "sea", "sand"], plan.Items[0].Tags);
        Assert.Equal(Path.Combine(_dir.Root, "m", "clips", "beach.mp4"), plan.Items[0].Path);
        Assert.Equal(["batch1", "urban", "night"], plan.Items[1].Tags);
        var missing = Assert.Single(plan.Rejections);
        Assert.Contains("list.csv:5", missing.Source, StringComparison.Ordinal);
        Assert.Equal("no such file", missing.Reason);
    }

    [Fact]
    public void Jsonl_Manifest_IsRead_AndMalformedLinesNameTheLine()
    {
        var rows = ManifestReader.ReadJsonLines(new StringReader(
            "{\"path\":\"a.mp4\",\"title\":\"A\",\"tags\":[\"x\",\"y\"]}\n\n{\"path\":\"b.mp4\"}\n"), "m.jsonl");
        Assert.Equal(2, rows.Count);
        Assert.Equal(["x", "y"], rows[0].Tags);
        Assert.Null(rows[1].Title);
        Assert.Equal(3, rows[1].Line);

        var e = Assert.Throws<InvalidDataException>(() => ManifestReader.ReadJsonLines(new StringReader("{\"path\":\"a.mp4\"}\n{\"title\":\"no path\"}"), "m.jsonl"));
        Assert.StartsWith("m.jsonl:2:", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => ManifestReader.ReadCsv(new StringReader("file,name\nx.mp4,X"), "m.csv"));
    }

    [Fact]
    public void Archive_IsExtractedToATempFolder_DeletedWithThePlan()
    {
        string zipPath = Path.Combine(_dir.Root, "clips.zip");
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            using (var w = new StreamWriter(zip.CreateEntry("in/one.mp4").Open())) w.Write("one");
            using (var w = new StreamWriter(zip.CreateEntry("../slip.mp4").Open())) w.Write("slip");
            using (var w = new StreamWriter(zip.CreateEntry("readme.txt").Open())) w.Write("ignored");
        }

        string temp;
        using (var plan = new PathCollector().Collect([zipPath]))
        {
            var item = Assert.Single(plan.Items);
            Assert.Equal("one", item.Title);
            Assert.EndsWith("clips.zip!in/one.mp4", item.Source, StringComparison.Ordinal);
            Assert.Contains("zip-slip", Assert.Single(plan.Rejections).Reason, StringComparison.Ordinal);
            temp = Assert.Single(plan.TempDirectories);
            Assert.True(File.Exists(item.Path));
        }

        Assert.False(Directory.Exists(temp));
    }

    [Fact]
    public void State_RoundTrips_PerServer_AndDefaultsNextToTheInput()
    {
        string path = Path.Combine(_dir.Root, IngestState.DefaultFileName);
        var state = IngestState.Load(path);
        state.Record("http://a:8080/", "abc", "id-1");
        state.Record("http://b:8080", "abc", "id-2");

        var again = IngestState.Load(path);
        Assert.True(again.TryGet("HTTP://A:8080", "abc", out string id));
        Assert.Equal("id-1", id);
        Assert.True(again.TryGet("http://b:8080", "abc", out id));
        Assert.Equal("id-2", id);
        Assert.False(again.TryGet("http://c:8080", "abc", out _));

        Directory.CreateDirectory(Path.Combine(_dir.Root, "folder"));
        Assert.Equal(Path.Combine(_dir.Root, "folder", IngestState.DefaultFileName), IngestState.DefaultLocation([Path.Combine(_dir.Root, "folder")]));
        Assert.Equal(Path.Combine(_dir.Root, IngestState.DefaultFileName), IngestState.DefaultLocation([_dir.File("list.csv", "path\n")]));

        File.WriteAllText(path, "not json");
        Assert.Throws<InvalidDataException>(() => IngestState.Load(path));
    }
}
