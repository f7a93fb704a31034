using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Quantization;

/// <summary>
/// The last step of ggml's K-quant reference quantizers, recomputed here from the stored block fields: with the
/// block's own fp16 scales, every level must be nearest_int of the value over its sub-block scale (plus min),
/// clamped. This checks the bit packing of scales, mins, low and high quant bits independently of the kernels.
/// </summary>
public class KQuantLayoutTests
{
    private static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    private static float HalfAt(byte[] b, int offset) => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(b, offset));

    /// <summary>get_scale_min_k4 written out from the block_q4_K layout comment.</summary>
    private static (int Scale, int Min) ScaleMin(byte[] b, int scalesOffset, int j)
    {
        byte Q(int k) => b[scalesOffset + k];
        return j < 4
            ? (Q(j) & 63, Q(j + 4) & 63)
            : ((Q(j + 4) & 0xF) | ((Q(j - 4) >> 6) << 4), (Q(j + 4) >> 4) | ((Q(j) >> 6) << 4));
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 15)]
    [InlineData(GgmlType.Q5_K, 31)]
    public void Q4_KAndQ5_KLevelsFollowTheirStoredScales(GgmlType type, int nmax)
    {
        float[] x = QuantTestData.Random(512, 31, 2f);
        byte[] q = QuantTestData.Quantize(type, x);
        int blockBytes = GgmlTypeInfo.BlockBytes(type);
        for (int block = 0; block < 2; block++)
        {
            int o = block * blockBytes;
            float d = HalfAt(q, o), dmin = HalfAt(q, o + 2);
            for (int i = 0; i < 256; i++)
            {
                int sub = i / 32, l = i % 32;
                (int sc, int m) = ScaleMin(q, o + 4, sub);
                int quantByte = type == GgmlType.Q4_K ? q[o + 16 + (sub / 2) * 32 + l] : q[o + 48 + (sub / 2) * 32 + l];
                int level = sub % 2 == 0 ? quantByte & 0xF : quantByte >> 4;
                if (type == GgmlType.Q5_K) level |= ((q[o + 16 + l] >> sub) & 1) << 4;
                float scale = d * sc;
                if (scale == 0) continue;
                int expected = Math.Clamp(NearestInt((x[block * 256 + i] + dmin * m) / scale), 0, nmax);
                Assert.Equal(expected, level);
            }
        }
    }

    [Fact]
    public void Q6_KLevelsFollowTheirStoredScales()
    {
        float[] x = QuantTestData.Random(512, 32, 2f);
        byte[] q = QuantTestData.Quantize(GgmlType.Q6_K, x);
        for (int block = 0; block < 2; block++)
        {
            int o = block * 210;
            float d = HalfAt(q, o + 208);
            for (int i = 0; i < 256; i++)
            {
                int half = i / 128, within = i % 128, quarter = within / 32, l = within % 32;
                int qlByte = q[o + half * 64 + (quarter % 2) * 32 + l];
                int level = (quarter < 2 ? qlByte & 0xF : qlByte >> 4) | (((q[o + 128 + half * 32 + l] >> (2 * quarter)) & 3) << 4);
                float scale = d * (sbyte)q[o + 192 + i / 16];
                if (scale == 0) continue;
                Assert.Equal(Math.Clamp(NearestInt(x[block * 256 + i] / scale), -32, 31) + 32, level);
            }
            // The scale of largest magnitude is stored as -128 (iscale = -128 / max_scale).
            int extreme = 0;
            for (int s = 0; s < 16; s++) extreme = Math.Max(extreme, Math.Abs((int)(sbyte)q[o + 192 + s]));
            Assert.Equal(128, extreme);
        }
    }

    [Fact]
    public void Q8_KStoresFloatScaleAndBlockSums()
    {
        float[] x = QuantTestData.Random(256, 33, 5f);
        byte[] q = QuantTestData.Quantize(GgmlType.Q8_K, x);
        float d = BitConverter.ToSingle(q, 0);
        float max = x.MaxBy(MathF.Abs);
        Assert.Equal(1 / (-127f / max), d);
        for (int g = 0; g < 16; g++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += (sbyte)q[4 + g * 16 + i];
            Assert.Equal(sum, BitConverter.ToInt16(q, 260 + 2 * g));
        }
    }
}
