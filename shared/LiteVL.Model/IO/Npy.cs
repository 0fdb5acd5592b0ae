using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.IO;

/// <summary>A .npy/.npz file that is wrong or holds something we do not support; the message names the array/file and the problem.</summary>
public sealed class NpyFormatException : Exception
{
    public NpyFormatException()
    {
    }

    public NpyFormatException(string message)
        : base(message)
    {
    }

    public NpyFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Reader/writer for the NumPy .npy format, versions 1.0, 2.0 and 3.0
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
/// Our own small implementation: there is no maintained .NET npy library (NumSharp is unmaintained and heavy).
/// Reads little- and big-endian data (converted to little-endian) and Fortran-order arrays (converted to C order).
/// Writes exactly what <c>np.save</c> writes (version 1.0, same header text and padding), so files are byte-identical.
/// </summary>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    private const int ArrayAlign = 64;

    /// <summary>Reads one array; <paramref name="nameForErrors"/> (e.g. "'x' in /path/a.npz") is used in every error message.</summary>
    public static HostTensor Read(Stream s, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(s);
        nameForErrors ??= "<stream>";
        Span<byte> prefix = stackalloc byte[8];
        int got = ReadFully(s, prefix);
        if (got < 8 || !prefix[..6].SequenceEqual(Magic))
        {
            throw new NpyFormatException($"Array {nameForErrors}: not a .npy array (the file does not start with the \\x93NUMPY magic).");
        }

        byte major = prefix[6], minor = prefix[7];
        int headerLength;
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            ReadHeaderBytes(s, len, nameForErrors);
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(len);
        }
        else if (major is 2 or 3)
        {
            Span<byte> len = stackalloc byte[4];
            ReadHeaderBytes(s, len, nameForErrors);
            uint l = BinaryPrimitives.ReadUInt32LittleEndian(len);
            if (l > 100_000_000)
            {
                throw new NpyFormatException($"Array {nameForErrors}: header length {l} bytes is absurd (corrupt file).");
            }

            headerLength = (int)l;
        }
        else
        {
            throw new NpyFormatException($"Array {nameForErrors}: unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0).");
        }

        var headerBytes = new byte[headerLength];
        ReadHeaderBytes(s, headerBytes, nameForErrors);
        string header = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        (string descr, bool fortran, long[] shape) = ParseHeader(header, nameForErrors);
        (TensorDType dtype, bool bigEndian) = ParseDescr(descr, nameForErrors);

        long count;
        long byteCount;
        try
        {
            count = HostTensor.ElementCountOf(shape);
            byteCount = checked(count * dtype.ByteSize());
        }
        catch (OverflowException ex)
        {
            throw new NpyFormatException($"Array {nameForErrors}: shape {HostTensor.FormatShape(shape)} is too large.", ex);
        }

        if (byteCount > Array.MaxLength)
        {
            throw new NpyFormatException($"Array {nameForErrors}: {byteCount} bytes of data is more than one .NET array can hold.");
        }

        var data = new byte[byteCount];
        int read = ReadFully(s, data);
        if (read < byteCount)
        {
            throw new NpyFormatException(
                $"Array {nameForErrors}: truncated: dtype '{descr}' shape {HostTensor.FormatShape(shape)} needs {byteCount} data bytes but only {read} are present.");
        }

        if (bigEndian)
        {
            SwapBytes(data, dtype.ByteSize());
        }

        if (fortran && shape.Length > 1 && count > 1)
        {
            data = FortranToC(data, shape, dtype.ByteSize());
        }

