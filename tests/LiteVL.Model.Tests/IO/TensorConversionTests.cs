using LiteVL.Model.IO;
using LiteVL.Model.Tensors;
using static LiteVL.Model.Tests.IO.IoTestSupport;

namespace LiteVL.Model.Tests.IO;

public sealed class TensorConversionTests
{
    [Theory]
    [InlineData(1.5f, 0x3FC0)]
    [InlineData(-0.0078125f, 0xBC00)]
    [InlineData(1.00390625f, 0x3F80)]        // 1 + 2^-8: a tie, rounds to even (down)
    [InlineData(1.01171875f, 0x3F82)]        // 1 + 3*2^-8: a tie, rounds to even (up)
    [InlineData(1.0039064f, 0x3F81)]         // just above the tie: up
    [InlineData(3.4028235e38f, 0x7F80)]      // float.MaxValue overflows to +inf
    [InlineData(float.NegativeInfinity, 0xFF80)]
    [InlineData(-0f, 0x8000)]
    public void FloatToBFloat16_Value_RoundsToNearestEven(float value, int expectedBits)
    {
        Assert.Equal((ushort)expectedBits, TensorConversion.FloatToBFloat16(value));
    }

    [Fact]
    public void FloatToBFloat16_NaN_StaysNaN()
    {
        Assert.True(float.IsNaN(TensorConversion.BFloat16ToFloat(TensorConversion.FloatToBFloat16(float.NaN))));
        // A NaN whose payload lives only in the low 16 bits must not become infinity.
        float lowPayloadNaN = BitConverter.UInt32BitsToSingle(0x7F800001);
        Assert.True(float.IsNaN(TensorConversion.BFloat16ToFloat(TensorConversion.FloatToBFloat16(lowPayloadNaN))));
    }

    [Fact]
    public void ToDType_Float32ToBFloat16_MatchesScalarConversion()
    {
        HostTensor t = HostTensor.FromFloats([1.5f, -0.0078125f, 1.00390625f, 1.01171875f], 2, 2);

        HostTensor b = TensorConversion.ToDType(t, TensorDType.BFloat16);

        Assert.Equal(TensorDType.BFloat16, b.DType);
        Assert.Equal([2L, 2L], b.Shape);
        Assert.Equal(new ushort[] { 0x3FC0, 0xBC00, 0x3F80, 0x3F82 }, b.AsSpan<ushort>().ToArray());
        Assert.Equal([1.5f, -0.0078125f, 1f, 1.015625f], b.ToFloat32());
    }

    [Fact]
    public void ToDType_Float32ToFloat16_RoundsToNearestEvenAndOverflowsToInfinity()
    {
        float tiny = MathF.Pow(2, -25);
        HostTensor t = HostTensor.FromFloats([65504f, 65519f, 65520f, tiny, 3 * tiny, 1f / 3], 6);

        float[] back = TensorConversion.ToDType(t, TensorDType.Float16).ToFloat32();

        Assert.Equal(65504f, back[0]);
        Assert.Equal(65504f, back[1]);
        Assert.Equal(float.PositiveInfinity, back[2]);
        Assert.Equal(0f, back[3]);                      // half of the smallest subnormal: tie to even (zero)
        Assert.Equal(2 * MathF.Pow(2, -24), back[4]);   // 1.5 subnormal steps: tie to even (2)
        Assert.Equal(0.333251953125f, back[5]);
    }

    [Fact]
    public void DoubleToBFloat16_ValueJustAboveTie_AvoidsDoubleRounding()
    {
        // 1 + 2^-8 + 2^-40 rounds to 1 + 2^-8 in float32 (a bf16 tie, which would go down to even);
        // the correct bf16 rounding is up.
        double value = 1 + Math.Pow(2, -8) + Math.Pow(2, -40);

        Assert.Equal((ushort)0x3F81, TensorConversion.DoubleToBFloat16(value));
        Assert.Equal((ushort)0x3F80, TensorConversion.DoubleToBFloat16(1 + Math.Pow(2, -8)));
        Assert.Equal((ushort)0x7F80, TensorConversion.DoubleToBFloat16(1e300));
        Assert.Equal((ushort)0x0000, TensorConversion.DoubleToBFloat16(1e-300));
        Assert.Equal((ushort)0xBFC0, TensorConversion.DoubleToBFloat16(-1.5));
    }

    [Fact]
    public void ToDType_Float64ToFloat32AndBack_Converts()
    {
        var t = new HostTensor(TensorDType.Float64, [3], Bytes(0.1, -2.5, 1e300));

        HostTensor f = TensorConversion.ToDType(t, TensorDType.Float32);
        HostTensor d = TensorConversion.ToDType(f, TensorDType.Float64);

        Assert.Equal([0.1f, -2.5f, float.PositiveInfinity], f.ToFloat32());
        Assert.Equal(new[] { (double)0.1f, -2.5, double.PositiveInfinity }, d.AsSpan<double>().ToArray());
    }

    [Theory]
    [InlineData(TensorDType.Float16)]
    [InlineData(TensorDType.BFloat16)]
    public void ToDType_AllHalfPrecisionPatternsThroughFloat32_RoundTripExactly(TensorDType dtype)
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = (ushort)i;
        }

        var t = new HostTensor(dtype, [bits.Length], Bytes(bits));
        HostTensor back = TensorConversion.ToDType(TensorConversion.ToDType(t, TensorDType.Float32), dtype);

        ReadOnlySpan<ushort> result = back.AsSpan<ushort>();
        float[] original = t.ToFloat32();
        float[] backValues = back.ToFloat32();
        for (int i = 0; i < bits.Length; i++)
        {
            if (float.IsNaN(original[i]))
            {
                Assert.True(float.IsNaN(backValues[i]), $"pattern 0x{i:X4} lost NaN");
            }
            else
            {
                Assert.True(result[i] == bits[i], $"pattern 0x{i:X4} came back as 0x{result[i]:X4}");
            }
        }
    }

    [Fact]
    public void ToDType_SameType_ReturnsSameInstance()
    {
        HostTensor t = HostTensor.FromFloats([1f], 1);

        Assert.Same(t, TensorConversion.ToDType(t, TensorDType.Float32));
    }

    [Fact]
    public void ToDType_IntegerType_ThrowsNotSupported()
    {
        Assert.Throws<NotSupportedException>(() => TensorConversion.ToDType(HostTensor.FromInt64([1], 1), TensorDType.Float32));
        Assert.Throws<NotSupportedException>(() => TensorConversion.ToDType(HostTensor.FromFloats([1f], 1), TensorDType.Int32));
    }
}
