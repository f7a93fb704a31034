using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

// K-quant fast paths against Q8_K activations. Sub-block scales multiply the integer lane sums before any float
// work; the min / offset terms come from the activation's per-16 sums, so each 256-value block costs one
// int-to-float conversion and one FMA.
internal static unsafe partial class RowDot
{
    private static float FastQ4_K(BlockQ4_K* w, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        float minSum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            int* bsums = a.Sums + b * 16;
            byte* q = w[b].Qs;
            byte* packed = w[b].Scales;
            Vector256<int> blockDot = Vector256<int>.Zero;
            int mins = 0;
            for (int pair = 0; pair < 4; pair++, q += 32, x += 64)
            {
                Quantizer.ScaleMinK4(2 * pair, packed, out int sc0, out int m0);
                Quantizer.ScaleMinK4(2 * pair + 1, packed, out int sc1, out int m1);
                Vector256<byte> raw = Avx.LoadVector256(q);
                Vector256<byte> low = raw & lowMask;
                Vector256<byte> high = Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & lowMask;
                Vector256<int> d0 = DotU8S8(low, Avx.LoadVector256(x));
                Vector256<int> d1 = DotU8S8(high, Avx.LoadVector256(x + 32));
                blockDot += Avx2.MultiplyLow(d0, Vector256.Create(sc0)) + Avx2.MultiplyLow(d1, Vector256.Create(sc1));
                mins += m0 * (bsums[4 * pair] + bsums[4 * pair + 1]) + m1 * (bsums[4 * pair + 2] + bsums[4 * pair + 3]);
            }
            float dx = a.Scales[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(dx * Half(BitConverter.HalfToUInt16Bits(w[b].D))), acc);
            minSum += dx * Half(BitConverter.HalfToUInt16Bits(w[b].DMin)) * mins;
        }
        return Vector256.Sum(acc) - minSum;
    }

    private static float FastQ6_K(BlockQ6_K* w, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        Vector256<byte> twoBits = Vector256.Create((byte)0x03);
        float offsetSum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            int* bsums = a.Sums + b * 16;
            byte* ql = w[b].Ql;
            byte* qh = w[b].Qh;
            sbyte* sc = w[b].Scales;
            Vector256<int> blockDot = Vector256<int>.Zero;
            int offset = 0;
            for (int g = 0; g < 16; g++) offset += sc[g] * bsums[g];
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, x += 128)
            {
                Vector256<byte> l0 = Avx.LoadVector256(ql);
                Vector256<byte> l1 = Avx.LoadVector256(ql + 32);
                Vector256<byte> h = Avx.LoadVector256(qh);
                // Stored values are q + 32 in 0..63 (unsigned); the -32 comes back through the per-16 sums.
                Vector256<byte> v0 = (l0 & lowMask) | Avx2.ShiftLeftLogical((h & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v1 = (l1 & lowMask) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 2).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v2 = (Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & lowMask) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 4).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                Vector256<byte> v3 = (Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & lowMask) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(h.AsUInt16(), 6).AsByte() & twoBits).AsUInt16(), 4).AsByte();
                blockDot += Avx2.MultiplyLow(DotU8S8(v0, Avx.LoadVector256(x)), SubScales(sc[0], sc[1]));
                blockDot += Avx2.MultiplyLow(DotU8S8(v1, Avx.LoadVector256(x + 32)), SubScales(sc[2], sc[3]));
                blockDot += Avx2.MultiplyLow(DotU8S8(v2, Avx.LoadVector256(x + 64)), SubScales(sc[4], sc[5]));
                blockDot += Avx2.MultiplyLow(DotU8S8(v3, Avx.LoadVector256(x + 96)), SubScales(sc[6], sc[7]));
            }
            float scale = a.Scales[b] * Half(BitConverter.HalfToUInt16Bits(w[b].D));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(scale), acc);
            offsetSum += scale * (32 * offset);
        }
        return Vector256.Sum(acc) - offsetSum;
    }

    /// <summary>Lanes 0-3 of a 32-byte dot cover bytes 0-15, lanes 4-7 bytes 16-31: one 16-value scale per half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SubScales(int first, int second)
        => Vector256.Create(Vector128.Create(first), Vector128.Create(second));
}
