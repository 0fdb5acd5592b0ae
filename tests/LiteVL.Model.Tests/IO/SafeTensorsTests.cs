using System.Buffers.Binary;
using System.Text;
using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using static LiteVL.Model.Tests.IO.IoTestSupport;

namespace LiteVL.Model.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static HostTensor RandomTensor(TensorDType dtype, params long[] shape)
    {
        var data = new byte[HostTensor.ElementCountOf(shape) * dtype.ByteSize()];
        new Random(42 + (int)dtype).NextBytes(data);
        if (dtype == TensorDType.Bool)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] &= 1;
            }
        }

        return new HostTensor(dtype, shape, data);
    }

    [Theory]
    [InlineData(TensorDType.Float32)]
    [InlineData(TensorDType.Float16)]
    [InlineData(TensorDType.BFloat16)]
    [InlineData(TensorDType.Float64)]
    [InlineData(TensorDType.Int64)]
    [InlineData(TensorDType.Int32)]
    [InlineData(TensorDType.Int16)]
    [InlineData(TensorDType.Int8)]
    [InlineData(TensorDType.UInt8)]
    [InlineData(TensorDType.Bool)]
    public void Write_ThenRead_RoundTripsDTypeShapeAndBytes(TensorDType dtype)
    {
        string path = _dir.File("t.safetensors");
        HostTensor t = RandomTensor(dtype, 2, 3, 5);
        SafeTensorsWriter.Write(path, [new("w", t)]);

        using var file = SafeTensorsFile.Open(path);
        HostTensor back = file.Read("w");
        Assert.Equal(dtype, back.DType);
        Assert.Equal(t.Shape, back.Shape);
        Assert.Equal(t.Data, back.Data);
        SafeTensorInfo info = file.GetInfo("w");
        Assert.Equal(dtype, info.DType);
        Assert.Equal(0, info.Begin);
        Assert.Equal(t.Data.LongLength, info.End);
    }

    [Fact]
    public void Write_ScalarAndEmptyTensors_RoundTrip()
    {
        string path = _dir.File("t.safetensors");
        HostTensor scalar = HostTensor.FromFloats([2.5f]);
        var empty = new HostTensor(TensorDType.Float32, [0, 4], []);
        HostTensor after = HostTensor.FromInt64([7, -9], 2);
        SafeTensorsWriter.Write(path, [new("scalar", scalar), new("empty", empty), new("after", after)]);

        using var file = SafeTensorsFile.Open(path);
        HostTensor s = file.Read("scalar");
        Assert.Empty(s.Shape);
        Assert.Equal([2.5f], s.ToFloat32());
        HostTensor e = file.Read("empty");
        Assert.Equal([0L, 4L], e.Shape);
        Assert.Empty(e.Data);
        Assert.Equal(file.GetInfo("empty").Begin, file.GetInfo("empty").End);
        Assert.Equal([7L, -9L], file.Read("after").AsSpan<long>().ToArray());
        Assert.Equal([2.5f], file.ReadFloat32("scalar"));
    }

    [Fact]
    public void Write_WithMetadata_RoundTripsMetadata()
    {
        string path = _dir.File("t.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafeTensorsWriter.Write(path, [new("a", HostTensor.FromFloats([1f], 1))], metadata);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(2, file.Metadata.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("ünïcode \"quoted\"", file.Metadata["note"]);
        Assert.Equal(["a"], file.Names);
    }

    [Fact]
    public void Write_WithoutMetadata_GivesEmptyMetadata()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("a", HostTensor.FromFloats([1f], 1))]);

        using var file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void Write_SeveralTensors_KeepsOrderAlignsDataAndIsDeterministic()
    {
        string a = _dir.File("a.safetensors");
        string b = _dir.File("b.safetensors");
        KeyValuePair<string, HostTensor>[] tensors =
        [
            new("z.last", RandomTensor(TensorDType.UInt8, 3)),
            new("a.first", RandomTensor(TensorDType.Float32, 2, 2)),
            new("m.mid", RandomTensor(TensorDType.Float16, 5)),
        ];
        SafeTensorsWriter.Write(a, tensors, new Dictionary<string, string> { ["k"] = "v" });
        SafeTensorsWriter.Write(b, tensors, new Dictionary<string, string> { ["k"] = "v" });

        byte[] bytes = File.ReadAllBytes(a);
        Assert.Equal(bytes, File.ReadAllBytes(b));
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + headerLength) % 8);
        Assert.StartsWith("{\"__metadata__\":{\"k\":\"v\"}", Encoding.UTF8.GetString(bytes, 8, (int)headerLength), StringComparison.Ordinal);

        using var file = SafeTensorsFile.Open(a);
        Assert.Equal(["z.last", "a.first", "m.mid"], file.Names);
        Assert.Equal(0, file.GetInfo("z.last").Begin);
        Assert.Equal(3, file.GetInfo("a.first").Begin);
        Assert.Equal(19, file.GetInfo("m.mid").Begin);
        foreach ((string name, HostTensor t) in tensors)
        {
            Assert.Equal(t.Data, file.Read(name).Data);
        }
    }

    [Fact]
    public void Write_ExistingFile_IsReplacedAndNoTmpIsLeft()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("old", HostTensor.FromFloats([1f], 1))]);
        SafeTensorsWriter.Write(path, [new("new", HostTensor.FromFloats([2f], 1))]);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["new"], file.Names);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Write_DuplicateName_ThrowsAndLeavesExistingFileUntouched()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("keep", HostTensor.FromFloats([1f], 1))]);
        byte[] before = File.ReadAllBytes(path);

        var ex = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(
            path,
            [new("x", HostTensor.FromFloats([1f], 1)), new("x", HostTensor.FromFloats([2f], 1))]));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Write_ReservedMetadataName_Throws()
    {
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(
            _dir.File("t.safetensors"),
            [new("__metadata__", HostTensor.FromFloats([1f], 1))]));
    }

    [Fact]
    public void Open_FileShorterThan8Bytes_ThrowsNamingFile()
    {
        string path = _dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("3 bytes long, shorter than the 8-byte", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_HeaderLengthBeyondFile_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, "{}", [], headerLengthOverride: 1000);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("header length prefix says 1000 bytes but the file has only 2 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_AbsurdHeaderLength_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, "{}", [], headerLengthOverride: 0x0102030405060708);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("more than the 100000000-byte limit", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": ", "not valid UTF-8 JSON")]
    [InlineData("[1, 2, 3]", "must be a JSON object but is a JSON Array")]
    [InlineData("\"text\"", "must be a JSON object but is a JSON String")]
    public void Open_HeaderNotAJsonObject_Throws(string header, string expected)
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, header, []);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnknownDType_ThrowsNamingTensorAndDType()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, """{"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}""", new byte[2]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal("w", ex.TensorName);
        Assert.Contains("tensor 'w'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unknown or unsupported dtype \"F8_E4M3\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ShapeAndOffsetsDisagree_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, """{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}""", new byte[20]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("tensor 'w'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("dtype F32 and shape [2, 3] need 24 bytes but data_offsets [0, 20] span 20 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TruncatedData_ThrowsNamingTensorAndSizes()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(
            path,
            """{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [6], "data_offsets": [8, 32]}}""",
            new byte[20]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated: tensor 'b' needs bytes up to 32 but the file's data section has only 20 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TruncatedRealFile_Throws()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("w", RandomTensor(TensorDType.Float32, 16))]);
        using (var fs = new FileStream(path, FileMode.Open))
        {
            fs.SetLength(fs.Length - 1);
        }

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("truncated: tensor 'w' needs bytes up to 64 but the file's data section has only 63 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OverlappingRegions_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(
            path,
            """{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}""",
            new byte[6]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("tensor 'b'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("overlaps tensor 'a'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_GapBetweenRegions_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(
            path,
            """{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}}""",
            new byte[8]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("tensor 'b'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("bytes [4, 6) of the data section belong to no tensor", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TrailingBytes_Throws()
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, """{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}""", new byte[7]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("data section has 7 bytes but the tensors cover only the first 4", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"a": {"dtype": "U8", "shape": [-4], "data_offsets": [0, 4]}}""", "\"shape\" must hold non-negative integers")]
    [InlineData("""{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0]}}""", "\"data_offsets\" must be [begin, end]")]
    [InlineData("""{"a": {"dtype": "U8", "data_offsets": [0, 4]}}""", "missing or non-array \"shape\"")]
    [InlineData("""{"a": {"shape": [4], "data_offsets": [0, 4]}}""", "missing or non-string \"dtype\"")]
    [InlineData("""{"a": {"dtype": "U8", "shape": [4], "data_offsets": [4, 0]}}""", "end before they begin")]
    [InlineData("""{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}""", "lists the tensor twice")]
    [InlineData("""{"__metadata__": {"n": 1}, "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}""", "must be a string")]
    public void Open_MalformedEntry_ThrowsWithReason(string header, string expected)
    {
        string path = _dir.File("t.safetensors");
        WriteRawSafeTensors(path, header, new byte[4]);

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_HandWrittenFileWithPaddedHeaderAndMetadata_Parses()
    {
        // The shape of a file written by the Python safetensors package: metadata first, header padded with spaces.
        string path = _dir.File("t.safetensors");
        string header = """{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        header += new string(' ', (8 - ((8 + header.Length) % 8)) % 8);
        WriteRawSafeTensors(path, header, [.. Bytes(1f, -2f), .. Bytes<ushort>(0x3FC0, 0xBC00)]);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["b", "a"], file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([1f, -2f], file.ReadFloat32("a", 2));
        Assert.Equal([1.5f, -0.0078125f], file.ReadFloat32("b", 2));
    }

    [Fact]
    public void Read_MissingTensor_ThrowsListingCloseNames()
    {
        string path = _dir.File("t.safetensors");
        HostTensor t = HostTensor.FromFloats([1f], 1);
        SafeTensorsWriter.Write(path, [
            new("text_encoder.layer.0.attention.query.weight", t),
            new("text_encoder.layer.0.attention.key.weight", t),
            new("text_encoder.layer.1.attention.query.weight", t),
            new("visual_encoder.blocks.0.attn.qkv.weight", t),
        ]);

        using var file = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<KeyNotFoundException>(() => file.Read("text_encoder.layer.0.attention.query.bias"));
        Assert.Contains("'text_encoder.layer.0.attention.query.bias'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Close names: 'text_encoder.layer.0.attention.query.weight'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("visual_encoder", ex.Message, StringComparison.Ordinal);
        Assert.False(file.Contains("text_encoder.layer.0.attention.query.bias"));
        Assert.Throws<KeyNotFoundException>(() => file.GetInfo("nope"));
    }

    [Fact]
    public void CloseNames_ManyCandidates_ReturnsAtMostFiveWithLongestSharedPrefix()
    {
        string[] names = [.. Enumerable.Range(0, 12).Select(i => $"layer.{i}.weight"), "layer.1.bias", "other"];

        List<string> close = SafeTensorsFile.CloseNames("layer.1.weights", names);

        Assert.Equal(5, close.Count);
        Assert.Equal("layer.1.weight", close[0]);
        Assert.DoesNotContain("other", close);
    }

    [Fact]
    public void ReadFloat32_BFloat16_ConvertsExactly()
    {
        string path = _dir.File("t.safetensors");
        ushort[] bits = [0x3FC0, 0xBC00, 0x0000, 0x8000, 0x7F80, 0x0001, 0x7F7F];
        SafeTensorsWriter.Write(path, [new("b", new HostTensor(TensorDType.BFloat16, [7], Bytes(bits)))]);

        using var file = SafeTensorsFile.Open(path);
        float[] values = file.ReadFloat32("b", 7);
        Assert.Equal(1.5f, values[0]);
        Assert.Equal(-0.0078125f, values[1]);
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(values[2]));
        Assert.Equal(0x80000000u, BitConverter.SingleToUInt32Bits(values[3]));
        Assert.Equal(float.PositiveInfinity, values[4]);
        Assert.Equal(0x00010000u, BitConverter.SingleToUInt32Bits(values[5])); // a float32 subnormal
        Assert.Equal(3.3895314e38f, values[6]);
    }

    [Fact]
    public void ReadFloat32_Float16_ConvertsExactlyIncludingSubnormals()
    {
        string path = _dir.File("t.safetensors");
        ushort[] bits = [0x7BFF, 0xFBFF, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x3555, 0x8000, 0x7C00];
        SafeTensorsWriter.Write(path, [new("h", new HostTensor(TensorDType.Float16, [3, 3], Bytes(bits)))]);

        using var file = SafeTensorsFile.Open(path);
        float[] values = file.ReadFloat32("h", 3, 3);
        Assert.Equal(65504f, values[0]);
        Assert.Equal(-65504f, values[1]);
        Assert.Equal(MathF.Pow(2, -24), values[2]);        // smallest subnormal
        Assert.Equal(1023f * MathF.Pow(2, -24), values[3]); // largest subnormal
        Assert.Equal(MathF.Pow(2, -14), values[4]);        // smallest normal
        Assert.Equal(1f, values[5]);
        Assert.Equal(0.333251953125f, values[6]);
        Assert.Equal(0x80000000u, BitConverter.SingleToUInt32Bits(values[7]));
        Assert.Equal(float.PositiveInfinity, values[8]);
    }

    [Fact]
    public void ReadFloat32_Float64_Narrows()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("d", new HostTensor(TensorDType.Float64, [2], Bytes(0.1, -3.0)))]);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([0.1f, -3f], file.ReadFloat32("d"));
    }

    [Fact]
    public void ReadFloat32_ShapeMismatch_ThrowsNamingTensorFileAndShapes()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("proj.weight", RandomTensor(TensorDType.Float32, 768, 2))]);

        using var file = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => file.ReadFloat32("proj.weight", 2, 768));
        Assert.Contains("'proj.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("expected shape [2, 768] but the file stores shape [768, 2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFloat32_IntegerTensor_Throws()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("ids", HostTensor.FromInt64([1, 2], 2))]);

        using var file = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => file.ReadFloat32("ids"));
        Assert.Contains("int64, not a floating-point type", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_AfterDispose_ThrowsObjectDisposed()
    {
        string path = _dir.File("t.safetensors");
        SafeTensorsWriter.Write(path, [new("a", HostTensor.FromFloats([1f], 1))]);
        var file = SafeTensorsFile.Open(path);
        file.Dispose();

        Assert.Throws<ObjectDisposedException>(() => file.Read("a"));
    }

    [Fact]
    public void Open_FileLargerThan2GB_ReadsTensorBeyondTheLimit()
    {
        // A sparse file: a 2.6 GB padding tensor followed by a small one, so offsets exceed int.MaxValue.
        const long big = 2_600_000_000;
        string path = _dir.File("big.safetensors");
        string header = $$$"""{"pad":{"dtype":"U8","shape":[{{{big}}}],"data_offsets":[0,{{{big}}}]},"x":{"dtype":"F32","shape":[4],"data_offsets":[{{{big}}},{{{big + 16}}}]}}""";
        header += new string(' ', (8 - ((8 + header.Length) % 8)) % 8);
        WriteRawSafeTensors(path, header, []);
        using (var fs = new FileStream(path, FileMode.Open))
        {
            fs.SetLength(8 + header.Length + big + 16);
            fs.Position = 8 + header.Length + big;
            fs.Write(Bytes(1f, 2f, 3f, 4f));
        }

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([1f, 2f, 3f, 4f], file.ReadFloat32("x", 4));
        Assert.Equal(big, file.GetInfo("x").Begin);
        var ex = Assert.Throws<NotSupportedException>(() => file.Read("pad"));
        Assert.Contains("'pad'", ex.Message, StringComparison.Ordinal);
    }
}
