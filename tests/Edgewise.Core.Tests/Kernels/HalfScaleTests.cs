using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>
/// Block scales: the SIMD widening and gathers against <see cref="Fp16.ScaleToFloat"/>, their one definition, for
/// every fp16 bit pattern, and whole kernels over scales a real quantizer never writes (subnormal, ±0, Inf, NaN).
/// </summary>
public sealed unsafe class HalfScaleTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public void WideningEqualsTheScalarDefinitionForEveryBitPattern()
    {
        if (!Avx2.IsSupported) return;
        ushort* bits = stackalloc ushort[8];
        float* lanes = stackalloc float[8];
        for (int first = 0; first < 65536; first += 8)
        {
            for (int k = 0; k < 8; k++) bits[k] = (ushort)(first + k);
            Avx.Store(lanes, RowDot.WidenHalfScales(Sse2.LoadVector128(bits)));
            for (int k = 0; k < 8; k++)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(Fp16.ScaleToFloat(bits[k])), BitConverter.SingleToInt32Bits(lanes[k]));
            }
        }
    }

    /// <summary>The scale gathers of the plain Q4_0 (18-byte) and Q8_0 (34-byte) layouts pick the right bytes.</summary>
    [Theory]
    [InlineData(18)]
    [InlineData(34)]
    public void GatheredScalesEqualTheScalarDefinition(int stride)
    {
        if (!RowDot.HasFastPath) return;
        var random = new Random(stride);
        byte[] bytes = GC.AllocateArray<byte>(8 * stride, pinned: true);
        float* lanes = stackalloc float[8];
        fixed (byte* p = bytes)
        {
            for (int round = 0; round < 200; round++)
            {
                random.NextBytes(bytes);
                Avx.Store(lanes, RowDot.GatherHalfScales(p, stride));
                for (int k = 0; k < 8; k++)
                {
                    float expected = Fp16.ScaleToFloat(BitConverter.ToUInt16(bytes, k * stride));
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(lanes[k]));
                }
            }
        }
    }

    /// <summary>
    /// Scales that only a broken or hand-made file holds: the fast kernels still equal their scalar twins (so the
    /// twin stays the definition) and stay finite where the twin does.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, false)]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.Q8_0, false)]
    public void KernelsAgreeWithTheTwinOnUnusualScales(GgmlType type, bool interleaved)
    {
        ushort[] patterns = [0x7C00, 0xFC00, 0x7E00, 0x7FFF, 0x0001, 0x83FF, 0x0000, 0x8000, 0x7BFF, 0x3C00];
        const int rows = 16, blocks = 19, columns = blocks * 32;
        int blockBytes = GgmlTypeInfo.BlockBytes(type);
        float[] values = QuantTestData.Random(rows * columns, 11);
        byte[] bytes = GC.AllocateArray<byte>((int)Quantizer.QuantizedBytes(type, values.Length), pinned: true);
        Quantizer.Quantize(type, values, bytes);
        double[] scaleMagnitude = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                ushort d = patterns[(r * blocks + b) % patterns.Length];
                BitConverter.TryWriteBytes(bytes.AsSpan((r * blocks + b) * blockBytes, 2), d);
                scaleMagnitude[r] += Math.Abs(Fp16.ScaleToFloat(d));
            }
        }
        float[] x = QuantTestData.Random(columns, 12, 2f);
        var fast = new float[rows];
        var scalar = new float[rows];
        fixed (byte* p = bytes)
        {
            WeightMatrix m = WeightMatrix.Create(new TensorView("blk.0.ffn_up.weight", type, [columns, rows], p, bytes.Length));
            if (interleaved) m = m.Interleave();
            m.MatMulCore(x, 1, fast, _pool, fast: true);
            m.MatMulCore(x, 1, scalar, WorkerPool.Inline, fast: false);
        }
        for (int r = 0; r < rows; r++)
        {
            Assert.True(float.IsFinite(scalar[r]), $"row {r}: the twin gave {scalar[r]}");
            // Each block term is at most |d| · 32 · 128 · 127 (activation quants are at most 127 after scaling by |x|max/127 <= 2/127).
            double bound = scaleMagnitude[r] * 32 * 128 * 2;
            Assert.True(Math.Abs(fast[r] - scalar[r]) <= 1e-6 * bound, $"{type} interleaved {interleaved} row {r}: fast {fast[r]} scalar {scalar[r]}");
        }
    }
}
