using System.Runtime.InteropServices;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.IO;

/// <summary>Element-type conversions between the floating-point types, used to write fp16/bf16 checkpoints.</summary>
public static class TensorConversion
{
    /// <summary>
    /// Converts between Float32, Float16, BFloat16 and Float64. Narrowing rounds to nearest, ties to even (overflow gives
    /// ±infinity, NaN stays NaN); widening is exact. Returns <paramref name="t"/> itself when it already has the target type.
    /// </summary>
    public static HostTensor ToDType(HostTensor t, TensorDType target)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.DType == target)
        {
            return t;
        }

        if (!IsFloat(t.DType) || !IsFloat(target))
        {
            throw new NotSupportedException(
                $"Conversion from {t.DType.ShortName()} to {target.ShortName()} is not supported (only between float32, float16, bfloat16 and float64).");
        }

        long n = t.ElementCount;
        var data = new byte[n * target.ByteSize()];
        var shape = (long[])t.Shape.Clone();
        if (t.DType == TensorDType.Float64)
        {
            ReadOnlySpan<double> src = t.AsSpan<double>();
            switch (target)
            {
                case TensorDType.Float32:
                    Convert(src, MemoryMarshal.Cast<byte, float>(data.AsSpan()), d => (float)d);
                    break;
                case TensorDType.Float16:
                    Convert(src, MemoryMarshal.Cast<byte, Half>(data.AsSpan()), d => (Half)d);
                    break;
                default:
                    Convert(src, MemoryMarshal.Cast<byte, ushort>(data.AsSpan()), DoubleToBFloat16);
                    break;
            }

            return new HostTensor(target, shape, data);
        }

        float[] wide = t.ToFloat32(); // exact for float16 and bfloat16
        switch (target)
        {
            case TensorDType.Float32:
                MemoryMarshal.AsBytes(wide.AsSpan()).CopyTo(data);
                break;
            case TensorDType.Float64:
                Convert<float, double>(wide, MemoryMarshal.Cast<byte, double>(data.AsSpan()), f => f);
                break;
            case TensorDType.Float16:
                Convert(wide, MemoryMarshal.Cast<byte, Half>(data.AsSpan()), f => (Half)f);
                break;
            default:
                Convert(wide, MemoryMarshal.Cast<byte, ushort>(data.AsSpan()), FloatToBFloat16);
                break;
        }

        return new HostTensor(target, shape, data);
    }

    /// <summary>float32 → bfloat16 bits, round to nearest even; NaN is kept a (quiet) NaN.</summary>
    public static ushort FloatToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float BFloat16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>
    /// float64 → bfloat16 without double rounding: narrow to float32 with round-to-odd (24 ≥ 8 + 2 bits), then round to nearest even.
    /// </summary>
    public static ushort DoubleToBFloat16(double value)
    {
        if (double.IsNaN(value))
        {
            return FloatToBFloat16(float.NaN);
        }

        float f = (float)value;
        if (double.IsInfinity(value) || (double)f == value)
        {
            return FloatToBFloat16(f);
        }

        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (Math.Abs((double)f) > Math.Abs(value))
        {
            bits--; // step toward zero: sign-magnitude encoding, works across the infinity and subnormal boundaries
        }

        bits |= 1u; // sticky bit: inexact
        return FloatToBFloat16(BitConverter.UInt32BitsToSingle(bits));
    }

    private static bool IsFloat(TensorDType d) =>
        d is TensorDType.Float32 or TensorDType.Float16 or TensorDType.BFloat16 or TensorDType.Float64;

    private static void Convert<TIn, TOut>(ReadOnlySpan<TIn> src, Span<TOut> dst, Func<TIn, TOut> f)
    {
        for (int i = 0; i < src.Length; i++)
        {
            dst[i] = f(src[i]);
        }
    }
}
