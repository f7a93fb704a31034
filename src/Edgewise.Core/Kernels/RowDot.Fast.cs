using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

// x86 fast paths. Integer block dots use VPDPBUSD (AvxVnni, 256-bit) when present and the AVX2
// maddubs + madd pair otherwise; both need one unsigned operand, so signed weights go through the
// abs/sign trick and unsigned nibbles subtract their offset through the activation block sums.
internal static unsafe partial class RowDot
{
    /// <summary>True when <see cref="Fast"/> has SIMD code on this machine (else it is the scalar twin).</summary>
    public static bool HasFastPath => Avx2.IsSupported && Fma.IsSupported;

    // Each format's kernel is NoInlining: inlined through this switch into the pool's tier-1 job dispatch, a big
    // kernel can exhaust the JIT's inline budget there and leave its own vector helpers as real calls.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Fast(GgmlType type, byte* w, in ActivationRow a, int columns)
    {
        if (!HasFastPath) return Scalar(type, w, a, columns);
        return type switch
        {
            GgmlType.F32 => FastF32((float*)w, a.Floats, columns),
            GgmlType.F16 => FastF16((ushort*)w, a.Floats, columns),
            GgmlType.BF16 => FastBF16((ushort*)w, a.Floats, columns),
            GgmlType.Q8_0 => FastQ8_0(w, a, columns / 32),
            GgmlType.Q8_1 => FastQ8_1(w, a, columns / 32),
            GgmlType.Q4_0 => FastQ4_0(w, a, columns / 32),
            GgmlType.Q4_1 => FastQ4_1(w, a, columns / 32),
            GgmlType.Q5_0 => FastQ5_0(w, a, columns / 32),
            GgmlType.Q4_K => FastQ4_K((BlockQ4_K*)w, a, columns / 256),
            GgmlType.Q5_K => FastQ5_K((BlockQ5_K*)w, a, columns / 256),
            GgmlType.Q6_K => FastQ6_K((BlockQ6_K*)w, a, columns / 256),
            _ => Scalar(type, w, a, columns),
        };
    }

    /// <summary>
    /// y[r] = row r · a for <paramref name="rows"/> rows <paramref name="rowBytes"/> apart: the same values as one
    /// <see cref="Fast"/> call per row. Q4_0 and Q8_0 loop over the rows inside one kernel, so the per-row dispatch,
    /// prologue and activation-pointer loads (several percent of a 1536-column row: only six eight-block iterations)
    /// are paid once per range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FastRows(GgmlType type, byte* w, long rowBytes, in ActivationRow a, int columns, float* y, int rows)
    {
        if (HasFastPath && type == GgmlType.Q4_0) FastQ4_0Rows(w, rowBytes, a, columns / 32, y, rows);
        else if (HasFastPath && type == GgmlType.Q8_0) FastQ8_0Rows(w, rowBytes, a, columns / 32, y, rows);
        else
        {
            for (int r = 0; r < rows; r++, w += rowBytes) y[r] = Fast(type, w, a, columns);
        }
    }