        return new HostTensor(dtype, shape, data);
    }

    /// <summary>Writes <paramref name="t"/> as a version 1.0 .npy array (C order, little-endian), byte-identical to <c>np.save</c>.</summary>
    public static void Write(Stream s, HostTensor t)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(t);
        string descr = Descr(t.DType);
        string shapeText = t.Shape.Length switch
        {
            0 => "()",
            1 => $"({t.Shape[0]},)",
            _ => "(" + string.Join(", ", t.Shape) + ")",
        };

        // Same text as numpy.lib.format._write_array_header: sorted keys, trailing ", ", then spare room for growing axis 0.
        var header = new StringBuilder();
        header.Append("{'descr': '").Append(descr).Append("', 'fortran_order': False, 'shape': ").Append(shapeText).Append(", }");
        if (t.Shape.Length > 0)
        {
            header.Append(' ', Math.Max(0, 21 - t.Shape[0].ToString(CultureInfo.InvariantCulture).Length));
        }

        byte[] text = Encoding.Latin1.GetBytes(header.ToString());
        int hlen = text.Length + 1; // + '\n'
        byte major = 1;
        int prefixLength = 10;
        int padlen = ArrayAlign - ((prefixLength + hlen) % ArrayAlign);
        if (hlen + padlen > ushort.MaxValue)
        {
            major = 2;
            prefixLength = 12;
            padlen = ArrayAlign - ((prefixLength + hlen) % ArrayAlign);
        }

        var prefix = new byte[prefixLength];
        Magic.CopyTo(prefix, 0);
        prefix[6] = major;
        prefix[7] = 0;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(8), (ushort)(hlen + padlen));
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), (uint)(hlen + padlen));
        }

        s.Write(prefix);
        s.Write(text);
        Span<byte> pad = stackalloc byte[padlen + 1];
        pad.Fill((byte)' ');
        pad[^1] = (byte)'\n';
        s.Write(pad);
        s.Write(t.Data);
    }

    internal static string Descr(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => "<f4",
        TensorDType.Float16 => "<f2",
        TensorDType.Float64 => "<f8",
        TensorDType.Int64 => "<i8",
        TensorDType.Int32 => "<i4",
        TensorDType.Int16 => "<i2",
        TensorDType.Int8 => "|i1",
        TensorDType.UInt8 => "|u1",
        TensorDType.Bool => "|b1",
        TensorDType.BFloat16 => throw new NotSupportedException(
            "NumPy has no bfloat16 dtype; convert the tensor to float32 (TensorConversion.ToDType) before writing it to .npy/.npz."),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    private static (TensorDType DType, bool BigEndian) ParseDescr(string descr, string name)
    {
        NpyFormatException Unsupported(string why) => new(
            $"Array {name}: unsupported dtype '{descr}' ({why}); supported: <f4 <f2 <f8 <i8 <i4 <i2 |i1 |u1 |b1 (any byte order).");

        if (descr.Length < 2)
        {
            throw Unsupported("not a simple type string");
        }

        char order = descr[0];
        string code = descr[1..];
        if (order is not ('<' or '>' or '=' or '|'))
        {
            throw Unsupported("no byte-order character");
        }

        TensorDType dtype = code switch
        {
            "f4" => TensorDType.Float32,
            "f2" => TensorDType.Float16,
            "f8" => TensorDType.Float64,
            "i8" => TensorDType.Int64,
            "i4" => TensorDType.Int32,
            "i2" => TensorDType.Int16,
            "i1" => TensorDType.Int8,
            "u1" => TensorDType.UInt8,
            "b1" => TensorDType.Bool,
            _ => throw Unsupported(code[0] switch
            {
                'U' or 'S' or 'a' => "strings are not supported",
                'O' => "object arrays are not supported",
                'c' => "complex numbers are not supported",
                'V' => "void/structured types are not supported",
                'M' or 'm' => "datetime types are not supported",
                'u' => "unsigned types wider than one byte are not supported",
                _ => "unknown type code",
            }),
        };

        // '|' means "not applicable" and is only valid for one-byte types; '=' is native order (little-endian on every platform we run on).
        if (order == '|' && dtype.ByteSize() != 1)
        {
            throw Unsupported("'|' byte order on a multi-byte type");
        }

        bool bigEndian = dtype.ByteSize() > 1 && (order == '>' || (order == '=' && !BitConverter.IsLittleEndian));
        if (dtype.ByteSize() > 1 && !BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("HostTensor holds little-endian data; big-endian hosts are not supported.");
        }

        return (dtype, bigEndian);
    }

    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string header, string name)
    {
        object? parsed;
        try
        {
            parsed = new PyLiteralParser(header).ParseTop();
        }
        catch (FormatException ex)
        {
            throw new NpyFormatException($"Array {name}: malformed .npy header ({ex.Message}): {header.TrimEnd()}", ex);
        }

        if (parsed is not Dictionary<string, object?> dict)
        {
            throw new NpyFormatException($"Array {name}: the .npy header is not a dict: {header.TrimEnd()}");
        }

        if (!dict.TryGetValue("descr", out object? descrValue) || !dict.TryGetValue("fortran_order", out object? fortranValue) ||
            !dict.TryGetValue("shape", out object? shapeValue))
        {
            throw new NpyFormatException($"Array {name}: the .npy header lacks 'descr', 'fortran_order' or 'shape': {header.TrimEnd()}");
        }

        if (descrValue is not string descr)
        {
            throw new NpyFormatException($"Array {name}: unsupported dtype {header.TrimEnd()} (structured/record dtypes are not supported).");
        }

        if (fortranValue is not bool fortran)
        {
            throw new NpyFormatException($"Array {name}: 'fortran_order' must be True or False: {header.TrimEnd()}");
        }

        if (shapeValue is not List<object?> dims || dims.Any(d => d is not long l || l < 0))
        {
            throw new NpyFormatException($"Array {name}: 'shape' must be a tuple of non-negative integers: {header.TrimEnd()}");
        }

        return (descr, fortran, dims.Select(d => (long)d!).ToArray());
    }

    private static void SwapBytes(byte[] data, int size)
    {
        for (int i = 0; i < data.Length; i += size)
        {
            data.AsSpan(i, size).Reverse();
        }
    }

    /// <summary>Fortran order for shape S is C order for reversed S; walk the C-order output and gather from column-major strides.</summary>
    private static byte[] FortranToC(byte[] src, long[] shape, int elementSize)
    {
        int rank = shape.Length;
        var fStride = new long[rank];
        long stride = elementSize;
        for (int d = 0; d < rank; d++)
        {
            fStride[d] = stride;
            stride *= shape[d];
        }

        var dst = new byte[src.Length];
        var index = new long[rank];
        long srcOffset = 0;
        for (long dstOffset = 0; dstOffset < dst.LongLength; dstOffset += elementSize)
        {
            Array.Copy(src, srcOffset, dst, dstOffset, elementSize);

            // Increment the C-order multi-index (last axis fastest) and keep the Fortran offset in step.
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d]++;
                srcOffset += fStride[d];
                if (index[d] < shape[d])
                {
                    break;
                }

                srcOffset -= fStride[d] * shape[d];
                index[d] = 0;
            }
        }

        return dst;
    }

    private static void ReadHeaderBytes(Stream s, Span<byte> buffer, string name)
    {
        if (ReadFully(s, buffer) < buffer.Length)
        {
            throw new NpyFormatException($"Array {name}: truncated .npy header.");
        }
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = s.Read(buffer[done..]);
            if (n <= 0)
            {
                break;
            }

            done += n;
        }

        return done;
    }

    /// <summary>Just enough of Python literal syntax for .npy headers: dicts, tuples, lists, strings, ints, True/False/None.</summary>
    private sealed class PyLiteralParser(string text)
    {
        private int _pos;

        public object? ParseTop()
        {
            object? value = ParseValue();
            SkipWhitespace();
            if (_pos != text.Length)
            {
                throw new FormatException($"unexpected text at position {_pos}");
            }

            return value;
        }

        private object? ParseValue()
        {
            SkipWhitespace();
            if (_pos >= text.Length)
            {
                throw new FormatException("unexpected end of header");
            }

            char c = text[_pos];
            switch (c)
            {
                case '{':
                    return ParseDict();
                case '(':
                    return ParseSequence(')');
                case '[':
                    return ParseSequence(']');
                case '\'' or '"':
                    return ParseString();
                default:
                    if (c == '-' || char.IsAsciiDigit(c))
                    {
                        return ParseInt();
                    }

                    return ParseWord();
            }
        }

        private Dictionary<string, object?> ParseDict()
        {
            _pos++; // {
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (true)
            {
                SkipWhitespace();
                if (Peek() == '}')
                {
                    _pos++;
                    return dict;
                }

                if (ParseValue() is not string key)
                {
                    throw new FormatException("dict keys must be strings");
                }

                SkipWhitespace();
                Expect(':');
                dict[key] = ParseValue();
                SkipWhitespace();
                if (Peek() == ',')
                {
                    _pos++;
                }
                else if (Peek() != '}')
                {
                    throw new FormatException($"expected ',' or '}}' at position {_pos}");
                }
            }
        }

        private List<object?> ParseSequence(char close)
        {
            _pos++;
            var items = new List<object?>();
            while (true)
            {
                SkipWhitespace();
                if (Peek() == close)
                {
                    _pos++;
                    return items;
                }

                items.Add(ParseValue());
                SkipWhitespace();
                if (Peek() == ',')
                {
                    _pos++;
                }
                else if (Peek() != close)
                {
                    throw new FormatException($"expected ',' or '{close}' at position {_pos}");
                }
            }
        }

        private string ParseString()
        {
            char quote = text[_pos++];
            var sb = new StringBuilder();
            while (_pos < text.Length && text[_pos] != quote)
            {
                if (text[_pos] == '\\' && _pos + 1 < text.Length)
                {
                    _pos++;
                }

                sb.Append(text[_pos++]);
            }

            Expect(quote);
            return sb.ToString();
        }

        private long ParseInt()
        {
            int start = _pos;
            if (text[_pos] == '-')
            {
                _pos++;
            }

            while (_pos < text.Length && char.IsAsciiDigit(text[_pos]))
            {
                _pos++;
            }

            // Python 2 era headers may carry an 'L' suffix on longs.
            string digits = text[start.._pos];
            if (_pos < text.Length && text[_pos] is 'L' or 'l')
            {
                _pos++;
            }

            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                throw new FormatException($"bad integer '{digits}'");
            }

            return value;
        }

        private object? ParseWord()
        {
            int start = _pos;
            while (_pos < text.Length && char.IsAsciiLetter(text[_pos]))
            {
                _pos++;
            }

            return text[start.._pos] switch
            {
                "True" => true,
                "False" => false,
                "None" => null,
                var w => throw new FormatException($"unexpected token '{(w.Length > 0 ? w : text[start].ToString())}' at position {start}"),
            };
        }

        private char Peek() => _pos < text.Length ? text[_pos] : throw new FormatException("unexpected end of header");

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw new FormatException($"expected '{c}' at position {_pos}");
            }

            _pos++;
        }

        private void SkipWhitespace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }
    }
}
