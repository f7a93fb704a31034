using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

/// <summary>
/// One activation row prepared for dot products against a weight row: the float values (for F32/F16/BF16
/// weights) and, for quantized weights, 8-bit values with one scale per block and integer block sums.
/// 32-value formats use Q8_0-style blocks (scale per 32, sum per 32); K-quants use Q8_K-style blocks
/// (scale per 256, sum per 16). Struct-of-arrays so the kernels load 32 contiguous quants per block.
/// </summary>
internal readonly unsafe struct ActivationRow
{
    public ActivationRow(float* floats, sbyte* qs, float* scales, int* sums, int* offsetSums = null, float* rebiasedScales = null)
    {
        Floats = floats;
        Qs = qs;
        Scales = scales;
        Sums = sums;
        OffsetSums = offsetSums;
        RebiasedScales = rebiasedScales;
    }

    public readonly float* Floats;
    public readonly sbyte* Qs;
    public readonly float* Scales;
    public readonly int* Sums;

    /// <summary>
    /// <see cref="ActivationKind.Q8Block32Paired"/> only: 8·Σx per block, the share of the Q4_0 nibble offset in each
    /// block dot, so a kernel subtracts one broadcast load instead of loading, shifting and broadcasting.
    /// </summary>
    public readonly int* OffsetSums;

    /// <summary>
    /// <see cref="ActivationKind.Q8Block32Paired"/> only: each block scale times 2^112 (exact), the fp16 rebias of
    /// the weight scale moved to this side so <see cref="RowDot.HalfScalesUnbiased"/> needs no multiply of its own.
    /// </summary>
    public readonly float* RebiasedScales;
}

/// <summary>Which activation encoding a weight format multiplies against.</summary>
internal enum ActivationKind
{
    Float,
    Q8Block32,
    /// <summary>
    /// Q8Block32 with each pair of blocks stored as [b low 16, b+1 low 16, b high 16, b+1 high 16] (an odd last
    /// block stays plain). Nibble formats then unpack two blocks with one 256-bit load: the low nibbles of both
    /// blocks line up with the first 32 bytes, the high nibbles with the next 32.
    /// </summary>
    Q8Block32Paired,
    Q8K,
}

internal static unsafe class ActivationQuantizer
{
    public static ActivationKind KindFor(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => ActivationKind.Float,
        GgmlType.Q4_0 => ActivationKind.Q8Block32Paired,
        GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.Q4_1 or GgmlType.Q5_0 => ActivationKind.Q8Block32,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => ActivationKind.Q8K,
        _ => throw new NotSupportedException($"No matrix kernel for weight type {type}."),
    };

    /// <summary>Scratch bytes for one quantized activation row of <paramref name="columns"/> values (quants, scales, sums; 64-byte aligned parts).</summary>
    public static int BytesPerRow(ActivationKind kind, int columns) => kind switch
    {
        ActivationKind.Float => 0,
        ActivationKind.Q8Block32 => Align(columns) + Align(columns / 32 * 4) + Align(columns / 32 * 4),
        ActivationKind.Q8Block32Paired => Align(columns) + 4 * Align(columns / 32 * 4),
        _ => Align(columns) + Align(columns / 256 * 4) + Align(columns / 16 * 4),
    };

    private static int Align(int bytes) => (bytes + 63) & ~63;

    /// <summary>Lays out one row's parts inside <paramref name="scratch"/> (which holds <see cref="BytesPerRow"/> bytes).</summary>
    // Inlined: called once per work item from the kernels' job loop, where a separate (possibly still tier-0)
    // call returning the row by value cost more than the arithmetic.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ActivationRow Layout(ActivationKind kind, float* x, byte* scratch, int columns)
    {
        if (kind == ActivationKind.Float) return new ActivationRow(x, null, null, null);
        int blocks = kind == ActivationKind.Q8K ? columns / 256 : columns / 32;
        byte* scales = scratch + Align(columns);
        byte* sums = scales + Align(blocks * 4);
        if (kind != ActivationKind.Q8Block32Paired) return new ActivationRow(x, (sbyte*)scratch, (float*)scales, (int*)sums);
        byte* offsetSums = sums + Align(blocks * 4);
        byte* rebiasedScales = offsetSums + Align(blocks * 4);
        return new ActivationRow(x, (sbyte*)scratch, (float*)scales, (int*)sums, (int*)offsetSums, (float*)rebiasedScales);
    }

