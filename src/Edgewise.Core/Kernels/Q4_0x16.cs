using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Q4_0 with sixteen rows interleaved block by block (the idea of ggml's <c>block_q4_0x8</c> repack, twice as wide;
/// our own byte order). Rows come in groups of sixteen; group g, block b is 288 bytes, the same as sixteen ggml blocks:
/// <code>
///   [0, 32)     the fp16 scales of rows 0..15
///   [32, 288)   four 64-byte chunks; chunk c holds, for row r, bytes 4c..4c+3 of that row's 16 quant bytes at 4r
/// </code>
/// So one 512-bit load of a chunk gives, in int32 lane r, four nibble pairs of row r: values 4c..4c+3 (low
/// nibbles) and 16+4c..16+4c+3 (high). Broadcasting the matching four activation bytes to every lane makes
/// <c>maddubs</c> compute sixteen rows at once, so each lane ends up holding one row's block dot: no horizontal
/// reductions, the scales load as one vector, and one unpacked block serves every activation row of a batch.
/// <para>
/// Sixteen rows because a 512-bit instruction does the work of two 256-bit ones: on Zen 4, which runs it as two
/// halves, the vector pipes stay as busy but the core decodes and retires half the instructions, and the kernels
/// are bound by that (measured in L2, one thread: 4 activation rows 99 → 126 GMAC/s, one row 23 → 34 GB/s).
/// Without AVX-512 the same bytes run as two 8-row halves in 256-bit registers: chunk bytes [0, 32) are rows 0..7,
/// [32, 64) rows 8..15, and scale bytes [0, 16) and [16, 32) likewise. Both paths do the same operations per row in
/// the same order, so they give the same floats bit for bit.
/// </para>
/// Activations use the <see cref="ActivationKind.Q8Block32Paired"/> layout of plain Q4_0, so both layouts share
/// one quantization pass and <see cref="ExtractRow"/> plus the plain scalar dot is the scalar twin.
/// </summary>
internal static unsafe class Q4_0x16
{
    public const int GroupRows = 16;
    public const int GroupBlockBytes = GroupRows * 18;
    private const int ScaleBytes = GroupRows * 2;
    private const int ChunkBytes = GroupRows * 4;

    /// <summary>
    /// Whether the kernels use 512-bit registers (AVX-512 BW) or two 256-bit halves per group (AVX2). Settable so
    /// tests run both paths on a machine that has AVX-512; the results are the same either way.
    /// </summary>
    internal static bool Wide { get; set; } = Avx512BW.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Whether a Q4_0 matrix of <paramref name="rows"/> rows can be interleaved.</summary>
    public static bool Fits(int rows) => rows > 0 && rows % GroupRows == 0;

    /// <summary>Rewrites <paramref name="rows"/> ggml Q4_0 rows at <paramref name="data"/> in place into the interleaved layout (same size).</summary>
    public static void Interleave(byte* data, int rows, int blocks) => Interleave(data, rows, blocks, Sse2.IsSupported);

    /// <param name="vector">Transpose with SSE2 shuffles (else the scalar twin, byte-identical).</param>
    internal static void Interleave(byte* data, int rows, int blocks, bool vector)
        => RepackGroupsInPlace(data, rows, blocks, blocks * 18, vector ? &InterleaveGroupVector : &InterleaveGroupScalar);

    private static void InterleaveGroupVector(byte* src, byte* dst, int blocks) => InterleaveGroup(src, dst, blocks, vector: true);

    private static void InterleaveGroupScalar(byte* src, byte* dst, int blocks) => InterleaveGroup(src, dst, blocks, vector: false);

    /// <summary>
    /// Rewrites the groups of sixteen rows (<paramref name="rowBytes"/> each) at <paramref name="data"/> in place: each
    /// group is copied aside and <paramref name="repackGroup"/>(copy, group, blocks) writes it back in its new layout.
    /// Every sixteen-row layout (<see cref="Q4_0x16"/>, <see cref="Q8_0x16"/>) repacks whole matrices this way.
    /// </summary>
    internal static void RepackGroupsInPlace(byte* data, int rows, int blocks, int rowBytes, delegate*<byte*, byte*, int, void> repackGroup)
    {
        int groupBytes = GroupRows * rowBytes;
        byte* copy = (byte*)NativeMemory.Alloc((nuint)groupBytes);
        try
        {
            for (int g = 0; g < rows / GroupRows; g++)
            {
                byte* group = data + (long)g * groupBytes;
                Buffer.MemoryCopy(group, copy, groupBytes, groupBytes);
                repackGroup(copy, group, blocks);
            }
        }
        finally
        {
            NativeMemory.Free(copy);
        }
    }

    /// <summary>Sixteen ggml Q4_0 rows at <paramref name="src"/> into one interleaved group at <paramref name="dst"/> (same size, not overlapping).</summary>
    public static void InterleaveGroup(byte* src, byte* dst, int blocks) => InterleaveGroup(src, dst, blocks, Sse2.IsSupported);

    private static void InterleaveGroup(byte* src, byte* dst, int blocks, bool vector)
    {
        int rowStride = blocks * 18;
        for (int b = 0; b < blocks; b++, dst += GroupBlockBytes, src += 18)
        {
            for (int r = 0; r < GroupRows; r++) ((ushort*)dst)[r] = *(ushort*)(src + r * rowStride);
            if (vector)
            {
                for (int quarter = 0; quarter < 4; quarter++)
                {
                    TransposeQuants(src + 2 + quarter * 4 * rowStride, rowStride, dst + ScaleBytes + quarter * 16);
                }
            }
            else
            {
                for (int r = 0; r < GroupRows; r++)
                {
                    for (int c = 0; c < 4; c++) *(uint*)(dst + ScaleBytes + ChunkBytes * c + 4 * r) = *(uint*)(src + r * rowStride + 2 + 4 * c);
                }
            }
        }
    }

    /// <summary>
    /// Four rows' 16 quant bytes (four dwords each, <paramref name="rowStride"/> apart) to dword c of the four rows
    /// at <paramref name="dst"/> + c · 64: one 4x4 dword transpose.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeQuants(byte* src, int rowStride, byte* dst)
    {
        Vector128<uint> r0 = Sse2.LoadVector128((uint*)src), r1 = Sse2.LoadVector128((uint*)(src + rowStride));
        Vector128<uint> r2 = Sse2.LoadVector128((uint*)(src + 2 * rowStride)), r3 = Sse2.LoadVector128((uint*)(src + 3 * rowStride));
        Vector128<uint> t0 = Sse2.UnpackLow(r0, r1), t1 = Sse2.UnpackHigh(r0, r1);   // [r0c0 r1c0 r0c1 r1c1], [.. c2 .. c3]
        Vector128<uint> t2 = Sse2.UnpackLow(r2, r3), t3 = Sse2.UnpackHigh(r2, r3);
        Sse2.Store((uint*)dst, Sse2.UnpackLow(t0.AsUInt64(), t2.AsUInt64()).AsUInt32());                       // dword 0
        Sse2.Store((uint*)(dst + ChunkBytes), Sse2.UnpackHigh(t0.AsUInt64(), t2.AsUInt64()).AsUInt32());        // dword 1
        Sse2.Store((uint*)(dst + 2 * ChunkBytes), Sse2.UnpackLow(t1.AsUInt64(), t3.AsUInt64()).AsUInt32());     // dword 2
        Sse2.Store((uint*)(dst + 3 * ChunkBytes), Sse2.UnpackHigh(t1.AsUInt64(), t3.AsUInt64()).AsUInt32());    // dword 3
    }

    /// <summary>Row <paramref name="row"/> of interleaved data back in ggml Q4_0 layout (<paramref name="blocks"/> * 18 bytes at <paramref name="dst"/>).</summary>
    public static void ExtractRow(byte* data, int blocks, int row, byte* dst)
    {
        byte* group = data + (long)(row / GroupRows) * GroupRows * blocks * 18;
        int r = row % GroupRows;
        for (int b = 0; b < blocks; b++, dst += 18)
        {
            byte* src = group + b * GroupBlockBytes;
            *(ushort*)dst = ((ushort*)src)[r];
            for (int c = 0; c < 4; c++) *(uint*)(dst + 2 + 4 * c) = *(uint*)(src + ScaleBytes + ChunkBytes * c + 4 * r);
        }
    }

    /// <summary>
    /// y[j · yStride + r] = row r of the group · activation row j, for <paramref name="count"/> activation rows
    /// (<paramref name="acts"/>[j]), four at a time so each unpacked block is reused four times. Every lane runs the
    /// same operations in the same order whatever the count, so a batch equals one call per row bit for bit.
    /// </summary>
    // The kernels below are NoInlining: inlined into a tier-1 caller (the worker pool's job dispatch), they blow
    // the JIT's inlining budget there and their own vector helpers end up as real calls (seen in a profile).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fast(byte* group, int blocks, ActivationRow* acts, int count, float* y, int yStride)
    {
        bool wide = Wide;
        int j = 0;
        for (; j + 4 <= count; j += 4)
        {
            float* y4 = y + (long)j * yStride;
            if (wide)
            {
                Wide4(group, blocks, acts + j, y4, yStride);
                continue;
            }
            Narrow4(group, group + ScaleBytes, blocks, acts + j, y4, yStride);
            Narrow4(group + ScaleBytes / 2, group + ScaleBytes + ChunkBytes / 2, blocks, acts + j, y4 + GroupRows / 2, yStride);
        }
        for (; j < count; j++) FastGroups(group, 0, 1, blocks, acts[j], y + (long)j * yStride);
    }

    /// <summary>
    /// One activation row against <paramref name="groups"/> consecutive groups <paramref name="groupBytes"/> apart
    /// (y[16g + r] = row r of group g · a): the decode matvec, one call per work item instead of one per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void FastGroups(byte* group, long groupBytes, int groups, int blocks, in ActivationRow a, float* y)
    {
        if (Wide)
        {
            for (int g = 0; g < groups; g++, group += groupBytes, y += GroupRows) Wide1(group, blocks, a, y);
            return;
        }
        for (int g = 0; g < groups; g++, group += groupBytes, y += GroupRows)
        {
            Narrow1(group, group + ScaleBytes, blocks, a, y);
            Narrow1(group + ScaleBytes / 2, group + ScaleBytes + ChunkBytes / 2, blocks, a, y + GroupRows / 2);
        }
    }

    // ---- 512-bit: a group in one register ----

    /// <summary>The sixteen rows' fp16 scales at <paramref name="block"/>, widened without their 2^112 rebias (see <see cref="RowDot.HalfScalesUnbiased"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> UnbiasedScales512(byte* block)
        => (Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Avx.LoadVector256((short*)block)), 13)
            & Vector512.Create(Fp16.ScaleMask)).AsSingle();

    /// <summary>
    /// Lane r = Σ nibble·x over row r's block, for the four unpacked chunks and the block's activation values
    /// (<paramref name="low"/>: values 0..15, <paramref name="high"/>: 16..31). Eight maddubs terms of at most
    /// 2·15·127 each sum safely in int16 before one widening madd.
    /// </summary>
    // The activation values are addressed as x + offset + constant: with a constant offset every load folds its
    // displacement (a pointer argument x + 32 would cost a lea per block).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot512(Vector512<byte> lo0, Vector512<byte> hi0, Vector512<byte> lo1, Vector512<byte> hi1,
        Vector512<byte> lo2, Vector512<byte> hi2, Vector512<byte> lo3, Vector512<byte> hi3, sbyte* x, nint low, nint high)
    {
        Vector512<short> p = Avx512BW.MultiplyAddAdjacent(lo0, Vector512.Create(*(int*)(x + low)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(hi0, Vector512.Create(*(int*)(x + high)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(lo1, Vector512.Create(*(int*)(x + low + 4)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(hi1, Vector512.Create(*(int*)(x + high + 4)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(lo2, Vector512.Create(*(int*)(x + low + 8)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(hi2, Vector512.Create(*(int*)(x + high + 8)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(lo3, Vector512.Create(*(int*)(x + low + 12)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(hi3, Vector512.Create(*(int*)(x + high + 12)).AsSByte());
        return Avx512BW.MultiplyAddAdjacent(p, Vector512.Create((short)1));
    }

    /// <summary>One block of one activation row into the sixteen row lanes of <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block512(byte* w, sbyte* x, nint low, nint high, int offsetSum, float rebiasedScale,
        Vector512<byte> mask, Vector512<float> acc)
    {
        Vector512<byte> c0 = Vector512.Load(w + ScaleBytes), c1 = Vector512.Load(w + ScaleBytes + ChunkBytes);
        Vector512<byte> c2 = Vector512.Load(w + ScaleBytes + 2 * ChunkBytes), c3 = Vector512.Load(w + ScaleBytes + 3 * ChunkBytes);
        Vector512<int> d = Dot512(c0 & mask, Nibbles.High(c0),
            c1 & mask, Nibbles.High(c1),
            c2 & mask, Nibbles.High(c2),
            c3 & mask, Nibbles.High(c3), x, low, high);
        // Nibbles are stored as q + 8: subtract 8 · Σx (exact, in int). The weight scales meet the activation scale
        // that carries their 2^112 rebias: exact powers of two, so each lane rounds as d_w · d_x does.
        d -= Vector512.Create(offsetSum);
        Vector512<float> scales = UnbiasedScales512(w) * Vector512.Create(rebiasedScale);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), scales, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Wide1(byte* w, int blocks, in ActivationRow a, float* y)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector512<byte> mask = Vector512.Create((byte)0x0F);   // hoisted: built inside the block it is rebuilt every block
        sbyte* x = a.Qs;
        float* xScales = a.RebiasedScales;
        int* xSums = a.OffsetSums;
        int b = 0;
        // Paired activation layout: [b low 16, b+1 low 16, b high 16, b+1 high 16]; an odd last block is plain.
        for (; b + 2 <= blocks; b += 2, w += 2 * GroupBlockBytes, x += 64, xScales += 2, xSums += 2)
        {
            acc = Block512(w, x, 0, 32, xSums[0], xScales[0], mask, acc);
            acc = Block512(w + GroupBlockBytes, x, 16, 48, xSums[1], xScales[1], mask, acc);
        }
        if (b < blocks) acc = Block512(w, x, 0, 16, xSums[0], xScales[0], mask, acc);
        Vector512.Store(acc, y);
    }

    /// <summary>Four activation rows over one block whose unpacked chunks are shared; offsets are into each row's quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x512(byte* w, ActivationRow* acts, int b, nint low, nint high, Vector512<byte> mask,
        ref Vector512<float> acc0, ref Vector512<float> acc1, ref Vector512<float> acc2, ref Vector512<float> acc3)
    {
        Vector512<byte> c0 = Vector512.Load(w + ScaleBytes), c1 = Vector512.Load(w + ScaleBytes + ChunkBytes);
        Vector512<byte> c2 = Vector512.Load(w + ScaleBytes + 2 * ChunkBytes), c3 = Vector512.Load(w + ScaleBytes + 3 * ChunkBytes);
        Vector512<byte> lo0 = c0 & mask, hi0 = Nibbles.High(c0);
        Vector512<byte> lo1 = c1 & mask, hi1 = Nibbles.High(c1);
        Vector512<byte> lo2 = c2 & mask, hi2 = Nibbles.High(c2);
        Vector512<byte> lo3 = c3 & mask, hi3 = Nibbles.High(c3);
        Vector512<float> ws = UnbiasedScales512(w);
        // The same operations as Block512, in the same order, so each lane equals the single-row result exactly.
        Vector512<int> d = Dot512(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[0].Qs, low, high) - Vector512.Create(acts[0].OffsetSums[b]);
        acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), ws * Vector512.Create(acts[0].RebiasedScales[b]), acc0);
        d = Dot512(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[1].Qs, low, high) - Vector512.Create(acts[1].OffsetSums[b]);
        acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), ws * Vector512.Create(acts[1].RebiasedScales[b]), acc1);
        d = Dot512(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[2].Qs, low, high) - Vector512.Create(acts[2].OffsetSums[b]);
        acc2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), ws * Vector512.Create(acts[2].RebiasedScales[b]), acc2);
        d = Dot512(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[3].Qs, low, high) - Vector512.Create(acts[3].OffsetSums[b]);
        acc3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), ws * Vector512.Create(acts[3].RebiasedScales[b]), acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Wide4(byte* w, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector512<float> acc0 = Vector512<float>.Zero, acc1 = Vector512<float>.Zero;
        Vector512<float> acc2 = Vector512<float>.Zero, acc3 = Vector512<float>.Zero;
        Vector512<byte> mask = Vector512.Create((byte)0x0F);
        int b = 0;
        for (nint x = 0; b + 2 <= blocks; b += 2, w += 2 * GroupBlockBytes, x += 64)
        {
            Block4x512(w, acts, b, x, x + 32, mask, ref acc0, ref acc1, ref acc2, ref acc3);
            Block4x512(w + GroupBlockBytes, acts, b + 1, x + 16, x + 48, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        if (b < blocks) Block4x512(w, acts, b, b * 32, b * 32 + 16, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        Vector512.Store(acc0, y);
        Vector512.Store(acc1, y + yStride);
        Vector512.Store(acc2, y + 2L * yStride);
        Vector512.Store(acc3, y + 3L * yStride);
    }

    // ---- 256-bit: a group as two 8-row halves; `s` points at a half's scales, `q` at its bytes of chunk 0 ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> UnbiasedScales256(byte* s) => RowDot.HalfScalesUnbiased(Sse2.LoadVector128((ushort*)s));

    /// <summary><see cref="Dot512"/> for eight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot256(Vector256<byte> lo0, Vector256<byte> hi0, Vector256<byte> lo1, Vector256<byte> hi1,
        Vector256<byte> lo2, Vector256<byte> hi2, Vector256<byte> lo3, Vector256<byte> hi3, sbyte* x, nint low, nint high)
    {
        Vector256<short> p = Avx2.MultiplyAddAdjacent(lo0, Vector256.Create(*(int*)(x + low)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi0, Vector256.Create(*(int*)(x + high)).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo1, Vector256.Create(*(int*)(x + low + 4)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi1, Vector256.Create(*(int*)(x + high + 4)).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo2, Vector256.Create(*(int*)(x + low + 8)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi2, Vector256.Create(*(int*)(x + high + 8)).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo3, Vector256.Create(*(int*)(x + low + 12)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi3, Vector256.Create(*(int*)(x + high + 12)).AsSByte());
        return Avx2.MultiplyAddAdjacent(p, Vector256.Create((short)1));
    }

    /// <summary><see cref="Block512"/> for eight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block256(byte* s, byte* q, sbyte* x, nint low, nint high, int offsetSum, float rebiasedScale,
        Vector256<byte> mask, Vector256<float> acc)
    {
        Vector256<byte> c0 = Avx.LoadVector256(q), c1 = Avx.LoadVector256(q + ChunkBytes);
        Vector256<byte> c2 = Avx.LoadVector256(q + 2 * ChunkBytes), c3 = Avx.LoadVector256(q + 3 * ChunkBytes);
        Vector256<int> d = Dot256(c0 & mask, Nibbles.High(c0),
            c1 & mask, Nibbles.High(c1),
            c2 & mask, Nibbles.High(c2),
            c3 & mask, Nibbles.High(c3), x, low, high);
        d -= Vector256.Create(offsetSum);
        Vector256<float> scales = UnbiasedScales256(s) * Vector256.Create(rebiasedScale);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), scales, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Narrow1(byte* s, byte* q, int blocks, in ActivationRow a, float* y)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        sbyte* x = a.Qs;
        float* xScales = a.RebiasedScales;
        int* xSums = a.OffsetSums;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, s += 2 * GroupBlockBytes, q += 2 * GroupBlockBytes, x += 64, xScales += 2, xSums += 2)
        {
            acc = Block256(s, q, x, 0, 32, xSums[0], xScales[0], mask, acc);
            acc = Block256(s + GroupBlockBytes, q + GroupBlockBytes, x, 16, 48, xSums[1], xScales[1], mask, acc);
        }
        if (b < blocks) acc = Block256(s, q, x, 0, 16, xSums[0], xScales[0], mask, acc);
        Avx.Store(y, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x256(byte* s, byte* q, ActivationRow* acts, int b, nint low, nint high, Vector256<byte> mask,
        ref Vector256<float> acc0, ref Vector256<float> acc1, ref Vector256<float> acc2, ref Vector256<float> acc3)
    {
        Vector256<byte> c0 = Avx.LoadVector256(q), c1 = Avx.LoadVector256(q + ChunkBytes);
        Vector256<byte> c2 = Avx.LoadVector256(q + 2 * ChunkBytes), c3 = Avx.LoadVector256(q + 3 * ChunkBytes);
        Vector256<byte> lo0 = c0 & mask, hi0 = Nibbles.High(c0);
        Vector256<byte> lo1 = c1 & mask, hi1 = Nibbles.High(c1);
        Vector256<byte> lo2 = c2 & mask, hi2 = Nibbles.High(c2);
        Vector256<byte> lo3 = c3 & mask, hi3 = Nibbles.High(c3);
        Vector256<float> ws = UnbiasedScales256(s);
        Vector256<int> d = Dot256(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[0].Qs, low, high) - Vector256.Create(acts[0].OffsetSums[b]);
        acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[0].RebiasedScales[b]), acc0);
        d = Dot256(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[1].Qs, low, high) - Vector256.Create(acts[1].OffsetSums[b]);
        acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[1].RebiasedScales[b]), acc1);
        d = Dot256(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[2].Qs, low, high) - Vector256.Create(acts[2].OffsetSums[b]);
        acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[2].RebiasedScales[b]), acc2);
        d = Dot256(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, acts[3].Qs, low, high) - Vector256.Create(acts[3].OffsetSums[b]);
        acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[3].RebiasedScales[b]), acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Narrow4(byte* s, byte* q, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        int b = 0;
        for (nint x = 0; b + 2 <= blocks; b += 2, s += 2 * GroupBlockBytes, q += 2 * GroupBlockBytes, x += 64)
        {
            Block4x256(s, q, acts, b, x, x + 32, mask, ref acc0, ref acc1, ref acc2, ref acc3);
            Block4x256(s + GroupBlockBytes, q + GroupBlockBytes, acts, b + 1, x + 16, x + 48, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        if (b < blocks) Block4x256(s, q, acts, b, b * 32, b * 32 + 16, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        Avx.Store(y, acc0);
        Avx.Store(y + yStride, acc1);
        Avx.Store(y + 2L * yStride, acc2);
        Avx.Store(y + 3L * yStride, acc3);
    }
}
