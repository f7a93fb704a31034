using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Q8_0 with sixteen rows interleaved block by block, like <see cref="Q4_0x16"/>. Group g, block b is 544 bytes, the
/// same as sixteen ggml blocks:
/// <code>
///   [0, 32)     the fp16 scales of rows 0..15
///   [32, 544)   eight 64-byte chunks; chunk c holds, for row r, quants 4c..4c+3 of that row at 4r, each stored
///               as q + 128 (an unsigned byte)
/// </code>
/// The plain kernel multiplies signed by signed, so each block needs |w| and a sign transfer before <c>maddubs</c>,
/// and a horizontal sum per row. Here a byte u = q + 128 splits into nibbles t = u >> 4 and l = u &amp; 15, so
/// q·x = 16·t·x + l·x − 128·x: two <c>maddubs</c> of nibbles against the broadcast activation bytes (the Q4_0x16
/// kernel's work per byte, with no sign handling) and the activation block sum for the offset. Eight chunks of
/// nibble products (each lane at most 2·15·127) sum safely in int16 before one widening <c>madd</c> each.
/// <para>
/// With AVX-512 a group is one 512-bit register; without it, two 8-row 256-bit halves (chunk bytes [0, 32) are
/// rows 0..7) doing the same operations per row in the same order, so both give the same floats bit for bit (the
/// switch is <see cref="Q4_0x16.Wide"/>, shared by both interleaved formats). Activations use the plain Q8_0
/// layout (<see cref="ActivationKind.Q8Block32"/>); <see cref="ExtractRow"/> plus the plain scalar dot is the twin.
/// </para>
/// </summary>
internal static unsafe class Q8_0x16
{
    public const int GroupRows = Q4_0x16.GroupRows;
    public const int GroupBlockBytes = GroupRows * 34;
    private const int ScaleBytes = GroupRows * 2;
    private const int ChunkBytes = GroupRows * 4;
    private const int Chunks = 8;

    /// <summary>Rewrites <paramref name="rows"/> ggml Q8_0 rows at <paramref name="data"/> in place into the interleaved layout (same size).</summary>
    public static void Interleave(byte* data, int rows, int blocks) => Q4_0x16.RepackGroupsInPlace(data, rows, blocks, blocks * 34, &InterleaveGroup);

    /// <summary>Sixteen ggml Q8_0 rows at <paramref name="src"/> into one interleaved group at <paramref name="dst"/> (same size, not overlapping).</summary>
    public static void InterleaveGroup(byte* src, byte* dst, int blocks)
    {
        int rowStride = blocks * 34;
        for (int b = 0; b < blocks; b++, dst += GroupBlockBytes, src += 34)
        {
            for (int r = 0; r < GroupRows; r++)
            {
                byte* row = src + r * rowStride;
                ((ushort*)dst)[r] = *(ushort*)row;
                for (int c = 0; c < Chunks; c++) *(uint*)(dst + ScaleBytes + ChunkBytes * c + 4 * r) = *(uint*)(row + 2 + 4 * c) ^ 0x80808080u;
            }
        }
    }

    /// <summary>Row <paramref name="row"/> of interleaved data back in ggml Q8_0 layout (<paramref name="blocks"/> * 34 bytes at <paramref name="dst"/>).</summary>
    public static void ExtractRow(byte* data, int blocks, int row, byte* dst)
    {
        byte* group = data + (long)(row / GroupRows) * GroupRows * blocks * 34;
        int r = row % GroupRows;
        for (int b = 0; b < blocks; b++, dst += 34)
        {
            byte* src = group + b * GroupBlockBytes;
            *(ushort*)dst = ((ushort*)src)[r];
            for (int c = 0; c < Chunks; c++) *(uint*)(dst + 2 + 4 * c) = *(uint*)(src + ScaleBytes + ChunkBytes * c + 4 * r) ^ 0x80808080u;
        }
    }

