using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

// Prompt batches for the K-quants of Q4_K_M files (Q4_K and Q6_K): each block's scales and quants are unpacked
// once for four activation rows. Per row the integer block dot and the float steps are those of FastQ4_K /
// FastQ6_K in the same order, so a batch equals one Fast call per row bit for bit.
internal static unsafe partial class RowDot
{
    /// <summary>Sub-blocks 2p and 2p+1 of a Q4_K block against four activation rows (quants at offset <paramref name="o"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4_KPair4(byte* q, Vector256<short> scales16, int pair, ActivationRow* acts, int o,
        ref Vector256<int> d0, ref Vector256<int> d1, ref Vector256<int> d2, ref Vector256<int> d3)
    {
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        Vector256<byte> raw = Avx.LoadVector256(q + 32 * pair);
        Vector256<byte> v0 = raw & lowMask;
        Vector256<byte> v1 = Nibbles.High(raw);
        Vector256<short> s0 = SelectScales(scales16, 2 * pair, 2 * pair), s1 = SelectScales(scales16, 2 * pair + 1, 2 * pair + 1);
        int x = o + 64 * pair;
        d0 += ScaledDot(v0, Avx.LoadVector256(acts[0].Qs + x), s0) + ScaledDot(v1, Avx.LoadVector256(acts[0].Qs + x + 32), s1);
        d1 += ScaledDot(v0, Avx.LoadVector256(acts[1].Qs + x), s0) + ScaledDot(v1, Avx.LoadVector256(acts[1].Qs + x + 32), s1);
        d2 += ScaledDot(v0, Avx.LoadVector256(acts[2].Qs + x), s0) + ScaledDot(v1, Avx.LoadVector256(acts[2].Qs + x + 32), s1);
        d3 += ScaledDot(v0, Avx.LoadVector256(acts[3].Qs + x), s0) + ScaledDot(v1, Avx.LoadVector256(acts[3].Qs + x + 32), s1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ4_KBatch4(BlockQ4_K* w, ActivationRow* acts, int blocks, float* y, long yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        float min0 = 0, min1 = 0, min2 = 0, min3 = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = w[b].Qs;
            UnpackScalesMins(w[b].Scales, out ulong scales, out ulong minima);
            Vector256<short> scales16 = WidenScales(scales, signed: false);
            Vector256<int> d0 = Vector256<int>.Zero, d1 = Vector256<int>.Zero, d2 = Vector256<int>.Zero, d3 = Vector256<int>.Zero;
            int o = b * 256;
            Q4_KPair4(q, scales16, 0, acts, o, ref d0, ref d1, ref d2, ref d3);
            Q4_KPair4(q, scales16, 1, acts, o, ref d0, ref d1, ref d2, ref d3);
            Q4_KPair4(q, scales16, 2, acts, o, ref d0, ref d1, ref d2, ref d3);
            Q4_KPair4(q, scales16, 3, acts, o, ref d0, ref d1, ref d2, ref d3);
            float d = Half(BitConverter.HalfToUInt16Bits(w[b].D)), dmin = Half(BitConverter.HalfToUInt16Bits(w[b].DMin));
            float dx = acts[0].Scales[b];
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d0), Vector256.Create(dx * d), acc0);
            min0 += dx * dmin * MinsDot(minima, acts[0].Sums + b * 16);
            dx = acts[1].Scales[b];
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d1), Vector256.Create(dx * d), acc1);
            min1 += dx * dmin * MinsDot(minima, acts[1].Sums + b * 16);
            dx = acts[2].Scales[b];
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d2), Vector256.Create(dx * d), acc2);
            min2 += dx * dmin * MinsDot(minima, acts[2].Sums + b * 16);
            dx = acts[3].Scales[b];
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d3), Vector256.Create(dx * d), acc3);
            min3 += dx * dmin * MinsDot(minima, acts[3].Sums + b * 16);
        }
        y[0] = Vector256.Sum(acc0) - min0;
        y[yStride] = Vector256.Sum(acc1) - min1;
        y[2 * yStride] = Vector256.Sum(acc2) - min2;
        y[3 * yStride] = Vector256.Sum(acc3) - min3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ6_KBatch4(BlockQ6_K* w, ActivationRow* acts, int blocks, float* y, long yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        float off0 = 0, off1 = 0, off2 = 0, off3 = 0;
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        Vector256<byte> twoBits = Vector256.Create((byte)0x03);
        for (int b = 0; b < blocks; b++)
        {
            byte* ql = w[b].Ql;
            byte* qh = w[b].Qh;
            sbyte* sc = w[b].Scales;
            Vector256<int> d0 = Vector256<int>.Zero, d1 = Vector256<int>.Zero, d2 = Vector256<int>.Zero, d3 = Vector256<int>.Zero;
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8)
            {
                Vector256<byte> l0 = Avx.LoadVector256(ql);
                Vector256<byte> l1 = Avx.LoadVector256(ql + 32);
                Vector256<byte> h = Avx.LoadVector256(qh);
                // Stored values are q + 32 in 0..63 (unsigned); the -32 comes back through the per-16 sums.
                Vector256<byte> v0 = (l0 & lowMask) | Avx2.ShiftLeftLogical((h & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v1 = (l1 & lowMask) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 2).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v2 = Nibbles.High(l0) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 4).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v3 = Nibbles.High(l1) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 6).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                Vector256<short> scales16 = WidenScales(Unsafe.ReadUnaligned<ulong>(sc), signed: true);
                Vector256<short> s0 = SelectScales(scales16, 0, 1), s1 = SelectScales(scales16, 2, 3);
                Vector256<short> s2 = SelectScales(scales16, 4, 5), s3 = SelectScales(scales16, 6, 7);
                int x = b * 256 + half * 128;
                d0 += Q6_KHalf(v0, v1, v2, v3, s0, s1, s2, s3, acts[0].Qs + x);
                d1 += Q6_KHalf(v0, v1, v2, v3, s0, s1, s2, s3, acts[1].Qs + x);
                d2 += Q6_KHalf(v0, v1, v2, v3, s0, s1, s2, s3, acts[2].Qs + x);
                d3 += Q6_KHalf(v0, v1, v2, v3, s0, s1, s2, s3, acts[3].Qs + x);
            }
            float d = Half(BitConverter.HalfToUInt16Bits(w[b].D));
            sc = w[b].Scales;
            Q6_KRow(d0, d, sc, acts[0], b, ref acc0, ref off0);
            Q6_KRow(d1, d, sc, acts[1], b, ref acc1, ref off1);
            Q6_KRow(d2, d, sc, acts[2], b, ref acc2, ref off2);
            Q6_KRow(d3, d, sc, acts[3], b, ref acc3, ref off3);
        }
        y[0] = Vector256.Sum(acc0) - off0;
        y[yStride] = Vector256.Sum(acc1) - off1;
        y[2 * yStride] = Vector256.Sum(acc2) - off2;
        y[3 * yStride] = Vector256.Sum(acc3) - off3;
    }

    /// <summary>One 128-value half of a Q6_K block against one activation row: the four scaled sub-block dots.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6_KHalf(Vector256<byte> v0, Vector256<byte> v1, Vector256<byte> v2, Vector256<byte> v3,
        Vector256<short> s0, Vector256<short> s1, Vector256<short> s2, Vector256<short> s3, sbyte* x)
        => ScaledDot(v0, Avx.LoadVector256(x), s0) + ScaledDot(v1, Avx.LoadVector256(x + 32), s1)
            + ScaledDot(v2, Avx.LoadVector256(x + 64), s2) + ScaledDot(v3, Avx.LoadVector256(x + 96), s3);

    /// <summary>The float steps of FastQ6_K for one row: scale the block dot, and collect the −32 offset through the sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6_KRow(Vector256<int> blockDot, float d, sbyte* sc, in ActivationRow a, int b, ref Vector256<float> acc, ref float offsetSum)
    {
        int offset = Q6_KOffset(sc, a.Sums + b * 16);
        float scale = a.Scales[b] * d;
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(scale), acc);
        offsetSum += scale * (32 * offset);
    }
}
