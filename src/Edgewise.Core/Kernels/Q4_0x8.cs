using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Q4_0 with eight rows interleaved block by block (the idea of ggml's <c>block_q4_0x8</c> repack; our own byte
/// order). Rows come in groups of eight; group g, block b is 144 bytes, the same as eight ggml blocks:
/// <code>
///   [0, 16)    the fp16 scales of rows 0..7
///   [16, 144)  four 32-byte chunks; chunk c holds, for row r, bytes 4c..4c+3 of that row's 16 quant bytes at 4r
/// </code>
/// So one 256-bit load of a chunk gives, in int32 lane r, four nibble pairs of row r: values 4c..4c+3 (low
/// nibbles) and 16+4c..16+4c+3 (high). Broadcasting the matching four activation bytes to every lane makes
/// <c>maddubs</c> compute eight rows at once, so each lane ends up holding one row's block dot: no horizontal
/// reductions, the eight scales load as one vector, and one unpacked block serves every activation row of a batch.
/// Activations use the <see cref="ActivationKind.Q8Block32Paired"/> layout of plain Q4_0, so both layouts share
/// one quantization pass and <see cref="ExtractRow"/> plus the plain scalar dot is the scalar twin.
/// </summary>
internal static unsafe class Q4_0x8
{
    public const int GroupRows = 8;
    public const int GroupBlockBytes = GroupRows * 18;

    /// <summary>Whether a Q4_0 matrix of <paramref name="rows"/> rows can be interleaved.</summary>
    public static bool Fits(int rows) => rows > 0 && rows % GroupRows == 0;

    /// <summary>Rewrites <paramref name="rows"/> ggml Q4_0 rows at <paramref name="data"/> in place into the interleaved layout (same size).</summary>
    public static void Interleave(byte* data, int rows, int blocks) => Interleave(data, rows, blocks, Sse2.IsSupported);

    /// <param name="vector">Transpose with SSE2 shuffles (else the scalar twin, byte-identical).</param>
    internal static void Interleave(byte* data, int rows, int blocks, bool vector)
    {
        int groupBytes = GroupRows * blocks * 18;
        byte* copy = (byte*)NativeMemory.Alloc((nuint)groupBytes);
        try
        {
            for (int g = 0; g < rows / GroupRows; g++)
            {
                byte* group = data + (long)g * groupBytes;
                Buffer.MemoryCopy(group, copy, groupBytes, groupBytes);
                for (int b = 0; b < blocks; b++)
                {
                    byte* dst = group + b * GroupBlockBytes;
                    byte* src = copy + b * 18;
                    int rowStride = blocks * 18;
                    for (int r = 0; r < GroupRows; r++) ((ushort*)dst)[r] = *(ushort*)(src + r * rowStride);
                    if (vector) TransposeQuants(src + 2, rowStride, dst + 16);
                    else
                    {
                        for (int r = 0; r < GroupRows; r++)
                        {
                            for (int c = 0; c < 4; c++) *(uint*)(dst + 16 + 32 * c + 4 * r) = *(uint*)(src + r * rowStride + 2 + 4 * c);
                        }
                    }
                }
            }
        }
        finally
        {
            NativeMemory.Free(copy);
        }
    }

    /// <summary>
    /// Eight rows' 16 quant bytes (four dwords each, <paramref name="rowStride"/> apart) to four 32-byte chunks of
    /// dword c of rows 0..7: two 4x4 dword transposes (rows 0-3 and 4-7), halves side by side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeQuants(byte* src, int rowStride, byte* dst)
    {
        for (int half = 0; half < 2; half++, src += 4 * rowStride, dst += 16)
        {
            Vector128<uint> r0 = Sse2.LoadVector128((uint*)src), r1 = Sse2.LoadVector128((uint*)(src + rowStride));
            Vector128<uint> r2 = Sse2.LoadVector128((uint*)(src + 2 * rowStride)), r3 = Sse2.LoadVector128((uint*)(src + 3 * rowStride));
            Vector128<uint> t0 = Sse2.UnpackLow(r0, r1), t1 = Sse2.UnpackHigh(r0, r1);   // [r0c0 r1c0 r0c1 r1c1], [.. c2 .. c3]
            Vector128<uint> t2 = Sse2.UnpackLow(r2, r3), t3 = Sse2.UnpackHigh(r2, r3);
            Sse2.Store((uint*)dst, Sse2.UnpackLow(t0.AsUInt64(), t2.AsUInt64()).AsUInt32());         // dword 0 of rows 0-3
            Sse2.Store((uint*)(dst + 32), Sse2.UnpackHigh(t0.AsUInt64(), t2.AsUInt64()).AsUInt32());  // dword 1
            Sse2.Store((uint*)(dst + 64), Sse2.UnpackLow(t1.AsUInt64(), t3.AsUInt64()).AsUInt32());   // dword 2
            Sse2.Store((uint*)(dst + 96), Sse2.UnpackHigh(t1.AsUInt64(), t3.AsUInt64()).AsUInt32());  // dword 3
        }
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
            for (int c = 0; c < 4; c++) *(uint*)(dst + 2 + 4 * c) = *(uint*)(src + 16 + 32 * c + 4 * r);
        }
    }

    /// <summary>The eight rows' fp16 scales at <paramref name="block"/>, widened without their 2^112 rebias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> UnbiasedScales(byte* block) => RowDot.HalfScalesUnbiased(Sse2.LoadVector128((ushort*)block));

    /// <summary>
    /// Lane r = Σ nibble·x over row r's block, for the four unpacked chunks and the block's activation values
    /// (<paramref name="low"/>: values 0..15, <paramref name="high"/>: 16..31). Eight maddubs terms of at most
    /// 2·15·127 each sum safely in int16 before one widening madd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // The activation values are addressed as x + offset + constant: with a constant offset every load folds its
    // displacement (a pointer argument x + 32 would cost a lea per block).
    private static Vector256<int> Dot(Vector256<byte> lo0, Vector256<byte> hi0, Vector256<byte> lo1, Vector256<byte> hi1,
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
        int j = 0;
        for (; j + 4 <= count; j += 4) Fast4(group, blocks, acts + j, y + (long)j * yStride, yStride);
        for (; j < count; j++) Fast1(group, blocks, acts[j], y + (long)j * yStride);
    }

    /// <summary>
    /// Block <paramref name="block"/> (0 or 1, a constant) of the block pair at <paramref name="w"/> against one
    /// activation row whose values 0..15 are at x + <paramref name="low"/> and 16..31 at x + <paramref name="high"/>,
    /// accumulated into the eight row lanes of <paramref name="acc"/>. Every address is a base plus a constant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(byte* w, int block, sbyte* x, nint low, nint high, int* offsetSums, float* rebiasedScales,
        Vector256<byte> mask, Vector256<float> acc)
    {
        Vector256<byte> c0 = Avx.LoadVector256(w + block * GroupBlockBytes + 16), c1 = Avx.LoadVector256(w + block * GroupBlockBytes + 48);
        Vector256<byte> c2 = Avx.LoadVector256(w + block * GroupBlockBytes + 80), c3 = Avx.LoadVector256(w + block * GroupBlockBytes + 112);
        Vector256<int> d = Dot(c0 & mask, Avx2.ShiftRightLogical(c0.AsUInt16(), 4).AsByte() & mask,
            c1 & mask, Avx2.ShiftRightLogical(c1.AsUInt16(), 4).AsByte() & mask,
            c2 & mask, Avx2.ShiftRightLogical(c2.AsUInt16(), 4).AsByte() & mask,
            c3 & mask, Avx2.ShiftRightLogical(c3.AsUInt16(), 4).AsByte() & mask, x, low, high);
        // Nibbles are stored as q + 8: subtract 8 · Σx (exact, in int). The weight scales meet the activation scale
        // that carries their 2^112 rebias: exact powers of two, so each lane rounds as d_w · d_x does in Block4.
        d -= Vector256.Create(offsetSums[block]);
        Vector256<float> scales = UnbiasedScales(w + block * GroupBlockBytes) * Vector256.Create(rebiasedScales[block]);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), scales, acc);
    }

    /// <summary>
    /// One activation row against <paramref name="groups"/> consecutive groups <paramref name="groupBytes"/> apart
    /// (y[8g + r] = row r of group g · a): the decode matvec, one call per work item instead of one per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void FastGroups(byte* group, long groupBytes, int groups, int blocks, in ActivationRow a, float* y)
    {
        for (int g = 0; g < groups; g++, group += groupBytes, y += GroupRows) Row1(group, blocks, a, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Fast1(byte* w, int blocks, in ActivationRow a, float* y) => Row1(w, blocks, a, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row1(byte* w, int blocks, in ActivationRow a, float* y)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);   // hoisted: built inside Block it is rebuilt every block
        sbyte* x = a.Qs;
        float* xScales = a.RebiasedScales;
        int* xSums = a.OffsetSums;
        int b = 0;
        // Paired activation layout: [b low 16, b+1 low 16, b high 16, b+1 high 16]; an odd last block is plain.
        for (; b + 2 <= blocks; b += 2, w += 2 * GroupBlockBytes, x += 64, xScales += 2, xSums += 2)
        {
            acc = Block(w, 0, x, 0, 32, xSums, xScales, mask, acc);
            acc = Block(w, 1, x, 16, 48, xSums, xScales, mask, acc);
        }
        if (b < blocks) acc = Block(w, 0, x, 0, 16, xSums, xScales, mask, acc);
        Avx.Store(y, acc);
    }

    /// <summary>Four activation rows over one block whose unpacked chunks are shared; offsets are into each row's quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4(byte* w, ActivationRow* acts, int b, nint low, nint high, Vector256<byte> mask,
        ref Vector256<float> acc0, ref Vector256<float> acc1, ref Vector256<float> acc2, ref Vector256<float> acc3)
    {
        Vector256<byte> c0 = Avx.LoadVector256(w + 16), c1 = Avx.LoadVector256(w + 48);
        Vector256<byte> c2 = Avx.LoadVector256(w + 80), c3 = Avx.LoadVector256(w + 112);
        Vector256<byte> lo0 = c0 & mask, hi0 = Avx2.ShiftRightLogical(c0.AsUInt16(), 4).AsByte() & mask;
        Vector256<byte> lo1 = c1 & mask, hi1 = Avx2.ShiftRightLogical(c1.AsUInt16(), 4).AsByte() & mask;
        Vector256<byte> lo2 = c2 & mask, hi2 = Avx2.ShiftRightLogical(c2.AsUInt16(), 4).AsByte() & mask;
        Vector256<byte> lo3 = c3 & mask, hi3 = Avx2.ShiftRightLogical(c3.AsUInt16(), 4).AsByte() & mask;
        Vector256<float> ws = UnbiasedScales(w);
        // The same operations as Block, in the same order, so each lane equals the single-row result exactly.
        sbyte* q = acts[0].Qs;
        Vector256<int> d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q, low, high) - Vector256.Create(acts[0].OffsetSums[b]);
        acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[0].RebiasedScales[b]), acc0);
        q = acts[1].Qs;
        d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q, low, high) - Vector256.Create(acts[1].OffsetSums[b]);
        acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[1].RebiasedScales[b]), acc1);
        q = acts[2].Qs;
        d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q, low, high) - Vector256.Create(acts[2].OffsetSums[b]);
        acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[2].RebiasedScales[b]), acc2);
        q = acts[3].Qs;
        d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q, low, high) - Vector256.Create(acts[3].OffsetSums[b]);
        acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[3].RebiasedScales[b]), acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Fast4(byte* w, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        int b = 0;
        for (nint x = 0; b + 2 <= blocks; b += 2, w += 2 * GroupBlockBytes, x += 64)
        {
            Block4(w, acts, b, x, x + 32, mask, ref acc0, ref acc1, ref acc2, ref acc3);
            Block4(w + GroupBlockBytes, acts, b + 1, x + 16, x + 48, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        if (b < blocks) Block4(w, acts, b, b * 32, b * 32 + 16, mask, ref acc0, ref acc1, ref acc2, ref acc3);
        Avx.Store(y, acc0);
        Avx.Store(y + yStride, acc1);
        Avx.Store(y + 2L * yStride, acc2);
        Avx.Store(y + 3L * yStride, acc3);
    }
}
