using System.IO.Compression;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Tests.IO;

public sealed class NpzTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Fixture(string name)
    {
        string path = Path.Combine(IoTestSupport.NpzFixtureDirectory(), name);
        Assert.True(File.Exists(path), $"fixture {path} is missing (generate it with make_fixture.py)");
        return path;
    }

    /// <summary>The values make_fixture.py saves, written out again.</summary>
    [Theory]
    [InlineData("fixture.npz")]
    [InlineData("fixture_compressed.npz")]
    public void Read_NumpyWrittenFixture_MatchesNumpyValues(string file)
    {
        IReadOnlyDictionary<string, HostTensor> a = Npz.Read(Fixture(file));

        Assert.Equal(
            ["f4", "f2", "f8", "i8", "i4", "i2", "i1", "u1", "b1", "be_f4", "be_i4", "fortran", "scalar", "empty"],
            a.Keys);

        Assert.Equal(TensorDType.Float32, a["f4"].DType);
        Assert.Equal([2L, 3L], a["f4"].Shape);
        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 1f, 1.5f], a["f4"].ToFloat32());

        Assert.Equal(TensorDType.Float16, a["f2"].DType);
        Assert.Equal([1.5f, -2f, 65504f, MathF.Pow(2, -24), MathF.Pow(2, -14)], a["f2"].ToFloat32());

        Assert.Equal(TensorDType.Float64, a["f8"].DType);
        Assert.Equal(new[] { Math.PI, -1e300, 0.0 }, a["f8"].AsSpan<double>().ToArray());

        Assert.Equal(TensorDType.Int64, a["i8"].DType);
        Assert.Equal(new[] { -(1L << 62), 0L, (1L << 62) + 1 }, a["i8"].AsSpan<long>().ToArray());

        Assert.Equal(TensorDType.Int32, a["i4"].DType);
        Assert.Equal([2L, 2L], a["i4"].Shape);
        Assert.Equal(new[] { 1, -2, int.MaxValue, int.MinValue }, a["i4"].AsSpan<int>().ToArray());

        Assert.Equal(TensorDType.Int16, a["i2"].DType);
        Assert.Equal(new short[] { -32768, 32767, 5 }, a["i2"].AsSpan<short>().ToArray());

        Assert.Equal(TensorDType.Int8, a["i1"].DType);
        Assert.Equal(new sbyte[] { -128, 127, 0 }, a["i1"].AsSpan<sbyte>().ToArray());

        Assert.Equal(TensorDType.UInt8, a["u1"].DType);
        Assert.Equal(new byte[] { 0, 255, 7 }, a["u1"].Data);

        Assert.Equal(TensorDType.Bool, a["b1"].DType);
        Assert.Equal(new byte[] { 1, 0, 1 }, a["b1"].Data);

        Assert.Equal(TensorDType.Float32, a["be_f4"].DType);
        Assert.Equal([0.25f, 1.25f, 2.25f, 3.25f], a["be_f4"].ToFloat32());

        Assert.Equal(TensorDType.Int32, a["be_i4"].DType);
        Assert.Equal(new[] { 1, -2, 305419896 }, a["be_i4"].AsSpan<int>().ToArray());

        Assert.Equal(TensorDType.Int32, a["fortran"].DType);
        Assert.Equal([2L, 3L, 4L], a["fortran"].Shape);
        Assert.Equal(Enumerable.Range(0, 24).ToArray(), a["fortran"].AsSpan<int>().ToArray());

        Assert.Equal(TensorDType.Float32, a["scalar"].DType);
        Assert.Empty(a["scalar"].Shape);
        Assert.Equal([3.25f], a["scalar"].ToFloat32());

        Assert.Equal([0L, 3L], a["empty"].Shape);
        Assert.Empty(a["empty"].Data);
    }

    /// <summary>Our writer reproduces np.save byte for byte for C-ordered little-endian arrays.</summary>
    [Fact]
    public void Write_NumpyFixtureArrays_IsByteIdenticalToNumpy()
    {
        string path = Fixture("fixture.npz");
        IReadOnlyDictionary<string, HostTensor> arrays = Npz.Read(path);
        using ZipArchive zip = ZipFile.OpenRead(path);
        foreach (string name in new[] { "f4", "f2", "f8", "i8", "i4", "i2", "i1", "u1", "b1", "scalar", "empty" })
        {
            using var expected = new MemoryStream();
            using (Stream s = zip.GetEntry(name + ".npy")!.Open())
            {
                s.CopyTo(expected);
            }

            using var actual = new MemoryStream();
            Npy.Write(actual, arrays[name]);
            Assert.True(expected.ToArray().AsSpan().SequenceEqual(actual.ToArray()), $"array '{name}' differs from np.save output");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Write_ThenRead_RoundTripsInOrder(bool compressed)
    {
        string path = _dir.File("a.npz");
        KeyValuePair<string, HostTensor>[] arrays =
        [
            new("input_ids", HostTensor.FromInt64([101, 2023, 102], 1, 3)),
            new("pixel_values", HostTensor.FromFloats([.. Enumerable.Range(0, 12).Select(i => i * 0.25f)], 1, 3, 2, 2)),
            new("mask", new HostTensor(TensorDType.Bool, [3], [1, 1, 0])),
            new("scale", HostTensor.FromFloats([0.5f])),
            new("none", new HostTensor(TensorDType.Float16, [0], [])),
        ];

        Npz.Write(path, arrays, compressed);
        IReadOnlyDictionary<string, HostTensor> back = Npz.Read(path);

        Assert.Equal(arrays.Select(a => a.Key), back.Keys);
        foreach ((string name, HostTensor t) in arrays)
        {
            Assert.Equal(t.DType, back[name].DType);
            Assert.Equal(t.Shape, back[name].Shape);
            Assert.Equal(t.Data, back[name].Data);
        }

        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Write_CompressedFlag_SelectsDeflateOrStore()
    {
        string stored = _dir.File("s.npz");
        string deflated = _dir.File("d.npz");
        KeyValuePair<string, HostTensor>[] arrays = [new("zeros", HostTensor.FromFloats(new float[4096], 4096))];

        Npz.Write(stored, arrays);
        Npz.Write(deflated, arrays, compressed: true);

        using (ZipArchive zip = ZipFile.OpenRead(stored))
        {
            ZipArchiveEntry e = Assert.Single(zip.Entries);
            Assert.Equal("zeros.npy", e.FullName);
            Assert.Equal(e.Length, e.CompressedLength);
        }

        using (ZipArchive zip = ZipFile.OpenRead(deflated))
        {
            ZipArchiveEntry e = Assert.Single(zip.Entries);
            Assert.True(e.CompressedLength < e.Length / 10);
        }
    }

    [Fact]
    public void Write_SameInput_IsByteIdentical()
    {
        string a = _dir.File("a.npz");
        string b = _dir.File("b.npz");
        KeyValuePair<string, HostTensor>[] arrays = [new("x", HostTensor.FromFloats([1f, 2f], 2))];

        Npz.Write(a, arrays, compressed: true);
        Npz.Write(b, arrays, compressed: true);

        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void Write_BFloat16Array_ThrowsAndCreatesNoFile()
    {
        string path = _dir.File("a.npz");

        Assert.Throws<NotSupportedException>(() => Npz.Write(path, [new("b", new HostTensor(TensorDType.BFloat16, [1], new byte[2]))]));
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Read_NotAZip_ThrowsNamingFile()
    {
        string path = _dir.File("bad.npz");
        File.WriteAllText(path, "this is not a zip archive, just some text that is long enough");

        var ex = Assert.Throws<NpyFormatException>(() => Npz.Read(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a readable zip archive", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EntryIsNotNpy_Throws()
    {
        string path = _dir.File("odd.npz");
        using (ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var w = new StreamWriter(zip.CreateEntry("readme.txt").Open());
            w.Write("hello");
        }

        var ex = Assert.Throws<NpyFormatException>(() => Npz.Read(path));
        Assert.Contains("'readme.txt' is not a .npy array", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EntryWithBadMagic_ThrowsNamingArrayAndFile()
    {
        string path = _dir.File("odd.npz");
        using (ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var w = new StreamWriter(zip.CreateEntry("logits.npy").Open());
            w.Write("definitely not numpy");
        }

        var ex = Assert.Throws<NpyFormatException>(() => Npz.Read(path));
        Assert.Contains($"'logits' in '{path}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("magic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedArchive_ThrowsNamingFile()
    {
        string path = _dir.File("a.npz");
        Npz.Write(path, [new("x", HostTensor.FromFloats(new float[256], 256))]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var ex = Assert.Throws<NpyFormatException>(() => Npz.Read(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }
}
