using System.Formats.Tar;
using System.IO.Compression;
using LiteVL.Cli.Ingest;

namespace LiteVL.Cli.Tests.Ingest;

public sealed class ArchiveSafetyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static bool Any(string _) => true;

    private string Zip(string name, Action<ZipArchive> fill)
    {
        string path = Path.Combine(_dir.Root, name);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            fill(zip);
        }

        return path;
    }

    private static void Add(ZipArchive zip, string name, string content, CompressionLevel level = CompressionLevel.Optimal)
    {
        var entry = zip.CreateEntry(name, level);
        using var w = new StreamWriter(entry.Open());
        w.Write(content);
    }

    private static void AddZeros(ZipArchive zip, string name, long bytes)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.SmallestSize);
        using var s = entry.Open();
        byte[] block = new byte[1 << 20];
        for (long done = 0; done < bytes; done += block.Length) s.Write(block, 0, (int)Math.Min(block.Length, bytes - done));
    }

    [Fact]
    public void Zip_ExtractsNormalEntries_AndRejectsSlipAbsoluteDriveAndSymlink()
    {
        string zipPath = Zip("mixed.zip", zip =>
        {
            Add(zip, "clips/a.mp4", "aaa");
            Add(zip, "b.mkv", "bbb");
            Add(zip, "../evil.mp4", "evil");
            Add(zip, "clips/../../evil2.mp4", "evil");
            Add(zip, "/abs.mp4", "abs");
            Add(zip, "C:/windows.mp4", "drive");
            var link = zip.CreateEntry("link.mp4");
            link.ExternalAttributes = unchecked((int)(0xA1FFu << 16));
            using (var w = new StreamWriter(link.Open())) w.Write("/etc/passwd");
        });
        string target = Path.Combine(_dir.Root, "out");

        var result = ArchiveExtractor.Extract(zipPath, target, new ArchiveLimits(), Any);

        Assert.Equal(["b.mkv", "clips/a.mp4"], result.Extracted.Select(e => e.EntryName).Order(StringComparer.Ordinal));
        Assert.Equal("aaa", File.ReadAllText(Path.Combine(target, "clips", "a.mp4")));
        var reasons = result.Rejected.ToDictionary(r => r.Source[(zipPath.Length + 1)..], r => r.Reason);
        Assert.Contains("zip-slip", reasons["../evil.mp4"], StringComparison.Ordinal);
        Assert.Contains("zip-slip", reasons["clips/../../evil2.mp4"], StringComparison.Ordinal);
        Assert.Equal("absolute path", reasons["/abs.mp4"]);
        Assert.Contains("drive letter", reasons["C:/windows.mp4"], StringComparison.Ordinal);
        Assert.Equal("symbolic link", reasons["link.mp4"]);
        Assert.False(File.Exists(Path.Combine(_dir.Root, "evil.mp4")));
        Assert.False(File.Exists(Path.Combine(_dir.Root, "evil2.mp4")));
        Assert.Equal(2, Directory.GetFiles(target, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void Zip_BombLikeEntry_OfFiftyMegabytesOfZeros_IsRejectedAndNotWritten()
    {
        string zipPath = Zip("bomb.zip", zip =>
        {
            AddZeros(zip, "zeros.mp4", 50L * 1024 * 1024);
            Add(zip, "fine.mp4", "fine");
        });
        Assert.True(new FileInfo(zipPath).Length < 1024 * 1024);
        string target = Path.Combine(_dir.Root, "out");

        var result = ArchiveExtractor.Extract(zipPath, target, new ArchiveLimits(), Any);

        var rejected = Assert.Single(result.Rejected);
        Assert.EndsWith("!zeros.mp4", rejected.Source, StringComparison.Ordinal);
        Assert.Contains("zip bomb", rejected.Reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(target, "zeros.mp4")));
        Assert.Equal("fine.mp4", Assert.Single(result.Extracted).EntryName);
    }

    [Fact]
    public void Zip_TotalCapAndEntryCap_AreEnforced()
    {
        string zipPath = Zip("many.zip", zip =>
        {
            for (int i = 0; i < 5; i++) Add(zip, $"v{i}.mp4", new string('x', 1000), CompressionLevel.NoCompression);
        });

        var capped = ArchiveExtractor.Extract(zipPath, Path.Combine(_dir.Root, "a"), new ArchiveLimits { MaxTotalBytes = 2500 }, Any);
        Assert.Equal(2, capped.Extracted.Count);
        Assert.Equal(3, capped.Rejected.Count);
        Assert.All(capped.Rejected, r => Assert.Contains("total cap", r.Reason, StringComparison.Ordinal));

        var few = ArchiveExtractor.Extract(zipPath, Path.Combine(_dir.Root, "b"), new ArchiveLimits { MaxEntries = 3 }, Any);
        Assert.Equal(3, few.Extracted.Count);
        Assert.Contains("too many entries", Assert.Single(few.Rejected).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Tar_RejectsSymlinkHardLinkDeviceAndSlip_ExtractsRegularFiles()
    {
        string tarPath = Path.Combine(_dir.Root, "mixed.tar");
        using (var file = File.Create(tarPath))
        using (var tar = new TarWriter(file, TarEntryFormat.Pax))
        {
            tar.WriteEntry(Regular("ok/clip.mp4", "clip"));
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link.mp4") { LinkName = "/etc/passwd" });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "hard.mp4") { LinkName = "ok/clip.mp4" });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev.mp4") { DeviceMajor = 1, DeviceMinor = 3 });
            tar.WriteEntry(Regular("../../up.mp4", "up"));
            tar.WriteEntry(Regular("/etc/abs.mp4", "abs"));
        }

        string target = Path.Combine(_dir.Root, "out");
        var result = ArchiveExtractor.Extract(tarPath, target, new ArchiveLimits(), Any);

        Assert.Equal("ok/clip.mp4", Assert.Single(result.Extracted).EntryName);
        var reasons = result.Rejected.ToDictionary(r => r.Source[(tarPath.Length + 1)..], r => r.Reason);
        Assert.StartsWith("symbolic link", reasons["link.mp4"], StringComparison.Ordinal);
        Assert.StartsWith("hard link", reasons["hard.mp4"], StringComparison.Ordinal);
        Assert.Equal("device file", reasons["dev.mp4"]);
        Assert.Contains("zip-slip", reasons["../../up.mp4"], StringComparison.Ordinal);
        Assert.Equal("absolute path", reasons["/etc/abs.mp4"]);
        Assert.False(File.Exists(Path.Combine(_dir.Root, "..", "up.mp4")));
        Assert.Single(Directory.GetFiles(target, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void TarGz_BombLikeEntry_IsStoppedWhileStreaming()
    {
        string path = Path.Combine(_dir.Root, "bomb.tar.gz");
        using (var file = File.Create(path))
        using (var gz = new GZipStream(file, CompressionLevel.SmallestSize))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            var zeros = new PaxTarEntry(TarEntryType.RegularFile, "zeros.mp4") { DataStream = new MemoryStream(new byte[50 * 1024 * 1024]) };
            tar.WriteEntry(zeros);
            tar.WriteEntry(Regular("fine.mp4", "fine"));
        }

        string target = Path.Combine(_dir.Root, "out");
        var result = ArchiveExtractor.Extract(path, target, new ArchiveLimits(), Any);

        Assert.Contains("compression bomb", Assert.Single(result.Rejected).Reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(target, "zeros.mp4")));
        Assert.Equal("fine.mp4", Assert.Single(result.Extracted).EntryName);
    }

    [Fact]
    public void Tgz_NormalEntries_AreExtractedAndFilteredByTheWantedPredicate()
    {
        string path = Path.Combine(_dir.Root, "clips.tgz");
        using (var file = File.Create(path))
        using (var gz = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Ustar))
        {
            tar.WriteEntry(Regular("a/one.mp4", "one"));
            tar.WriteEntry(Regular("a/readme.txt", "text"));
        }

        var result = ArchiveExtractor.Extract(path, Path.Combine(_dir.Root, "out"), new ArchiveLimits(), n => n.EndsWith(".mp4", StringComparison.Ordinal));

        Assert.Equal("one", File.ReadAllText(Assert.Single(result.Extracted).Path));
        Assert.Empty(result.Rejected);
    }

    [Theory]
    [InlineData("a/b.mp4", true)]
    [InlineData("a/../b.mp4", true)]
    [InlineData("./b.mp4", true)]
    [InlineData("..", false)]
    [InlineData("a/../../b.mp4", false)]
    [InlineData("..\\b.mp4", false)]
    [InlineData("\\\\server\\share\\b.mp4", false)]
    [InlineData("/b.mp4", false)]
    [InlineData("d:b.mp4", false)]
    [InlineData("a/file.mp4:stream", false)]
    [InlineData("", false)]
    public void SafeTarget_AcceptsOnlyPathsInsideTheTarget(string name, bool safe)
    {
        string? path = ArchiveExtractor.SafeTarget(_dir.Root, name, out string reason);
        Assert.Equal(safe, path is not null);
        if (path is not null) Assert.StartsWith(_dir.Root + Path.DirectorySeparatorChar, path, StringComparison.Ordinal);
        else Assert.NotEmpty(reason);
    }

    private static PaxTarEntry Regular(string name, string content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };
}
