using System.Runtime.InteropServices;

namespace LiteVL.Model.Tensors;

/// <summary>Element types the model library moves between files (safetensors, .npz) and ONNX Runtime.</summary>
public enum TensorDType
{
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool,
}

public static class TensorDTypeExtensions
{
    public static int ByteSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.Float64 or TensorDType.Int64 => 8,
        TensorDType.Float32 or TensorDType.Int32 => 4,
        TensorDType.Float16 or TensorDType.BFloat16 or TensorDType.Int16 => 2,
        TensorDType.Int8 or TensorDType.UInt8 or TensorDType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The NumPy / safetensors style short name, used in error messages.</summary>
    public static string ShortName(this TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => "float32",
        TensorDType.Float16 => "float16",
        TensorDType.BFloat16 => "bfloat16",
        TensorDType.Float64 => "float64",
        TensorDType.Int64 => "int64",
        TensorDType.Int32 => "int32",
        TensorDType.Int16 => "int16",
        TensorDType.Int8 => "int8",
        TensorDType.UInt8 => "uint8",
        TensorDType.Bool => "bool",
        _ => dtype.ToString(),
    };
}

/// <summary>
/// A dense, C-ordered tensor in host memory: element type, shape and the raw little-endian bytes.
/// It is the one exchange type between the weight/array readers and the model code.
/// </summary>
public sealed class HostTensor
{
    public HostTensor(TensorDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long expected = ElementCountOf(shape) * dtype.ByteSize();
        if (expected != data.LongLength)
        {
            throw new ArgumentException(
                $"A {dtype.ShortName()} tensor of shape {FormatShape(shape)} needs {expected} bytes, got {data.LongLength}.",
                nameof(data));
        }

        DType = dtype;
        Shape = shape;
        Data = data;
    }

    public TensorDType DType { get; }

    public long[] Shape { get; }

    /// <summary>Raw little-endian element bytes, C order.</summary>
    public byte[] Data { get; }

    public long ElementCount => ElementCountOf(Shape);

    public int Rank => Shape.Length;

    public static long ElementCountOf(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Negative dimension in shape {FormatShape(shape.ToArray())}.");
            }

            n = checked(n * d);
        }

        return n;
    }

    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    public static HostTensor FromFloats(float[] values, params long[] shape) =>
        new(TensorDType.Float32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static HostTensor FromInt64(long[] values, params long[] shape) =>
        new(TensorDType.Int64, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static HostTensor FromBytes(byte[] values, params long[] shape) => new(TensorDType.UInt8, shape, values);

    /// <summary>View of the data as elements of <typeparamref name="T"/>; the caller names the matching type.</summary>
    public ReadOnlySpan<T> AsSpan<T>()
        where T : unmanaged => MemoryMarshal.Cast<byte, T>(Data);

    /// <summary>Elements converted to float32 (float16, bfloat16, float64 and integer types are widened or narrowed).</summary>
    public float[] ToFloat32()
    {
        var result = new float[ElementCount];
        switch (DType)
        {
            case TensorDType.Float32:
                AsSpan<float>().CopyTo(result);
                break;
            case TensorDType.Float16:
                {
                    var src = AsSpan<Half>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = (float)src[i];
                    }

                    break;
                }

            case TensorDType.BFloat16:
                {
                    // bfloat16 is the upper half of a float32.
                    var src = AsSpan<ushort>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = BitConverter.Int32BitsToSingle(src[i] << 16);
                    }

                    break;
                }

            case TensorDType.Float64:
                {
                    var src = AsSpan<double>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = (float)src[i];
                    }

                    break;
                }

            case TensorDType.Int64:
                {
                    var src = AsSpan<long>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = src[i];
                    }

                    break;
                }

            case TensorDType.Int32:
                {
                    var src = AsSpan<int>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = src[i];
                    }

                    break;
                }

            case TensorDType.Int16:
                {
                    var src = AsSpan<short>();
                    for (int i = 0; i < result.Length; i++)
                    {
                        result[i] = src[i];
                    }

                    break;
                }

            case TensorDType.Int8:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (sbyte)Data[i];
                }

                break;
            case TensorDType.UInt8 or TensorDType.Bool:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = Data[i];
                }

                break;
            default:
                throw new NotSupportedException($"Cannot convert {DType.ShortName()} to float32.");
        }

        return result;
    }

    public override string ToString() => $"{DType.ShortName()}{FormatShape(Shape)}";
}