    public static void Quantize(ActivationKind kind, in ActivationRow row, int columns)
    {
        if (kind is ActivationKind.Q8Block32 or ActivationKind.Q8Block32Paired)
        {
            bool paired = kind == ActivationKind.Q8Block32Paired;
            int blocks = columns / 32;
            // Whole groups of sixteen blocks sixteen at a time (already paired), the rest block by block.
            int done = Wide ? QuantizeQ8_0Groups(row.Floats, row.Qs, row.Scales, row.Sums, blocks, paired) : 0;
            QuantizeQ8_0Fast(row.Floats + done * 32, row.Qs + done * 32, row.Scales + done, row.Sums + done, columns - done * 32);
            if (!paired) return;
            PairBlocks(row.Qs + done * 32, blocks - done);
            OffsetAndRebias(row.Sums, row.Scales, row.OffsetSums, row.RebiasedScales, blocks);
        }
        else if (kind == ActivationKind.Q8K) QuantizeQ8_K(row.Floats, row.Qs, row.Scales, row.Sums, columns);
    }

    /// <summary>
    /// Whether <see cref="Quantize"/> takes whole groups of sixteen Q8_0 blocks in 512-bit registers
    /// (<see cref="QuantizeQ8_0Groups"/>). Settable so tests run both paths on a machine that has AVX-512.
    /// </summary>
    internal static bool Wide { get; set; } = Avx512BW.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// <see cref="QuantizeQ8_0"/> for the first whole groups of sixteen blocks, bit-identical, with no scalar step:
    /// the sixteen block maxima and block sums are folded into one vector each (transposing reductions, three
    /// operations a block instead of a horizontal reduction each), and the sixteen scales are divided and rounded to
    /// fp16 as one vector. Quants are stored in the <see cref="ActivationKind.Q8Block32Paired"/> order when
    /// <paramref name="paired"/>. A group whose maxima hold a NaN or a scale past fp16's range (only broken inputs do)
    /// ends the grouped pass: it and the rest go block by block, the path that defines those cases. Returns the blocks
    /// done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int QuantizeQ8_0Groups(float* x, sbyte* qs, float* scales, int* sums, int blocks, bool paired)
    {
        float* ids = stackalloc float[16];
        int b = 0;
        for (; b + 16 <= blocks; b += 16, x += 512, qs += 512)
        {
            Vector512<float> amax = Max16(x);
            Vector512<float> d = amax / Vector512.Create(127f);
            if (!Vector512.LessThanAll(d, Vector512.Create(65520f))) break;   // NaN, or a scale fp16 rounds to infinity
            Vector512.ConditionalSelect(Vector512.Equals(amax, Vector512<float>.Zero), Vector512<float>.Zero, Vector512.Create(127f) / amax).Store(ids);
            RoundToHalf(d).Store(scales + b);
            Sum16(x, qs, ids, paired).Store(sums + b);
        }
        return b;
    }

    /// <summary>
    /// Each lane rounded to the nearest fp16 value (ties to even) and widened back, for 0 ≤ d &lt; 65520 (what
    /// <see cref="Fp16.Round"/> gives there): normal halves keep 11 significant bits, rounded in the float's bits;
    /// subnormal ones are multiples of 2^-24, the spacing of floats next to 0.5, so adding and removing 0.5 rounds them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> RoundToHalf(Vector512<float> d)
    {
        Vector512<uint> bits = d.AsUInt32();
        Vector512<float> normal = ((bits + Vector512.Create(0xFFFu) + ((bits >>> 13) & Vector512<uint>.One)) & Vector512.Create(0xFFFFE000u)).AsSingle();
        Vector512<float> half = Vector512.Create(0.5f);
        Vector512<float> subnormal = d + half - half;
        return Vector512.ConditionalSelect(Vector512.LessThan(d, Vector512.Create(1f / 16384)), subnormal, normal);
    }

    // The folds: a vector holding 2^k blocks' partial results, (16 >> k) lanes each, block-major, is combined with the
    // next such vector into one holding 2^(k+1) blocks, each lane the max (or sum) of two of its block's partials.
    private static readonly Vector512<int>[] FoldLow = [FoldIndex(0, false), FoldIndex(1, false), FoldIndex(2, false), FoldIndex(3, false)];
    private static readonly Vector512<int>[] FoldHigh = [FoldIndex(0, true), FoldIndex(1, true), FoldIndex(2, true), FoldIndex(3, true)];

