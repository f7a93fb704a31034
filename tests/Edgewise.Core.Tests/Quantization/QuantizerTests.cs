using System.Runtime.CompilerServices;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Quantization;

public class QuantizerTests
{
    [Fact]
    public void BlockStructsHaveGgmlSizes()
    {
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_0), Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_1), Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q5_0), Unsafe.SizeOf<BlockQ5_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_0), Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_1), Unsafe.SizeOf<BlockQ8_1>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q4_K), Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q5_K), Unsafe.SizeOf<BlockQ5_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q6_K), Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(GgmlTypeInfo.BlockBytes(GgmlType.Q8_K), Unsafe.SizeOf<BlockQ8_K>());
    }

    [Fact]
    public void NearestIntRoundsHalfToEven()
    {
        Assert.Equal(2, Quantizer.NearestInt(2.5f));
        Assert.Equal(4, Quantizer.NearestInt(3.5f));
        Assert.Equal(-2, Quantizer.NearestInt(-2.5f));
        Assert.Equal(-3, Quantizer.NearestInt(-2.6f));
        Assert.Equal(0, Quantizer.NearestInt(0.49f));
    }

    [Fact]
    public void Fp16ConversionIsExactForEveryHalf()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float actual = Fp16.ToFloat((ushort)bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual));
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));
        }
    }

    [Fact]
    public void ScaleConversionIsExactForFiniteHalvesAndFiniteForTheRest()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            float actual = Fp16.ScaleToFloat((ushort)bits);
            if ((bits & 0x7C00) != 0x7C00)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(Fp16.ToFloat((ushort)bits)), BitConverter.SingleToInt32Bits(actual));
                continue;
            }
            // Inf/NaN patterns (a broken block scale): the finite ±2^16·(1 + m/1024), never an exception or NaN.
            float expected = (1 + (bits & 0x3FF) / 1024f) * 65536f * ((bits & 0x8000) != 0 ? -1 : 1);
            Assert.Equal(expected, actual);
        }
    }

    // Expected bytes computed here from quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) (half away from zero).
    [Fact]
    public void Q8_0MatchesReferenceBytes()
    {
        float[] x = QuantTestData.Random(64, 1, 3f);
        x[5] = -3.5f; // the block's amax, negative
        byte[] actual = QuantTestData.Quantize(GgmlType.Q8_0, x);
        for (int b = 0; b < 2; b++)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
            float d = amax / 127f;
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)d), QuantTestData.HalfBits(actual, b * 34));
            for (int j = 0; j < 32; j++)
            {
                sbyte expected = (sbyte)MathF.Round(x[b * 32 + j] * (1f / d), MidpointRounding.AwayFromZero);
                Assert.Equal(expected, (sbyte)actual[b * 34 + 2 + j]);
            }
        }
        Assert.Equal(-127, (sbyte)actual[2 + 5]);
    }

    // quantize_row_q4_0_ref: d = max/-8 where max is the signed value of largest magnitude; q = min(15, trunc(x/d + 8.5)).
    [Fact]
    public void Q4_0MatchesReferenceBytes()
    {
        float[] x = QuantTestData.Random(32, 2, 1f);
        x[7] = 1.6f; // largest magnitude, positive, so d is negative
        byte[] actual = QuantTestData.Quantize(GgmlType.Q4_0, x);
        float d = 1.6f / -8f;
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)d), QuantTestData.HalfBits(actual, 0));
        for (int j = 0; j < 16; j++)
        {
            int lo = Math.Min(15, (int)(x[j] * (1f / d) + 8.5f));
            int hi = Math.Min(15, (int)(x[j + 16] * (1f / d) + 8.5f));
            Assert.Equal((byte)(lo | (hi << 4)), actual[2 + j]);
        }
        // The maximum maps to level 0 (x/d = -8), i.e. the most negative level times a negative scale.
        Assert.Equal(0, actual[2 + 7] & 0x0F);
    }

    [Fact]
    public void Q4_1AndQ5_0MatchReferenceBytes()
    {
        float[] x = QuantTestData.Random(32, 3, 2f);
        byte[] q41 = QuantTestData.Quantize(GgmlType.Q4_1, x);
        float min = x.Min(), max = x.Max();
        float d = (max - min) / 15f;
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)d), QuantTestData.HalfBits(q41, 0));
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)min), QuantTestData.HalfBits(q41, 2));
        for (int j = 0; j < 16; j++)
        {
            int lo = Math.Min(15, (int)((x[j] - min) * (1f / d) + 0.5f));
            int hi = Math.Min(15, (int)((x[j + 16] - min) * (1f / d) + 0.5f));
            Assert.Equal((byte)(lo | (hi << 4)), q41[4 + j]);
        }

        byte[] q50 = QuantTestData.Quantize(GgmlType.Q5_0, x);
        float signedMax = x.MaxBy(MathF.Abs);
        float d5 = signedMax / -16f;
        uint qh = BitConverter.ToUInt32(q50, 2);
        for (int j = 0; j < 32; j++)
        {
            int level = Math.Min(31, (int)(x[j] * (1f / d5) + 16.5f));
            int stored = j < 16 ? q50[6 + j] & 0x0F : q50[6 + j - 16] >> 4;
            stored |= (int)((qh >> j) & 1) << 4;
            Assert.Equal(level, stored);
        }
    }

    // ggml test-quantize-fns: rmse over 0.1 + 2cos(i) must stay under 0.002 for every 4-bit and wider format.
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q8_1)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.Q8_K)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void RoundTripErrorWithinGgmlBound(GgmlType type)
    {
        const int n = 32 * 128;
        float[] x = QuantTestData.Synthetic(n, 0f);
        float[] y = QuantTestData.Dequantize(type, QuantTestData.Quantize(type, x), n);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (x[i] - y[i]) * (double)(x[i] - y[i]);
        double rmse = Math.Sqrt(sum) / n;
        Assert.InRange(rmse, 0, 0.002);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 0.5)]
    // Q4_0/Q5_0 put the largest magnitude at level -8 (-16): values of the other sign near it clamp at +7 (+15), a full step.
    [InlineData(GgmlType.Q4_0, 1.0)]
    [InlineData(GgmlType.Q5_0, 1.0)]
    public void SymmetricFormatsErrWithinAStepBound(GgmlType type, double steps)
    {
        float[] x = QuantTestData.Random(32 * 64, 11, 4f);
        float[] y = QuantTestData.Dequantize(type, QuantTestData.Quantize(type, x), x.Length);
        int levels = type switch { GgmlType.Q8_0 => 127, GgmlType.Q4_0 => 8, _ => 16 };
        for (int b = 0; b < x.Length / 32; b++)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
            double step = amax / levels;
            for (int j = 0; j < 32; j++)
            {
                // Half a step, plus the fp16 rounding of the scale carried across up to 16 levels.
                Assert.True(Math.Abs(x[b * 32 + j] - y[b * 32 + j]) <= steps * step + amax * 1e-3, $"{type} block {b} value {j}");
            }
        }
    }

    [Fact]
    public void AllZeroBlocksStayZero()
    {
        foreach (GgmlType type in QuantTestData.QuantizableTypes)
        {
            float[] y = QuantTestData.Dequantize(type, QuantTestData.Quantize(type, new float[512]), 512);
            Assert.All(y, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Q6_KPacksLevelsAsGgmlDescribes()
    {
        float[] x = QuantTestData.Random(256, 5, 1f);
        byte[] q = QuantTestData.Quantize(GgmlType.Q6_K, x);
        float[] y = QuantTestData.Dequantize(GgmlType.Q6_K, q, 256);
        // Rebuild each value from the raw fields following block_q6_K's comment: ql low/high nibbles, qh 2-bit pairs.
        float d = (float)BitConverter.UInt16BitsToHalf(QuantTestData.HalfBits(q, 208));
        for (int i = 0; i < 256; i++)
        {
            int half = i / 128, within = i % 128, quarter = within / 32, l = within % 32;
            int qlByte = q[half * 64 + (quarter % 2) * 32 + l];
            int low = quarter < 2 ? qlByte & 0xF : qlByte >> 4;
            int high = (q[128 + half * 32 + l] >> (2 * quarter)) & 3;
            int scale = (sbyte)q[192 + i / 16];
            Assert.Equal(d * scale * ((low | (high << 4)) - 32), y[i]);
        }
    }

    [Fact]
    public void ShortDestinationIsRejectedWithSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q4_0, new float[64], new byte[35]));
        Assert.Contains("36", ex.Message);
    }

    /// <summary>
    /// Column blocks of a padded strip (a zero column, halves near the rounding midpoint, odd column counts around
    /// the eight-wide vector step): fast, scalar and Quantize on each gathered column write the same bytes.
    /// </summary>
    [Fact]
    public void Q8_0ColumnsEqualQuantizingEachGatheredColumn()
    {
        foreach (int columns in new[] { 1, 7, 8, 9, 40 })
        {
            int stride = columns + 5, first = 3;
            float[] values = QuantTestData.Random(32 * stride, columns, 6f);
            for (int k = 0; k < 32; k++) values[k * stride + first] = 0f;                       // an all-zero column
            if (columns > 1) for (int k = 0; k < 32; k++) values[k * stride + first + 1] = (k - 16) * 0.5f + 0.25f;   // ties after scaling
            int usable = Math.Min(columns, stride - first);
            const int dstStride = 40;
            var fast = new byte[usable * dstStride];
            var scalar = new byte[usable * dstStride];
            Quantizer.QuantizeQ8_0Columns(values, stride, first, usable, fast, dstStride, fast: true);
            Quantizer.QuantizeQ8_0Columns(values, stride, first, usable, scalar, dstStride, fast: false);
            Assert.Equal(scalar, fast);
            var column = new float[32];
            var expected = new byte[34];
            for (int u = 0; u < usable; u++)
            {
                for (int k = 0; k < 32; k++) column[k] = values[k * stride + first + u];
                Quantizer.Quantize(GgmlType.Q8_0, column, expected);
                Assert.Equal(expected, fast.AsSpan(u * dstStride, 34).ToArray());
            }
        }
        Assert.Throws<ArgumentException>(() => Quantizer.QuantizeQ8_0Columns(new float[31 * 8 + 4], 8, 0, 8, new byte[8 * 34], 34));
    }
}