    /// <summary>
    /// y[j · yStride + r] = row r of the group · activation row j, for <paramref name="count"/> activation rows, four
    /// at a time so each unpacked chunk serves four rows. Every lane adds the same exact integers and runs the same
    /// float operations in the same order as <see cref="FastGroups"/>, so a batch equals one call per row bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fast(byte* group, int blocks, ActivationRow* acts, int count, float* y, int yStride)
    {
        bool wide = Q4_0x16.Wide;
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
    /// (y[16g + r] = row r of group g · a): the decode matvec, one call per work item.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void FastGroups(byte* group, long groupBytes, int groups, int blocks, in ActivationRow a, float* y)
    {
        if (Q4_0x16.Wide)
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

    /// <summary>Lane r: Σ over one chunk pair of (high nibble, low nibble) products with the four broadcast activation bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk512(byte* w, sbyte* x, Vector512<byte> mask, ref Vector512<short> high, ref Vector512<short> low)
    {
        Vector512<byte> c = Vector512.Load(w);
        Vector512<sbyte> xb = Vector512.Create(*(int*)x).AsSByte();
        high += Avx512BW.MultiplyAddAdjacent(Nibbles.High(c), xb);
        low += Avx512BW.MultiplyAddAdjacent(c & mask, xb);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Wide1(byte* w, int blocks, in ActivationRow a, float* y)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector512<byte> mask = Vector512.Create((byte)0x0F);
        sbyte* x = a.Qs;
        for (int b = 0; b < blocks; b++, w += GroupBlockBytes, x += 32)
        {
            Vector512<short> high = Vector512<short>.Zero, low = Vector512<short>.Zero;
            byte* q = w + ScaleBytes;
            Chunk512(q, x, mask, ref high, ref low);
            Chunk512(q + ChunkBytes, x + 4, mask, ref high, ref low);
            Chunk512(q + 2 * ChunkBytes, x + 8, mask, ref high, ref low);
            Chunk512(q + 3 * ChunkBytes, x + 12, mask, ref high, ref low);
            Chunk512(q + 4 * ChunkBytes, x + 16, mask, ref high, ref low);
            Chunk512(q + 5 * ChunkBytes, x + 20, mask, ref high, ref low);
            Chunk512(q + 6 * ChunkBytes, x + 24, mask, ref high, ref low);
            Chunk512(q + 7 * ChunkBytes, x + 28, mask, ref high, ref low);
            // q·x = 16·t·x + l·x − 128·x, exact in int32.
            Vector512<int> d = Avx512BW.MultiplyAddAdjacent(high, Vector512.Create((short)16))
                + Avx512BW.MultiplyAddAdjacent(low, Vector512.Create((short)1))
                - Vector512.Create(a.Sums[b] << 7);
            // The weight scales without their 2^112 rebias meet the activation scale carrying it: both exact powers
            // of two apart from the true values, so each lane rounds as d_w · d_x does.
            Vector512<float> scales = Q4_0x16.UnbiasedScales512(w) * Vector512.Create(a.Scales[b] * Fp16.RebiasMultiplier);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d), scales, acc);
        }
        Vector512.Store(acc, y);
    }

