using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tests.Quantization;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public unsafe class ActivationQuantizerTests
{
    [Fact]
    public void FastQ8_0ActivationQuantizationIsBitIdenticalToScalar()
    {
        for (int blocks = 1; blocks <= 40; blocks++)
        {
            float[] x = QuantTestData.Random(blocks * 32, blocks, 10f);
            x[0] = blocks % 3 == 0 ? 0 : x[0];
            if (blocks == 5) Array.Clear(x, 32, 32); // an all-zero block
            var q1 = new sbyte[x.Length];
            var q2 = new sbyte[x.Length];
            var s1 = new float[blocks];
            var s2 = new float[blocks];
            var u1 = new int[blocks];
            var u2 = new int[blocks];
            fixed (float* xp = x)
            fixed (sbyte* a = q1, b = q2)
            fixed (float* sa = s1, sb = s2)
            fixed (int* ua = u1, ub = u2)
            {
                ActivationQuantizer.QuantizeQ8_0(xp, a, sa, ua, x.Length);
                ActivationQuantizer.QuantizeQ8_0Fast(xp, b, sb, ub, x.Length);
            }
            Assert.Equal(q1, q2);
            Assert.Equal(s1, s2);
            Assert.Equal(u1, u2);
        }
    }

    /// <summary>
    /// The Q4_0 layout's derived arrays are exact restatements of the block sums and scales (8·Σx, d·2^112), so
    /// kernels that read them compute what the scalar twin computes from Sums and Scales; the largest fp16 scale
    /// still fits a float after the rebias.
    /// </summary>
    [Fact]
    public void PairedLayoutDerivesOffsetSumsAndRebiasedScalesExactly()
    {
        const int blocks = 9, columns = blocks * 32;
        float[] x = QuantTestData.Random(columns, 3, 4f);
        x[40] = 65504f * 127f;   // block 1's scale becomes the largest half
        Array.Clear(x, 64, 32);  // block 2 is all zero
        byte[] scratch = GC.AllocateArray<byte>(ActivationQuantizer.BytesPerRow(ActivationKind.Q8Block32Paired, columns), pinned: true);
        fixed (float* xp = x)
        fixed (byte* sp = scratch)
        {
            ActivationRow row = ActivationQuantizer.Layout(ActivationKind.Q8Block32Paired, xp, sp, columns);
            ActivationQuantizer.Quantize(ActivationKind.Q8Block32Paired, row, columns);
            Assert.Equal(65504f, row.Scales[1]);
            for (int b = 0; b < blocks; b++)
            {
                Assert.Equal(8 * row.Sums[b], row.OffsetSums[b]);
                Assert.True(float.IsFinite(row.RebiasedScales[b]), $"block {b}: {row.RebiasedScales[b]}");
                Assert.Equal(row.Scales[b], row.RebiasedScales[b] / Fp16.RebiasMultiplier);
            }
        }
    }
}
