using System.Text;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using static LiteVL.Model.Tests.IO.IoTestSupport;

namespace LiteVL.Model.Tests.IO;

public sealed class NpyTests
{
    private static HostTensor RoundTrip(HostTensor t)
    {
        using var ms = new MemoryStream();
        Npy.Write(ms, t);
        ms.Position = 0;
        return Npy.Read(ms, "'t'");
    }

    [Theory]
    [InlineData(TensorDType.Float32)]
    [InlineData(TensorDType.Float16)]
    [InlineData(TensorDType.Float64)]
    [InlineData(TensorDType.Int64)]
    [InlineData(TensorDType.Int32)]
    [InlineData(TensorDType.Int16)]
    [InlineData(TensorDType.Int8)]
    [InlineData(TensorDType.UInt8)]
    [InlineData(TensorDType.Bool)]
    public void Write_ThenRead_RoundTripsDTypeShapeAndBytes(TensorDType dtype)
    {
        var data = new byte[4 * 3 * dtype.ByteSize()];
        new Random(7).NextBytes(data);
        if (dtype == TensorDType.Bool)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] &= 1;
            }
        }

        var t = new HostTensor(dtype, [4, 3], data);

        HostTensor back = RoundTrip(t);

        Assert.Equal(dtype, back.DType);
        Assert.Equal(t.Shape, back.Shape);
        Assert.Equal(t.Data, back.Data);
    }

    [Fact]
    public void Write_ScalarAndEmpty_RoundTrip()
    {
        HostTensor scalar = RoundTrip(HostTensor.FromFloats([3.25f]));
        Assert.Empty(scalar.Shape);
        Assert.Equal([3.25f], scalar.ToFloat32());

        HostTensor empty = RoundTrip(new HostTensor(TensorDType.Int64, [0, 5], []));
        Assert.Equal([0L, 5L], empty.Shape);
        Assert.Empty(empty.Data);
    }

    [Fact]
    public void Write_Header_IsNumpyStyleAndAlignedTo64()
    {
        using var ms = new MemoryStream();
        Npy.Write(ms, HostTensor.FromFloats(new float[6], 2, 3));
        byte[] bytes = ms.ToArray();

        int headerLength = bytes[8] | (bytes[9] << 8);
        string header = Encoding.Latin1.GetString(bytes, 10, headerLength);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header, StringComparison.Ordinal);
        Assert.EndsWith("\n", header, StringComparison.Ordinal);
        Assert.Equal(10 + headerLength + 24, bytes.Length);
    }

    [Fact]
    public void Write_BFloat16_ThrowsNotSupported()
    {
        using var ms = new MemoryStream();
        var ex = Assert.Throws<NotSupportedException>(() => Npy.Write(ms, new HostTensor(TensorDType.BFloat16, [1], new byte[2])));
        Assert.Contains("bfloat16", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_BadMagic_ThrowsNamingArray()
    {
        using var ms = new MemoryStream(Encoding.ASCII.GetBytes("PK\u0003\u0004 not an npy file at all"));

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'x' in a.npz"));
        Assert.Contains("'x' in a.npz", ex.Message, StringComparison.Ordinal);
        Assert.Contains("magic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedData_ThrowsWithSizes()
    {
        using MemoryStream ms = RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new byte[10]);

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'x'"));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("needs 24 data bytes but only 10 are present", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedHeader_Throws()
    {
        using MemoryStream full = RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", new byte[8]);
        using var ms = new MemoryStream(full.ToArray()[..30]);

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'x'"));
        Assert.Contains("truncated .npy header", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<U10", "strings")]
    [InlineData("|S4", "strings")]
    [InlineData("|O", "object")]
    [InlineData("<c8", "complex")]
    [InlineData("<u4", "unsigned types wider")]
    [InlineData("<M8[ns]", "datetime")]
    [InlineData("|f4", "'|' byte order")]
    public void Read_UnsupportedDType_ThrowsNamingArrayAndDType(string descr, string reason)
    {
        using MemoryStream ms = RawNpy($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}", new byte[64]);

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'labels' in x.npz"));
        Assert.Contains("'labels' in x.npz", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"unsupported dtype '{descr}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_StructuredDType_Throws()
    {
        using MemoryStream ms = RawNpy("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", new byte[8]);

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'rec'"));
        Assert.Contains("structured", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MalformedHeader_Throws()
    {
        using MemoryStream ms = RawNpy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", new byte[4]);

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(ms, "'x'"));
        Assert.Contains("malformed .npy header", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnknownVersion_Throws()
    {
        using MemoryStream ms = RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]);
        byte[] bytes = ms.ToArray();
        bytes[6] = 9;

        var ex = Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(bytes), "'x'"));
        Assert.Contains("version 9.0", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Read_Version2And3Headers_Parse(byte major)
    {
        using MemoryStream ms = RawNpy("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", Bytes<short>(1, -2, 3), major);

        HostTensor t = Npy.Read(ms, "'x'");

        Assert.Equal(new short[] { 1, -2, 3 }, t.AsSpan<short>().ToArray());
    }

    [Fact]
    public void Read_BigEndian_ConvertsToLittleEndian()
    {
        byte[] be = [.. Bytes(1.5, -2.25).Chunk(8).SelectMany(c => c.Reverse())];
        using MemoryStream ms = RawNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be);

        HostTensor t = Npy.Read(ms, "'x'");

        Assert.Equal(TensorDType.Float64, t.DType);
        Assert.Equal(new[] { 1.5, -2.25 }, t.AsSpan<double>().ToArray());
    }

    [Fact]
    public void Read_NativeOrderMarker_Accepted()
    {
        using MemoryStream ms = RawNpy("{'descr': '=i4', 'fortran_order': False, 'shape': (2,), }", Bytes(5, -6));

        Assert.Equal(new[] { 5, -6 }, Npy.Read(ms, "'x'").AsSpan<int>().ToArray());
    }

    [Fact]
    public void Read_FortranOrder2D_TransposesToCOrder()
    {
        // [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6.
        using MemoryStream ms = RawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", Bytes(1f, 4f, 2f, 5f, 3f, 6f));

        HostTensor t = Npy.Read(ms, "'x'");

        Assert.Equal([2L, 3L], t.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], t.ToFloat32());
    }

    [Fact]
    public void Read_FortranOrderBigEndian3D_TransposesAndSwaps()
    {
        // Element [i, j, k] = 100 i + 10 j + k for shape (2, 3, 2); Fortran order varies i fastest.
        var values = new List<short>();
        for (int k = 0; k < 2; k++)
        {
            for (int j = 0; j < 3; j++)
            {
                for (int i = 0; i < 2; i++)
                {
                    values.Add((short)((100 * i) + (10 * j) + k));
                }
            }
        }

        byte[] be = [.. Bytes(values.ToArray()).Chunk(2).SelectMany(c => c.Reverse())];
        using MemoryStream ms = RawNpy("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3, 2), }", be);

        HostTensor t = Npy.Read(ms, "'x'");

        short[] expected = [0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121];
        Assert.Equal(expected, t.AsSpan<short>().ToArray());
    }

    [Fact]
    public void Read_ScalarShape_GivesRankZero()
    {
        using MemoryStream ms = RawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", Bytes(42L));

        HostTensor t = Npy.Read(ms, "'x'");

        Assert.Equal(0, t.Rank);
        Assert.Equal(42L, t.AsSpan<long>()[0]);
    }
}
