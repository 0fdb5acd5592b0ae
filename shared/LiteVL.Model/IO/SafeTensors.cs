using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using LiteVL.Model.Tensors;
using Microsoft.Win32.SafeHandles;

namespace LiteVL.Model.IO;

/// <summary>One tensor's entry in a safetensors header. <see cref="Begin"/>/<see cref="End"/> are relative to the data section.</summary>
public sealed record SafeTensorInfo(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    public long ElementCount => HostTensor.ElementCountOf(Shape);
}

/// <summary>A safetensors file that is wrong: the message names the file, what is wrong and, where relevant, the tensor.</summary>
public sealed class SafeTensorsFormatException : Exception
{
    public SafeTensorsFormatException()
    {
    }

    public SafeTensorsFormatException(string message)
        : base(message)
    {
    }

    public SafeTensorsFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : base(Compose(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The file the problem was found in, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor the problem concerns, when it concerns one.</summary>
    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"Invalid safetensors file '{filePath}': {problem}"
            : $"Invalid safetensors file '{filePath}', tensor '{tensorName}': {problem}";
}

/// <summary>
/// Reader for the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON describing each tensor, then the data section. The header is parsed and validated
/// eagerly by <see cref="Open"/>; tensor data is read lazily with positional reads (<see cref="RandomAccess"/>), so
/// files larger than 2 GB work and concurrent <see cref="Read"/> calls from several threads are safe.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are treated as corrupt (the official implementation uses the same limit).</summary>
    public const long MaxHeaderBytes = 100L * 1000 * 1000;

    internal const string MetadataKey = "__metadata__";

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafeTensorInfo> _infos;
    private readonly List<string> _names;
    private readonly long _dataStart;
    private bool _disposed;

    private SafeTensorsFile(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
        {
            throw Error($"the file is {fileLength} bytes long, shorter than the 8-byte header-length prefix (empty, truncated or not a safetensors file).");
        }

        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(prefix, 0, null);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw Error($"the header length prefix says {headerLength} bytes, more than the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors file).");
        }

        if ((long)headerLength > fileLength - 8)
        {
            throw Error($"the header length prefix says {headerLength} bytes but the file has only {fileLength - 8} bytes after the prefix (truncated or not a safetensors file).");
        }

        var header = new byte[(int)headerLength];
        ReadExactly(header, 8, null);
        _dataStart = 8 + (long)headerLength;
        DataLength = fileLength - _dataStart;

        (_names, _infos, Metadata) = ParseHeader(header);
        ValidateLayout();
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The optional <c>__metadata__</c> string map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyCollection<string> Names => _names.AsReadOnly();

    /// <summary>Size of the data section in bytes.</summary>
    public long DataLength { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="SafeTensorsFormatException"/> if it is malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        SafeFileHandle handle = File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            return new SafeTensorsFile(full, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _infos.ContainsKey(name);

    /// <summary>The header entry for <paramref name="name"/>; <see cref="KeyNotFoundException"/> (listing close names) if absent.</summary>
    public SafeTensorInfo GetInfo(string name)
    {
        SafeTensorInfo info = Lookup(name);
        return info with { Shape = (long[])info.Shape.Clone() };
    }

    /// <summary>Reads a tensor with the element type exactly as stored.</summary>
    public HostTensor Read(string name)
    {
        SafeTensorInfo info = Lookup(name);
        var data = new byte[CheckArrayLength(info, 1)];
        ReadExactly(data, _dataStart + info.Begin, info.Name);
        return new HostTensor(info.DType, (long[])info.Shape.Clone(), data);
    }

    /// <summary>
    /// Reads a floating-point tensor (F32, F16, BF16 or F64) as float32. When <paramref name="expectedShape"/> is given
    /// (non-empty) the stored shape must equal it, else a <see cref="SafeTensorsFormatException"/> names the tensor, the file
    /// and both shapes. (A 0-d scalar cannot be asserted this way: an empty argument list means "no check".)
    /// </summary>
    public float[] ReadFloat32(string name, params long[] expectedShape)
    {
        SafeTensorInfo info = Lookup(name);
        if (expectedShape is { Length: > 0 } && !expectedShape.AsSpan().SequenceEqual(info.Shape))
        {
            throw new SafeTensorsFormatException(
                Path,
                info.Name,
                $"expected shape {HostTensor.FormatShape(expectedShape)} but the file stores shape {HostTensor.FormatShape(info.Shape)}.");
        }

        switch (info.DType)
        {
            case TensorDType.Float32:
                {
                    // Read straight into the float array: no second copy for large weights.
                    var result = new float[CheckArrayLength(info, 4)];
                    ReadExactly(MemoryMarshal.AsBytes(result.AsSpan()), _dataStart + info.Begin, info.Name);
                    return result;
                }

            case TensorDType.Float16 or TensorDType.BFloat16 or TensorDType.Float64:
                return Read(name).ToFloat32();
            default:
                throw new SafeTensorsFormatException(
                    Path,
                    info.Name,
                    $"stored as {info.DType.ShortName()}, not a floating-point type; use Read() for integer tensors.");
        }
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _handle.Dispose();
        }
    }

    internal static bool TryParseDType(string s, out TensorDType dtype)
    {
        switch (s)
        {
            case "F32": dtype = TensorDType.Float32; return true;
            case "F16": dtype = TensorDType.Float16; return true;
            case "BF16": dtype = TensorDType.BFloat16; return true;
            case "F64": dtype = TensorDType.Float64; return true;
            case "I64": dtype = TensorDType.Int64; return true;
            case "I32": dtype = TensorDType.Int32; return true;
            case "I16": dtype = TensorDType.Int16; return true;
            case "I8": dtype = TensorDType.Int8; return true;
            case "U8": dtype = TensorDType.UInt8; return true;
            case "BOOL": dtype = TensorDType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    internal static string DTypeCode(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => "F32",
        TensorDType.Float16 => "F16",
        TensorDType.BFloat16 => "BF16",
        TensorDType.Float64 => "F64",
        TensorDType.Int64 => "I64",
        TensorDType.Int32 => "I32",
        TensorDType.Int16 => "I16",
        TensorDType.Int8 => "I8",
        TensorDType.UInt8 => "U8",
        TensorDType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Up to <paramref name="max"/> names sharing the longest prefix with <paramref name="name"/>.</summary>
    internal static List<string> CloseNames(string name, IEnumerable<string> candidates, int max = 5) =>
        candidates
            .Select(c => (Name: c, Common: CommonPrefixLength(name, c)))
            .Where(x => x.Common > 0)
            .OrderByDescending(x => x.Common)
            .ThenBy(x => Math.Abs(x.Name.Length - name.Length))
            .ThenBy(x => x.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(x => x.Name)
            .ToList();

    private static int CommonPrefixLength(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        int i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }

    private SafeTensorInfo Lookup(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_infos.TryGetValue(name, out SafeTensorInfo? info))
        {
            return info;
        }

        List<string> close = CloseNames(name, _names);
        string hint = close.Count > 0
            ? " Close names: " + string.Join(", ", close.Select(c => $"'{c}'")) + "."
            : $" The file has {_names.Count} tensors" + (_names.Count > 0 ? ", e.g. " + string.Join(", ", _names.Take(5).Select(c => $"'{c}'")) + "." : ".");
        throw new KeyNotFoundException($"No tensor '{name}' in safetensors file '{Path}'.{hint}");
    }

    private long CheckArrayLength(SafeTensorInfo info, int elementBytes)
    {
        long length = info.ByteLength / elementBytes;
        if (length > Array.MaxLength)
        {
            throw new NotSupportedException(
                $"Tensor '{info.Name}' in '{Path}' is {info.ByteLength} bytes, more than one .NET array can hold; it cannot be read as a single array.");
        }

        return length;
    }

    private void ReadExactly(Span<byte> buffer, long fileOffset, string? tensorName)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[done..], fileOffset + done);
            if (n <= 0)
            {
                throw new SafeTensorsFormatException(
                    Path,
                    tensorName,
                    $"truncated: needed bytes up to file offset {fileOffset + buffer.Length} but the file ended at {fileOffset + done} (was it modified after opening?).");
            }

            done += n;
        }
    }

    private SafeTensorsFormatException Error(string problem, string? tensor = null, Exception? inner = null) =>
        new(Path, tensor, problem, inner);

    private (List<string> Names, Dictionary<string, SafeTensorInfo> Infos, IReadOnlyDictionary<string, string> Metadata) ParseHeader(byte[] header)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Error($"the {header.Length}-byte header is not valid UTF-8 JSON ({ex.Message}).", inner: ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Error($"the header must be a JSON object but is a JSON {doc.RootElement.ValueKind}.");
            }

            var names = new List<string>();
            var infos = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (JsonProperty prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (sawMetadata)
                    {
                        throw Error("the header has two \"__metadata__\" entries.");
                    }

                    sawMetadata = true;
                    ParseMetadata(prop.Value, metadata);
                    continue;
                }

                if (infos.ContainsKey(prop.Name))
                {
                    throw Error("the header lists the tensor twice.", prop.Name);
                }

                SafeTensorInfo info = ParseEntry(prop.Name, prop.Value);
                infos.Add(prop.Name, info);
                names.Add(prop.Name);
            }

            return (names, infos, metadata);
        }
    }

    private void ParseMetadata(JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Error($"\"__metadata__\" must be an object of string values but is a JSON {value.ValueKind}.");
        }

        foreach (JsonProperty m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
            {
                throw Error($"\"__metadata__\" value for key '{m.Name}' must be a string but is a JSON {m.Value.ValueKind}.");
            }

            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
            {
                throw Error($"\"__metadata__\" has the key '{m.Name}' twice.");
            }
        }
    }

    private SafeTensorInfo ParseEntry(string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Error($"the entry must be an object with dtype, shape and data_offsets but is a JSON {value.ValueKind}.", name);
        }

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Error("missing or non-string \"dtype\".", name);
        }

        string dtypeText = dtypeElement.GetString()!;
        if (!TryParseDType(dtypeText, out TensorDType dtype))
        {
            throw Error($"unknown or unsupported dtype \"{dtypeText}\" (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL).", name);
        }

        long[] shape = ReadLongArray(value, "shape", name);
        long[] offsets = ReadLongArray(value, "data_offsets", name);
        if (offsets.Length != 2)
        {
            throw Error($"\"data_offsets\" must be [begin, end] but has {offsets.Length} elements.", name);
        }

        long begin = offsets[0], end = offsets[1];
        if (end < begin)
        {
            throw Error($"\"data_offsets\" [{begin}, {end}] end before they begin.", name);
        }

        long expectedBytes;
        try
        {
            expectedBytes = checked(HostTensor.ElementCountOf(shape) * dtype.ByteSize());
        }
        catch (OverflowException ex)
        {
            throw Error($"shape {HostTensor.FormatShape(shape)} is too large (element count overflows).", name, ex);
        }

        if (expectedBytes != end - begin)
        {
            throw Error(
                $"dtype {dtypeText} and shape {HostTensor.FormatShape(shape)} need {expectedBytes} bytes but data_offsets [{begin}, {end}] span {end - begin} bytes.",
                name);
        }

        if (end > DataLength)
        {
            throw Error($"truncated: tensor '{name}' needs bytes up to {end} but the file's data section has only {DataLength} bytes.", name);
        }

        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private long[] ReadLongArray(JsonElement entry, string property, string name)
    {
        if (!entry.TryGetProperty(property, out JsonElement array) || array.ValueKind != JsonValueKind.Array)
        {
            throw Error($"missing or non-array \"{property}\".", name);
        }

        var result = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement e in array.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            {
                throw Error($"\"{property}\" must hold non-negative integers but element {i} is {e.GetRawText()}.", name);
            }

            result[i++] = v;
        }

        return result;
    }

    /// <summary>The data regions must tile the data section exactly: no overlap, no gap, no trailing bytes (as the official format requires).</summary>
    private void ValidateLayout()
    {
        var ordered = _infos.Values.OrderBy(i => i.Begin).ThenBy(i => i.End).ToList();
        long covered = 0;
        SafeTensorInfo? previous = null;
        foreach (SafeTensorInfo info in ordered)
        {
            if (info.Begin < covered)
            {
                throw Error(
                    $"data region [{info.Begin}, {info.End}] overlaps tensor '{previous!.Name}' [{previous.Begin}, {previous.End}].",
                    info.Name);
            }

            if (info.Begin > covered)
            {
                throw Error(
                    $"data region [{info.Begin}, {info.End}] leaves a gap: bytes [{covered}, {info.Begin}) of the data section belong to no tensor.",
                    info.Name);
            }

            covered = info.End;
            previous = info;
        }

        if (covered != DataLength)
        {
            throw Error($"the data section has {DataLength} bytes but the tensors cover only the first {covered} (trailing bytes).");
        }
    }
}