    /// <summary>Sum over adjacent byte pairs then over short pairs: eight int32 partial dots of 32 u8 x s8 products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotU8S8(Vector256<byte> unsignedValues, Vector256<sbyte> signedValues)
    {
        if (AvxVnni.IsSupported)
        {
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, unsignedValues, signedValues);
        }
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(unsignedValues, signedValues);
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastF32(float* w, float* x, int n)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), acc0);
            acc1 = Fma.MultiplyAdd(Avx.LoadVector256(w + i + 8), Avx.LoadVector256(x + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    /// <summary>Eight fp16 values widened exactly (the rebias trick of <see cref="Fp16.ToFloat"/>, lane-wise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> WidenHalf(Vector128<ushort> bits)
    {
        Vector256<int> v = Avx2.ConvertToVector256Int32(bits);
        Vector256<int> sign = Avx2.ShiftLeftLogical(v & Vector256.Create(0x8000), 16);
        Vector256<int> magnitude = Avx2.ShiftLeftLogical(v & Vector256.Create(0x7FFF), 13);
        Vector256<float> finite = magnitude.AsSingle() * Vector256.Create(Fp16.RebiasMultiplier);
        Vector256<int> infOrNan = magnitude | Vector256.Create(0x7F800000);
        Vector256<int> isSpecial = Avx2.CompareGreaterThan(magnitude, Vector256.Create(0x0F7FFFFF));
        return (Vector256.ConditionalSelect(isSpecial, infOrNan, finite.AsInt32()) | sign).AsSingle();
    }

    /// <summary>Eight fp16 block scales widened as <see cref="Fp16.ScaleToFloat"/> does: sign-extend, shift, mask, rebias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> WidenHalfScales(Vector128<ushort> bits)
        => HalfScalesUnbiased(bits) * Vector256.Create(Fp16.RebiasMultiplier);

    /// <summary>
    /// <see cref="WidenHalfScales"/> without the final ·2^112: every lane is an exact float, so a caller may fold
    /// the power of two into the factor it multiplies by next (x · (y · 2^112) rounds like (x · 2^112) · y).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> HalfScalesUnbiased(Vector128<ushort> bits)
        => (Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(bits.AsInt16()), 13) & Vector256.Create(Fp16.ScaleMask)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastF16(ushort* w, float* x, int n)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc = Fma.MultiplyAdd(WidenHalf(Sse2.LoadVector128(w + i)), Avx.LoadVector256(x + i), acc);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += Fp16.ToFloat(w[i]) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastBF16(ushort* w, float* x, int n)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> wv = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128(w + i)), 16).AsSingle();
            acc = Fma.MultiplyAdd(wv, Avx.LoadVector256(x + i), acc);
        }
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += Fp16.BF16ToFloat(w[i]) * x[i];
        return sum;
    }

    /// <summary>
    /// Eight per-block lane vectors reduced to one vector of eight block sums (lane k = block k): a horizontal-add
    /// tree, so eight blocks share one int-to-float conversion and one FMA instead of eight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> BlockSums(Vector256<int> d0, Vector256<int> d1, Vector256<int> d2, Vector256<int> d3,
        Vector256<int> d4, Vector256<int> d5, Vector256<int> d6, Vector256<int> d7)
    {
        Vector256<int> h0123 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(d0, d1), Avx2.HorizontalAdd(d2, d3));
        Vector256<int> h4567 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(d4, d5), Avx2.HorizontalAdd(d6, d7));
        // Each 128-bit half holds partial sums of blocks 0-3 (resp. 4-7): add the halves across. A blend takes
        // [h0123 low | h4567 high] on any ALU pipe; only the other pairing needs the lane-crossing permute.
        return Avx2.Blend(h0123, h4567, 0xF0) + Avx2.Permute2x128(h0123, h4567, 0x21);
    }

    /// <summary>
    /// The fp16 scales of eight consecutive blocks <paramref name="stride"/> bytes apart, widened. The words are
    /// packed in general-purpose registers, two 64-bit moves feed the vector unit: eight word inserts would cost
    /// sixteen shuffle-port uops on the pipes the block dots need.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> GatherHalfScales(byte* first, int stride) => WidenHalfScales(GatherHalves(first, stride));

    /// <summary>The fp16 scale bits of eight consecutive blocks <paramref name="stride"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<ushort> GatherHalves(byte* first, int stride)
    {
        // Every address is first + constant, so each load folds its offset (a helper taking a pointer costs copies).
        ulong s0123 = ScalePair(*(ushort*)first, *(uint*)(first + stride - 2))
            | (ulong)ScalePair(*(ushort*)(first + 2 * stride), *(uint*)(first + 3 * stride - 2)) << 32;
        ulong s4567 = ScalePair(*(ushort*)(first + 4 * stride), *(uint*)(first + 5 * stride - 2))
            | (ulong)ScalePair(*(ushort*)(first + 6 * stride), *(uint*)(first + 7 * stride - 2)) << 32;
        return Vector128.Create(s0123, s4567).AsUInt16();
    }

    /// <summary>Two adjacent blocks' scales as one dword: the second's comes as the top half of the dword that ends with it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ScalePair(ushort first, uint secondInTopHalf) => (secondInTopHalf & 0xFFFF0000u) | first;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ8Block(byte* quants, sbyte* x) => DotQ8Block(Avx.LoadVector256((sbyte*)quants), Avx.LoadVector256(x));

    /// <summary>One Q8_0 block's 32 weights times 32 activation quants, as eight int32 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ8Block(Vector256<sbyte> wq, Vector256<sbyte> x)
        // |w| * (x * sign(w)) == w * x with an unsigned left operand (|w| <= 128 fits a byte).
        => DotU8S8(Avx2.Abs(wq), Avx2.Sign(x, wq));

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ8_0(byte* w, in ActivationRow a, int blocks) => Q8Dot(w, 34, a, blocks);

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ8_0Rows(byte* w, long rowBytes, in ActivationRow a, int blocks, float* y, int rows)
    {
        for (int r = 0; r < rows; r++, w += rowBytes) y[r] = Q8Dot(w, 34, a, blocks);
    }

    // Q8_1 shares Q8_0's quants and first scale. Each wrapper makes the block size a constant, so every weight and
    // scale address in the loop folds its offset.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ8_1(byte* w, in ActivationRow a, int blocks) => Q8Dot(w, 36, a, blocks);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q8Dot(byte* w, int blockBytes, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        sbyte* xq = a.Qs;
        float* xd = a.Scales;
        int q = blockBytes - 32;
        int b = 0;
        // Loads are written with constant offsets from w and xq: passed as pointers to a helper, each costs a lea.
        for (; b + 8 <= blocks; b += 8, w += 8 * blockBytes, xq += 256, xd += 8)
        {
            Vector256<int> sums = BlockSums(
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + q)), Avx.LoadVector256(xq)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + blockBytes + q)), Avx.LoadVector256(xq + 32)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 2 * blockBytes + q)), Avx.LoadVector256(xq + 64)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 3 * blockBytes + q)), Avx.LoadVector256(xq + 96)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 4 * blockBytes + q)), Avx.LoadVector256(xq + 128)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 5 * blockBytes + q)), Avx.LoadVector256(xq + 160)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 6 * blockBytes + q)), Avx.LoadVector256(xq + 192)),
                DotQ8Block(Avx.LoadVector256((sbyte*)(w + 7 * blockBytes + q)), Avx.LoadVector256(xq + 224)));
            Vector256<float> scales = GatherHalfScales(w, blockBytes) * Avx.LoadVector256(xd);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), scales, acc);
        }
        return Q8_0Tail(w, blockBytes, a, b, blocks, Vector256.Sum(acc));
    }

    /// <summary>Blocks [b, blocks) after the groups of eight, added to <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q8_0Tail(byte* w, int blockBytes, in ActivationRow a, int b, int blocks, float sum)
    {
        int q = blockBytes - 32;
        for (sbyte* xq = a.Qs + b * 32; b < blocks; b++, w += blockBytes, xq += 32)
        {
            sum += Vector256.Sum(DotQ8Block(w + q, xq)) * (Half(*(ushort*)w) * a.Scales[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ4Block(byte* quants, sbyte* x)
    {
        Vector128<byte> lowMask = Vector128.Create((byte)0x0F);
        Vector128<byte> raw = Sse2.LoadVector128(quants);
        Vector128<byte> low = raw & lowMask;
        Vector128<byte> high = Nibbles.High(raw);
        return DotU8S8(Vector256.Create(low, high), Avx.LoadVector256(x));
    }

    /// <summary>
    /// Two Q4_0 blocks against paired activations: one 256-bit load brings both blocks' 16 quant bytes, the low
    /// nibbles meet the first 32 activation bytes and the high nibbles the next 32. Byte-pair sums of nibbles
    /// (at most 2 * 15 * 127) add safely in int16, so both halves share one widening madd.
    /// Lanes 0-3 of the result belong to the first block, lanes 4-7 to the second.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ4BlockPair(byte* firstBlock, sbyte* x)
    {
        Vector256<byte> low = UnpackQ4BlockPair(firstBlock, out Vector256<byte> high);
        return DotQ4BlockPair(low, high, x);
    }

    /// <summary>
    /// Two Q4_0 blocks' nibbles: one 256-bit value brings both blocks' 16 quant bytes; the low nibbles (returned)
    /// meet the first 32 paired activation bytes and the high nibbles (<paramref name="high"/>) the next 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> UnpackQ4BlockPair(byte* firstBlock, out Vector256<byte> high)
        => UnpackQ4BlockPair(Sse2.LoadVector128(firstBlock + 2), Sse2.LoadVector128(firstBlock + 20), Vector256.Create((byte)0x0F), out high);

    /// <summary>
    /// <see cref="UnpackQ4BlockPair(byte*, out Vector256{byte})"/> from the two blocks' quant bytes loaded by the
    /// caller (each address folds its offset) and the nibble mask built once, outside the caller's loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> UnpackQ4BlockPair(Vector128<byte> first, Vector128<byte> second, Vector256<byte> lowMask, out Vector256<byte> high)
    {
        Vector256<byte> raw = Vector256.Create(first, second);
        high = Nibbles.High(raw);
        return raw & lowMask;
    }

    /// <summary>
    /// Unpacked nibbles of two Q4_0 blocks against paired activations. Byte-pair sums of nibbles (at most
    /// 2 * 15 * 127) add safely in int16, so both halves share one widening madd. Lanes 0-3 of the result belong
    /// to the first block, lanes 4-7 to the second.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ4BlockPair(Vector256<byte> low, Vector256<byte> high, sbyte* x)
    {
        if (AvxVnni.IsSupported)
        {
            Vector256<int> dot = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, low, Avx.LoadVector256(x));
            return AvxVnni.MultiplyWideningAndAdd(dot, high, Avx.LoadVector256(x + 32));
        }
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(low, Avx.LoadVector256(x)) + Avx2.MultiplyAddAdjacent(high, Avx.LoadVector256(x + 32));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ4_0(byte* w, in ActivationRow a, int blocks) => Q4_0Dot(w, a, blocks);

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ4_0Rows(byte* w, long rowBytes, in ActivationRow a, int blocks, float* y, int rows)
    {
        for (int r = 0; r < rows; r++, w += rowBytes) y[r] = Q4_0Dot(w, a, blocks);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q4_0Dot(byte* w, in ActivationRow a, int blocks)
    {
        // Nibbles are stored as q + 8: dot the unsigned nibbles, then subtract 8 * sum(x) per block (exact, in int).
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);   // hoisted: built per pair it is rebuilt every pair
        sbyte* xq = a.Qs;
        float* xScales = a.RebiasedScales;
        int* xSums = a.OffsetSums;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * 18, xq += 256, xScales += 8, xSums += 8)
        {
            Vector256<byte> l01 = UnpackQ4BlockPair(Sse2.LoadVector128(w + 2), Sse2.LoadVector128(w + 20), mask, out Vector256<byte> h01);
            Vector256<byte> l23 = UnpackQ4BlockPair(Sse2.LoadVector128(w + 38), Sse2.LoadVector128(w + 56), mask, out Vector256<byte> h23);
            Vector256<byte> l45 = UnpackQ4BlockPair(Sse2.LoadVector128(w + 74), Sse2.LoadVector128(w + 92), mask, out Vector256<byte> h45);
            Vector256<byte> l67 = UnpackQ4BlockPair(Sse2.LoadVector128(w + 110), Sse2.LoadVector128(w + 128), mask, out Vector256<byte> h67);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q4_0BlockSums(l01, h01, l23, h23, l45, h45, l67, h67, xq, xSums)),
                HalfScalesUnbiased(GatherHalves(w, 18)) * Avx.LoadVector256(xScales), acc);
        }
        return Q4_0Tail(w, a, b, blocks, Vector256.Sum(acc));
    }

    /// <summary>
    /// Eight Q4_0 blocks' unpacked nibbles (four pairs) against 256 paired activation bytes: eight exact block
    /// sums (lane k = block k), less 8·Σx (<paramref name="offsetSums"/>, <see cref="ActivationRow.OffsetSums"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q4_0BlockSums(Vector256<byte> l01, Vector256<byte> h01, Vector256<byte> l23, Vector256<byte> h23,
        Vector256<byte> l45, Vector256<byte> h45, Vector256<byte> l67, Vector256<byte> h67, sbyte* x, int* offsetSums)
    {
        Vector256<int> h;
        if (AvxVnni.IsSupported)
        {
            Vector256<int> p01 = DotQ4BlockPair(l01, h01, x), p23 = DotQ4BlockPair(l23, h23, x + 64);
            Vector256<int> p45 = DotQ4BlockPair(l45, h45, x + 128), p67 = DotQ4BlockPair(l67, h67, x + 192);
            // hadd(p01, p23) = [b0 b0 b2 b2 | b1 b1 b3 b3] pair sums; once more gives [b0 b2 b4 b6 | b1 b3 b5 b7].
            h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p01, p23), Avx2.HorizontalAdd(p45, p67));
        }
        else
        {
            // The same tree in int16, before the widening madd: a lane of the last level sums 16 nibble·x products
            // (at most 16 * 15 * 127 = 30480), so one madd widens all eight blocks instead of one per pair.
            // The x loads are written out: passed as x + 64 etc. to a helper, each address costs a lea.
            Vector256<short> s01 = Avx2.MultiplyAddAdjacent(l01, Avx.LoadVector256(x)) + Avx2.MultiplyAddAdjacent(h01, Avx.LoadVector256(x + 32));
            Vector256<short> s23 = Avx2.MultiplyAddAdjacent(l23, Avx.LoadVector256(x + 64)) + Avx2.MultiplyAddAdjacent(h23, Avx.LoadVector256(x + 96));
            Vector256<short> s45 = Avx2.MultiplyAddAdjacent(l45, Avx.LoadVector256(x + 128)) + Avx2.MultiplyAddAdjacent(h45, Avx.LoadVector256(x + 160));
            Vector256<short> s67 = Avx2.MultiplyAddAdjacent(l67, Avx.LoadVector256(x + 192)) + Avx2.MultiplyAddAdjacent(h67, Avx.LoadVector256(x + 224));
            Vector256<short> t = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s01, s23), Avx2.HorizontalAdd(s45, s67));
            h = Avx2.MultiplyAddAdjacent(t, Vector256.Create((short)1));
        }
        Vector256<int> sums = Avx2.PermuteVar8x32(h, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
        return sums - Avx.LoadVector256(offsetSums);
    }

    /// <summary>Blocks [b, blocks) after the groups of eight, added to <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q4_0Tail(byte* w, in ActivationRow a, int b, int blocks, float sum)
    {
        sbyte* xq = a.Qs + b * 32;
        for (; b + 2 <= blocks; b += 2, w += 36, xq += 64)
        {
            Vector256<int> pair = DotQ4BlockPair(w, xq);
            int dot0 = Vector128.Sum(pair.GetLower()) - 8 * a.Sums[b];
            int dot1 = Vector128.Sum(pair.GetUpper()) - 8 * a.Sums[b + 1];
            sum += dot0 * (Half(*(ushort*)w) * a.Scales[b]) + dot1 * (Half(*(ushort*)(w + 18)) * a.Scales[b + 1]);
        }
        if (b < blocks)
        {
            int dot = Vector256.Sum(DotQ4Block(w + 2, xq)) - 8 * a.Sums[b];
            sum += dot * (Half(*(ushort*)w) * a.Scales[b]);
        }
        return sum;
    }
}