    private static Vector512<int> FoldIndex(int level, bool high)
    {
        int n = 1 << level, width = 16 >> level, half = width / 2;
        var index = new int[16];
        for (int block = 0; block < 2 * n; block++)
        {
            for (int p = 0; p < half; p++)
            {
                int source = block < n ? block * width + p : 16 + (block - n) * width + p;
                index[block * half + p] = source + (high ? half : 0);
            }
        }
        return Vector512.Create(index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FoldMax(Vector512<float> a, Vector512<float> b, int level)
        => Vector512.Max(Avx512F.PermuteVar16x32x2(a, FoldLow[level], b), Avx512F.PermuteVar16x32x2(a, FoldHigh[level], b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> FoldSum(Vector512<int> a, Vector512<int> b, int level)
        => Avx512F.PermuteVar16x32x2(a, FoldLow[level], b) + Avx512F.PermuteVar16x32x2(a, FoldHigh[level], b);

    /// <summary>The sixteen maxima of |x| over the blocks at <paramref name="x"/>, one lane each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Max16(float* x) => FoldMax(Max8(x), Max8(x + 256), 3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Max8(float* x) => FoldMax(Max4(x), Max4(x + 128), 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Max4(float* x) => FoldMax(Max2(x), Max2(x + 64), 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Max2(float* x) => FoldMax(Max1(x), Max1(x + 32), 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Max1(float* x)
    {
        Vector512<float> sign = Vector512.Create(-0f);
        return Vector512.Max(Vector512.AndNot(Vector512.Load(x), sign), Vector512.AndNot(Vector512.Load(x + 16), sign));
    }

    /// <summary>Quantizes the sixteen blocks at <paramref name="x"/> with their inverse scales; returns their sums, one lane each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sum16(float* x, sbyte* qs, float* ids, bool paired)
        => FoldSum(Sum8(x, qs, ids, 0, paired), Sum8(x, qs, ids, 8, paired), 3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sum8(float* x, sbyte* qs, float* ids, int b, bool paired)
        => FoldSum(Sum4(x, qs, ids, b, paired), Sum4(x, qs, ids, b + 4, paired), 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sum4(float* x, sbyte* qs, float* ids, int b, bool paired)
        => FoldSum(Sum2(x, qs, ids, b, paired), Sum2(x, qs, ids, b + 2, paired), 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sum2(float* x, sbyte* qs, float* ids, int b, bool paired)
        => FoldSum(Quantize1(x, qs, ids, b, paired), Quantize1(x, qs, ids, b + 1, paired), 0);

    /// <summary>
    /// Block <paramref name="b"/> of the group: 32 quants stored (plain, or in the pair order [b low 16, b+1 low 16,
    /// b high 16, b+1 high 16]); returns its two halves' quants added lane by lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Quantize1(float* x, sbyte* qs, float* ids, int b, bool paired)
    {
        Vector512<float> id = Vector512.Create(ids[b]);
        // cvtps2dq rounds to nearest even, as MathF.Round(…, ToEven) in the scalar twin; |q| ≤ 127, so narrowing never saturates.
        Vector512<int> low = Avx512F.ConvertToVector512Int32(Vector512.Load(x + 32 * b) * id);
        Vector512<int> high = Avx512F.ConvertToVector512Int32(Vector512.Load(x + 32 * b + 16) * id);
        int lowAt = paired ? (b & ~1) * 32 + (b & 1) * 16 : b * 32, highAt = paired ? lowAt + 32 : lowAt + 16;
        Avx512F.ConvertToVector128SByteWithSaturation(low).Store(qs + lowAt);
        Avx512F.ConvertToVector128SByteWithSaturation(high).Store(qs + highAt);
        return low + high;
    }

    /// <summary>
    /// Q8_0 as ggml's CPU backend quantizes activations (<c>quantize_row_q8_0</c>, x86 path): d = amax/127 kept
    /// as fp16, values scaled by 127/amax and rounded half to even. The stored scale is the fp16-rounded d, so
    /// dot products see exactly what ggml's see.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0(float* x, sbyte* qs, float* scales, int* sums, int columns)
    {
        for (int b = 0; b < columns / 32; b++, x += 32, qs += 32)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float id = amax != 0 ? 127f / amax : 0f;
            scales[b] = Fp16.Round(amax / 127f);
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                int q = (int)MathF.Round(x[j] * id, MidpointRounding.ToEven);
                qs[j] = (sbyte)q;
                sum += q;
            }
            sums[b] = sum;
        }
    }

    /// <summary>Fills <see cref="ActivationRow.OffsetSums"/> and <see cref="ActivationRow.RebiasedScales"/> (exact: a shift and a power of two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OffsetAndRebias(int* sums, float* scales, int* offsetSums, float* rebiasedScales, int blocks)
    {
        int b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            (Vector256.Load(sums + b) << 3).Store(offsetSums + b);
            (Vector256.Load(scales + b) * Fp16.RebiasMultiplier).Store(rebiasedScales + b);
        }
        for (; b < blocks; b++)
        {
            offsetSums[b] = sums[b] << 3;
            rebiasedScales[b] = scales[b] * Fp16.RebiasMultiplier;
        }
    }

    /// <summary>Reorders quants in place into the <see cref="ActivationKind.Q8Block32Paired"/> layout.</summary>
    private static void PairBlocks(sbyte* qs, int blocks)
    {
        Span<sbyte> pair = stackalloc sbyte[64];
        for (int b = 0; b + 2 <= blocks; b += 2, qs += 64)
        {
            new ReadOnlySpan<sbyte>(qs, 64).CopyTo(pair);
            pair[..16].CopyTo(new Span<sbyte>(qs, 16));
            pair.Slice(32, 16).CopyTo(new Span<sbyte>(qs + 16, 16));
            pair.Slice(16, 16).CopyTo(new Span<sbyte>(qs + 32, 16));
            pair.Slice(48, 16).CopyTo(new Span<sbyte>(qs + 48, 16));
        }
    }

    /// <summary>Offset of value <paramref name="j"/> of block <paramref name="block"/> in the paired layout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PairedOffset(int block, int j, int blocks)
    {
        if ((block | 1) >= blocks) return block * 32 + j; // the odd last block is stored plain
        return (block & ~1) * 32 + (j >> 4) * 32 + (block & 1) * 16 + (j & 15);
    }

    /// <summary>
    /// <see cref="QuantizeQ8_0"/> eight lanes at a time (the same arithmetic as ggml's AVX2 quantize_row_q8_0,
    /// bit-identical to the scalar twin). For a decode matvec over 6144 columns the scalar loop costs about a
    /// tenth of the weight streaming, so it matters.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0Fast(float* x, sbyte* qs, float* scales, int* sums, int columns)
    {
        if (!Avx2.IsSupported)
        {
            QuantizeQ8_0(x, qs, scales, sums, columns);
            return;
        }
        Vector256<float> signMask = Vector256.Create(-0f);
        for (int b = 0; b < columns / 32; b++, x += 32, qs += 32)
        {
            Vector256<float> v0 = Avx.LoadVector256(x), v1 = Avx.LoadVector256(x + 8), v2 = Avx.LoadVector256(x + 16), v3 = Avx.LoadVector256(x + 24);
            Vector256<float> max = Vector256.Max(Vector256.Max(Vector256.AndNot(v0, signMask), Vector256.AndNot(v1, signMask)),
                Vector256.Max(Vector256.AndNot(v2, signMask), Vector256.AndNot(v3, signMask)));
            Vector128<float> m4 = Vector128.Max(max.GetLower(), max.GetUpper());
            float amax = MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
            float id = amax != 0 ? 127f / amax : 0f;
            scales[b] = Fp16.Round(amax / 127f);
            Vector256<float> mul = Vector256.Create(id);
            // cvtps2dq rounds to nearest even, like _mm256_round_ps(_MM_ROUND_NEAREST) in ggml.
            Vector256<int> i0 = Avx.ConvertToVector256Int32(v0 * mul), i1 = Avx.ConvertToVector256Int32(v1 * mul);
            Vector256<int> i2 = Avx.ConvertToVector256Int32(v2 * mul), i3 = Avx.ConvertToVector256Int32(v3 * mul);
            sums[b] = Vector256.Sum(i0 + i1 + i2 + i3);
            // Packing works per 128-bit lane; the final dword permute restores element order.
            Vector256<sbyte> packed = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
            Avx.Store(qs, Avx2.PermuteVar8x32(packed.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte());
        }
    }

    /// <summary>ggml <c>quantize_row_q8_K_ref</c>: scale -127/max of the largest-magnitude value, sums per 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_K(float* x, sbyte* qs, float* scales, int* sums, int columns)
    {
        for (int b = 0; b < columns / 256; b++, x += 256, qs += 256, sums += 16)
        {
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            if (amax == 0)
            {
                scales[b] = 0;
                new Span<sbyte>(qs, 256).Clear();
                new Span<int>(sums, 16).Clear();
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) qs[j] = (sbyte)Math.Min(127, Quantizer.NearestInt(iscale * x[j]));
            for (int j = 0; j < 16; j++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += qs[16 * j + i];
                sums[j] = sum;
            }
            scales[b] = 1 / iscale;
        }
    }
}