    /// <summary>One block of four activation rows (quants <paramref name="x0"/>..<paramref name="x3"/> at the block) with each chunk unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x512(byte* q, sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, Vector512<byte> mask,
        out Vector512<int> d0, out Vector512<int> d1, out Vector512<int> d2, out Vector512<int> d3)
    {
        Vector512<short> h0 = Vector512<short>.Zero, l0 = Vector512<short>.Zero, h1 = Vector512<short>.Zero, l1 = Vector512<short>.Zero;
        Vector512<short> h2 = Vector512<short>.Zero, l2 = Vector512<short>.Zero, h3 = Vector512<short>.Zero, l3 = Vector512<short>.Zero;
        for (int c = 0; c < Chunks; c++)
        {
            Vector512<byte> v = Vector512.Load(q + c * ChunkBytes);
            Vector512<byte> high = Nibbles.High(v), low = v & mask;
            Vector512<sbyte> xb = Vector512.Create(*(int*)(x0 + 4 * c)).AsSByte();
            h0 += Avx512BW.MultiplyAddAdjacent(high, xb);
            l0 += Avx512BW.MultiplyAddAdjacent(low, xb);
            xb = Vector512.Create(*(int*)(x1 + 4 * c)).AsSByte();
            h1 += Avx512BW.MultiplyAddAdjacent(high, xb);
            l1 += Avx512BW.MultiplyAddAdjacent(low, xb);
            xb = Vector512.Create(*(int*)(x2 + 4 * c)).AsSByte();
            h2 += Avx512BW.MultiplyAddAdjacent(high, xb);
            l2 += Avx512BW.MultiplyAddAdjacent(low, xb);
            xb = Vector512.Create(*(int*)(x3 + 4 * c)).AsSByte();
            h3 += Avx512BW.MultiplyAddAdjacent(high, xb);
            l3 += Avx512BW.MultiplyAddAdjacent(low, xb);
        }
        Vector512<short> sixteen = Vector512.Create((short)16), one = Vector512.Create((short)1);
        d0 = Avx512BW.MultiplyAddAdjacent(h0, sixteen) + Avx512BW.MultiplyAddAdjacent(l0, one);
        d1 = Avx512BW.MultiplyAddAdjacent(h1, sixteen) + Avx512BW.MultiplyAddAdjacent(l1, one);
        d2 = Avx512BW.MultiplyAddAdjacent(h2, sixteen) + Avx512BW.MultiplyAddAdjacent(l2, one);
        d3 = Avx512BW.MultiplyAddAdjacent(h3, sixteen) + Avx512BW.MultiplyAddAdjacent(l3, one);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Wide4(byte* w, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector512<float> acc0 = Vector512<float>.Zero, acc1 = Vector512<float>.Zero;
        Vector512<float> acc2 = Vector512<float>.Zero, acc3 = Vector512<float>.Zero;
        Vector512<byte> mask = Vector512.Create((byte)0x0F);
        ActivationRow a0 = acts[0], a1 = acts[1], a2 = acts[2], a3 = acts[3];
        for (int b = 0; b < blocks; b++, w += GroupBlockBytes)
        {
            Block4x512(w + ScaleBytes, a0.Qs + 32 * b, a1.Qs + 32 * b, a2.Qs + 32 * b, a3.Qs + 32 * b, mask,
                out Vector512<int> d0, out Vector512<int> d1, out Vector512<int> d2, out Vector512<int> d3);
            // The same operations as Wide1, in the same order, so each lane equals the single-row result exactly.
            Vector512<float> ws = Q4_0x16.UnbiasedScales512(w);
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d0 - Vector512.Create(a0.Sums[b] << 7)), ws * Vector512.Create(a0.Scales[b] * Fp16.RebiasMultiplier), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d1 - Vector512.Create(a1.Sums[b] << 7)), ws * Vector512.Create(a1.Scales[b] * Fp16.RebiasMultiplier), acc1);
            acc2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d2 - Vector512.Create(a2.Sums[b] << 7)), ws * Vector512.Create(a2.Scales[b] * Fp16.RebiasMultiplier), acc2);
            acc3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d3 - Vector512.Create(a3.Sums[b] << 7)), ws * Vector512.Create(a3.Scales[b] * Fp16.RebiasMultiplier), acc3);
        }
        Vector512.Store(acc0, y);
        Vector512.Store(acc1, y + yStride);
        Vector512.Store(acc2, y + 2L * yStride);
        Vector512.Store(acc3, y + 3L * yStride);
    }

    // ---- 256-bit: a group as two 8-row halves; `s` points at a half's scales, `q` at its bytes of chunk 0 ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk256(byte* w, sbyte* x, Vector256<byte> mask, ref Vector256<short> high, ref Vector256<short> low)
    {
        Vector256<byte> c = Avx.LoadVector256(w);
        Vector256<sbyte> xb = Vector256.Create(*(int*)x).AsSByte();
        high += Avx2.MultiplyAddAdjacent(Nibbles.High(c), xb);
        low += Avx2.MultiplyAddAdjacent(c & mask, xb);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Narrow1(byte* s, byte* q, int blocks, in ActivationRow a, float* y)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        sbyte* x = a.Qs;
        for (int b = 0; b < blocks; b++, s += GroupBlockBytes, q += GroupBlockBytes, x += 32)
        {
            Vector256<short> high = Vector256<short>.Zero, low = Vector256<short>.Zero;
            Chunk256(q, x, mask, ref high, ref low);
            Chunk256(q + ChunkBytes, x + 4, mask, ref high, ref low);
            Chunk256(q + 2 * ChunkBytes, x + 8, mask, ref high, ref low);
            Chunk256(q + 3 * ChunkBytes, x + 12, mask, ref high, ref low);
            Chunk256(q + 4 * ChunkBytes, x + 16, mask, ref high, ref low);
            Chunk256(q + 5 * ChunkBytes, x + 20, mask, ref high, ref low);
            Chunk256(q + 6 * ChunkBytes, x + 24, mask, ref high, ref low);
            Chunk256(q + 7 * ChunkBytes, x + 28, mask, ref high, ref low);
            Vector256<int> d = Avx2.MultiplyAddAdjacent(high, Vector256.Create((short)16))
                + Avx2.MultiplyAddAdjacent(low, Vector256.Create((short)1))
                - Vector256.Create(a.Sums[b] << 7);
            Vector256<float> scales = Q4_0x16.UnbiasedScales256(s) * Vector256.Create(a.Scales[b] * Fp16.RebiasMultiplier);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), scales, acc);
        }
        Avx.Store(y, acc);
    }

    /// <summary><see cref="Block4x512"/> for eight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x256(byte* q, sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, Vector256<byte> mask,
        out Vector256<int> d0, out Vector256<int> d1, out Vector256<int> d2, out Vector256<int> d3)
    {
        Vector256<short> h0 = Vector256<short>.Zero, l0 = Vector256<short>.Zero, h1 = Vector256<short>.Zero, l1 = Vector256<short>.Zero;
        Vector256<short> h2 = Vector256<short>.Zero, l2 = Vector256<short>.Zero, h3 = Vector256<short>.Zero, l3 = Vector256<short>.Zero;
        for (int c = 0; c < Chunks; c++)
        {
            Vector256<byte> v = Avx.LoadVector256(q + c * ChunkBytes);
            Vector256<byte> high = Nibbles.High(v), low = v & mask;
            Vector256<sbyte> xb = Vector256.Create(*(int*)(x0 + 4 * c)).AsSByte();
            h0 += Avx2.MultiplyAddAdjacent(high, xb);
            l0 += Avx2.MultiplyAddAdjacent(low, xb);
            xb = Vector256.Create(*(int*)(x1 + 4 * c)).AsSByte();
            h1 += Avx2.MultiplyAddAdjacent(high, xb);
            l1 += Avx2.MultiplyAddAdjacent(low, xb);
            xb = Vector256.Create(*(int*)(x2 + 4 * c)).AsSByte();
            h2 += Avx2.MultiplyAddAdjacent(high, xb);
            l2 += Avx2.MultiplyAddAdjacent(low, xb);
            xb = Vector256.Create(*(int*)(x3 + 4 * c)).AsSByte();
            h3 += Avx2.MultiplyAddAdjacent(high, xb);
            l3 += Avx2.MultiplyAddAdjacent(low, xb);
        }
        Vector256<short> sixteen = Vector256.Create((short)16), one = Vector256.Create((short)1);
        d0 = Avx2.MultiplyAddAdjacent(h0, sixteen) + Avx2.MultiplyAddAdjacent(l0, one);
        d1 = Avx2.MultiplyAddAdjacent(h1, sixteen) + Avx2.MultiplyAddAdjacent(l1, one);
        d2 = Avx2.MultiplyAddAdjacent(h2, sixteen) + Avx2.MultiplyAddAdjacent(l2, one);
        d3 = Avx2.MultiplyAddAdjacent(h3, sixteen) + Avx2.MultiplyAddAdjacent(l3, one);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Narrow4(byte* s, byte* q, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        ActivationRow a0 = acts[0], a1 = acts[1], a2 = acts[2], a3 = acts[3];
        for (int b = 0; b < blocks; b++, s += GroupBlockBytes, q += GroupBlockBytes)
        {
            Block4x256(q, a0.Qs + 32 * b, a1.Qs + 32 * b, a2.Qs + 32 * b, a3.Qs + 32 * b, mask,
                out Vector256<int> d0, out Vector256<int> d1, out Vector256<int> d2, out Vector256<int> d3);
            Vector256<float> ws = Q4_0x16.UnbiasedScales256(s);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d0 - Vector256.Create(a0.Sums[b] << 7)), ws * Vector256.Create(a0.Scales[b] * Fp16.RebiasMultiplier), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d1 - Vector256.Create(a1.Sums[b] << 7)), ws * Vector256.Create(a1.Scales[b] * Fp16.RebiasMultiplier), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d2 - Vector256.Create(a2.Sums[b] << 7)), ws * Vector256.Create(a2.Scales[b] * Fp16.RebiasMultiplier), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d3 - Vector256.Create(a3.Sums[b] << 7)), ws * Vector256.Create(a3.Scales[b] * Fp16.RebiasMultiplier), acc3);
        }
        Avx.Store(y, acc0);
        Avx.Store(y + yStride, acc1);
        Avx.Store(y + 2L * yStride, acc2);
        Avx.Store(y + 3L * yStride, acc3);
    }
}
