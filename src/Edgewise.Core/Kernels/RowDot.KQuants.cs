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
    /// <summary>
    /// All eight 6-bit scales and mins of a Q4_K/Q5_K block at once, without get_scale_min_k4's branches:
    /// byte j of <paramref name="scales"/> is sub-block j's scale, byte j of <paramref name="mins"/> its min.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackScalesMins(byte* packed, out ulong scales, out ulong mins)
    {
        const uint Low6 = 0x3F3F3F3F, Low4 = 0x0F0F0F0F, Low2 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(packed), u1 = Unsafe.ReadUnaligned<uint>(packed + 4), u2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        // Sub-blocks 0-3 keep 6 bits in bytes 0-3 (scales) and 4-7 (mins); 4-7 take 4 low bits from bytes 8-11
        // and their top 2 bits from the spare bits 6-7 of bytes 0-3 (scales) and 4-7 (mins).
        uint scalesHigh = (u2 & Low4) | (((u0 >> 6) & Low2) << 4);
        uint minsHigh = ((u2 >> 4) & Low4) | (((u1 >> 6) & Low2) << 4);
        scales = (u0 & Low6) | ((ulong)scalesHigh << 32);
        mins = (u1 & Low6) | ((ulong)minsHigh << 32);
    }

    /// <summary>
    /// Sub-blocks 2p and 2p+1 of a Q4_K/Q5_K block: 32 bytes of quants, low nibbles for the first, high for the
    /// second, plus the fifth bits for Q5_K. Called with constant <paramref name="pair"/> (the loop is unrolled)
    /// so the scale-shuffle controls and bit masks are constants.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotKPair(byte* q, byte* qh, sbyte* x, Vector256<short> scales16, int pair, bool fifthBit)
    {
        Vector256<byte> lowMask = Vector256.Create((byte)0x0F);
        Vector256<byte> raw = Avx.LoadVector256(q + 32 * pair);
        Vector256<byte> v0 = raw & lowMask;
        Vector256<byte> v1 = Nibbles.High(raw);
        if (fifthBit)
        {
            // Sub-block s takes its fifth bit from bit s of qh[l].
            Vector256<byte> high = Avx.LoadVector256(qh);
            Vector256<byte> bit0 = Vector256.Create((byte)(1 << (2 * pair))), bit1 = Vector256.Create((byte)(2 << (2 * pair)));
            Vector256<byte> fifth = Vector256.Create((byte)0x10);
            v0 |= Avx2.CompareEqual(high & bit0, bit0) & fifth;
            v1 |= Avx2.CompareEqual(high & bit1, bit1) & fifth;
        }
        return ScaledDot(v0, Avx.LoadVector256(x + 64 * pair), SelectScales(scales16, 2 * pair, 2 * pair))
            + ScaledDot(v1, Avx.LoadVector256(x + 64 * pair + 32), SelectScales(scales16, 2 * pair + 1, 2 * pair + 1));
    }

    /// <summary>Σ over the eight sub-blocks of min_j · (sum of the 32 activation quants of sub-block j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MinsDot(ulong minima, int* bsums)
    {
        // hadd of sums 0-7 and 8-15 gives sub-block sums in lane order [0 1 4 5 | 2 3 6 7]; the mins follow suit.
        Vector256<int> subBlockSums = Avx2.HorizontalAdd(Avx.LoadVector256(bsums), Avx.LoadVector256(bsums + 8));
        Vector256<int> mins = Avx2.PermuteVar8x32(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(minima).AsByte()), Vector256.Create(0, 1, 4, 5, 2, 3, 6, 7));
        return Vector256.Sum(Avx2.MultiplyLow(mins, subBlockSums));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ4_K(BlockQ4_K* w, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        float minSum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            byte* q = w[b].Qs;
            UnpackScalesMins(w[b].Scales, out ulong scales, out ulong minima);
            Vector256<short> scales16 = WidenScales(scales, signed: false);
            Vector256<int> blockDot = DotKPair(q, null, x, scales16, 0, false) + DotKPair(q, null, x, scales16, 1, false)
                + DotKPair(q, null, x, scales16, 2, false) + DotKPair(q, null, x, scales16, 3, false);
            float dx = a.Scales[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(dx * Half(BitConverter.HalfToUInt16Bits(w[b].D))), acc);
            minSum += dx * Half(BitConverter.HalfToUInt16Bits(w[b].DMin)) * MinsDot(minima, a.Sums + b * 16);
        }
        return Vector256.Sum(acc) - minSum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ5_K(BlockQ5_K* w, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        float minSum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            byte* q = w[b].Qs;
            byte* qh = w[b].Qh;
            UnpackScalesMins(w[b].Scales, out ulong scales, out ulong minima);
            Vector256<short> scales16 = WidenScales(scales, signed: false);
            Vector256<int> blockDot = DotKPair(q, qh, x, scales16, 0, true) + DotKPair(q, qh, x, scales16, 1, true)
                + DotKPair(q, qh, x, scales16, 2, true) + DotKPair(q, qh, x, scales16, 3, true);
            float dx = a.Scales[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(dx * Half(BitConverter.HalfToUInt16Bits(w[b].D))), acc);
            minSum += dx * Half(BitConverter.HalfToUInt16Bits(w[b].DMin)) * MinsDot(minima, a.Sums + b * 16);
        }
        return Vector256.Sum(acc) - minSum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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
            int offset = Q6_KOffset(sc, bsums);
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, x += 128)
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
                blockDot += ScaledDot(v0, Avx.LoadVector256(x), SelectScales(scales16, 0, 1));
                blockDot += ScaledDot(v1, Avx.LoadVector256(x + 32), SelectScales(scales16, 2, 3));
                blockDot += ScaledDot(v2, Avx.LoadVector256(x + 64), SelectScales(scales16, 4, 5));
                blockDot += ScaledDot(v3, Avx.LoadVector256(x + 96), SelectScales(scales16, 6, 7));
            }
            float scale = a.Scales[b] * Half(BitConverter.HalfToUInt16Bits(w[b].D));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(blockDot), Vector256.Create(scale), acc);
            offsetSum += scale * (32 * offset);
        }
        return Vector256.Sum(acc) - offsetSum;
    }

    /// <summary>
    /// A 32-byte u8 x s8 dot with sub-block scales applied in the integer domain: int16 lanes 0-7 of
    /// <paramref name="scales"/> scale bytes 0-15, lanes 8-15 bytes 16-31. On AVX2 the scale rides in the
    /// madd that widens the byte-pair sums (no extra multiply); with VNNI it is one vpmulld after vpdpbusd.
    /// Byte-pair sums stay within int16: at most 2 * 63 * 127 for 6-bit values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledDot(Vector256<byte> unsignedValues, Vector256<sbyte> signedValues, Vector256<short> scales)
    {
        if (AvxVnni.IsSupported)
        {
            Vector256<int> dot = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, unsignedValues, signedValues);
            // Each int32 lane's scale is the int16 in its low half (both halves hold the same value).
            return Avx2.MultiplyLow(dot, Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(scales.AsInt32(), 16), 16));
        }
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(unsignedValues, signedValues), scales);
    }

    /// <summary>
    /// Eight 16-bit scales (one 128-bit lane, copied into both lanes) broadcast per sub-block with one byte
    /// shuffle each: <c>Select(all, lowIndex, highIndex)</c> puts scale lowIndex in int16 lanes 0-7 and highIndex
    /// in lanes 8-15. Far cheaper than building each broadcast from a scalar.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> SelectScales(Vector256<short> all, int lowIndex, int highIndex)
    {
        Vector128<byte> low = Vector128.Create((ushort)(0x0100 + 0x0202 * lowIndex)).AsByte();
        Vector128<byte> high = Vector128.Create((ushort)(0x0100 + 0x0202 * highIndex)).AsByte();
        return Avx2.Shuffle(all.AsByte(), Vector256.Create(low, high)).AsInt16();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> WidenScales(ulong eightBytes, bool signed)
    {
        Vector128<byte> bytes = Vector128.CreateScalar(eightBytes).AsByte();
        Vector128<short> widened = signed ? Sse41.ConvertToVector128Int16(bytes.AsSByte()) : Sse41.ConvertToVector128Int16(bytes).AsInt16();
        return Vector256.Create(widened, widened);
    }

    /// <summary>Σ scale_g · (sum of activation quants in 16-group g) over a Q6_K block's sixteen groups, exact in int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Q6_KOffset(sbyte* scales, int* bsums)
    {
        Vector128<sbyte> sc = Sse2.LoadVector128(scales);
        Vector256<int> products = Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(sc), Avx.LoadVector256(bsums))
            + Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(sc, 8)), Avx.LoadVector256(bsums + 8));
        return Vector256.Sum(products);
    }
}
