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
    /// <see cref="ActivationQuantizer.Quantize"/> with the sixteen-block groups (AVX-512) and without: the same
    /// quants, scales and sums as the scalar twin, in the plain and the paired order, for group counts with and without
    /// a tail, for scales that fp16 stores as subnormals, that round across a power of two or up to 65504, for an
    /// all-zero block, and for groups that hold a NaN or an infinity (left to the block-by-block path, which is then
    /// the reference: the scalar twin converts NaN to 0 where cvtps2dq gives -128).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GroupedQuantizationMatchesTheScalarTwinInBothLayouts(bool paired)
    {
        ActivationKind kind = paired ? ActivationKind.Q8Block32Paired : ActivationKind.Q8Block32;
        bool wide = ActivationQuantizer.Wide;
        try
        {
            foreach (int blocks in new[] { 1, 15, 16, 17, 32, 33, 48, 49, 192 })
            {
                foreach (bool grouped in new[] { false, wide })
                {
                    ActivationQuantizer.Wide = grouped;
                    int columns = blocks * 32;
                    float[] x = QuantTestData.Random(columns, blocks, 3f);
                    for (int b = 0; b < blocks; b++)
                    {
                        float blockScale = (b % 7) switch
                        {
                            0 => 1e-4f,                 // d ≈ 8e-7: an fp16 subnormal
                            1 => 3e-7f,                 // d far down the subnormals
                            2 => 7.8e-3f / 3f,           // d next to the smallest normal half, 2^-14
                            3 => 65504f * 127f / 3f,    // d rounds to the largest half
                            4 => 2047.5f * 127f / 3f,   // d a tie between two halves
                            _ => 1f,
                        };
                        for (int j = 0; j < 32; j++) x[b * 32 + j] *= blockScale;
                    }
                    if (blocks >= 3) Array.Clear(x, 64, 32);           // an all-zero block
                    if (blocks >= 33) x[32 * 20 + 5] = float.NaN;      // the second group falls back
                    if (blocks >= 49) x[32 * 40 + 9] = float.PositiveInfinity;
                    AssertMatchesScalar(kind, x, blocks, $"{blocks} blocks, grouped {grouped}");
                }
            }
        }
        finally
        {
            ActivationQuantizer.Wide = wide;
        }
    }

    private static void AssertMatchesScalar(ActivationKind kind, float[] x, int blocks, string what)
    {
        int columns = blocks * 32;
        var q = new sbyte[columns];
        var scales = new float[blocks];
        var sums = new int[blocks];
        byte[] scratch = GC.AllocateArray<byte>(ActivationQuantizer.BytesPerRow(kind, columns), pinned: true);
        fixed (float* xp = x)
        fixed (sbyte* qp = q)
        fixed (float* sp = scales)
        fixed (int* up = sums)
        fixed (byte* scratchp = scratch)
        {
            if (Array.TrueForAll(x, float.IsFinite)) ActivationQuantizer.QuantizeQ8_0(xp, qp, sp, up, columns);
            else ActivationQuantizer.QuantizeQ8_0Fast(xp, qp, sp, up, columns);
            ActivationRow row = ActivationQuantizer.Layout(kind, xp, scratchp, columns);
            ActivationQuantizer.Quantize(kind, row, columns);
            for (int b = 0; b < blocks; b++)
            {
                Assert.True(scales[b].Equals(row.Scales[b]), $"{what}: block {b} scale {row.Scales[b]}, scalar {scales[b]}");
                Assert.True(sums[b] == row.Sums[b], $"{what}: block {b} sum {row.Sums[b]}, scalar {sums[b]}");
                for (int j = 0; j < 32; j++)
                {
                    int at = kind == ActivationKind.Q8Block32Paired ? ActivationQuantizer.PairedOffset(b, j, blocks) : b * 32 + j;
                    Assert.True(q[b * 32 + j] == row.Qs[at], $"{what}: block {b} value {j} is {row.Qs[at]}, scalar {q[b * 32 + j]}");
                }
                if (kind != ActivationKind.Q8Block32Paired) continue;
                Assert.Equal(8 * sums[b], row.OffsetSums[b]);
                Assert.True((scales[b] * Fp16.RebiasMultiplier).Equals(row.RebiasedScales[b]), $"{what}: block {b} rebiased scale");
            }
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
