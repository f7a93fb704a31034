using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    public static void Interleave(byte* data, int rows, int blocks)
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
                    for (int r = 0; r < GroupRows; r++)
                    {
                        byte* src = copy + ((long)r * blocks + b) * 18;
                        ((ushort*)dst)[r] = *(ushort*)src;
                        for (int c = 0; c < 4; c++) *(uint*)(dst + 16 + 32 * c + 4 * r) = *(uint*)(src + 2 + 4 * c);
                    }
                }
            }
        }
        finally
        {
            NativeMemory.Free(copy);
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

    /// <summary>The eight rows' scales times this block's activation scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scales(byte* block, float activationScale)
        => RowDot.WidenHalf(Sse2.LoadVector128((ushort*)block)) * Vector256.Create(activationScale);

    /// <summary>
    /// Lane r = Σ nibble·x over row r's block, for the four unpacked chunks and the block's activation values
    /// (<paramref name="low"/>: values 0..15, <paramref name="high"/>: 16..31). Eight maddubs terms of at most
    /// 2·15·127 each sum safely in int16 before one widening madd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<byte> lo0, Vector256<byte> hi0, Vector256<byte> lo1, Vector256<byte> hi1,
        Vector256<byte> lo2, Vector256<byte> hi2, Vector256<byte> lo3, Vector256<byte> hi3, sbyte* low, sbyte* high)
    {
        Vector256<short> p = Avx2.MultiplyAddAdjacent(lo0, Vector256.Create(*(int*)low).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi0, Vector256.Create(*(int*)high).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo1, Vector256.Create(*(int*)(low + 4)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi1, Vector256.Create(*(int*)(high + 4)).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo2, Vector256.Create(*(int*)(low + 8)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi2, Vector256.Create(*(int*)(high + 8)).AsSByte());
        p += Avx2.MultiplyAddAdjacent(lo3, Vector256.Create(*(int*)(low + 12)).AsSByte())
            + Avx2.MultiplyAddAdjacent(hi3, Vector256.Create(*(int*)(high + 12)).AsSByte());
        return Avx2.MultiplyAddAdjacent(p, Vector256.Create((short)1));
    }

    /// <summary>Where block <paramref name="b"/>'s values 0..15 and 16..31 lie in a paired activation row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static sbyte* LowHalf(sbyte* qs, int b, int blocks, out sbyte* high)
    {
        if ((b | 1) >= blocks)
        {
            high = qs + b * 32 + 16; // the odd last block is stored plain
            return qs + b * 32;
        }
        sbyte* low = qs + (b & ~1) * 32 + (b & 1) * 16;
        high = low + 32;
        return low;
    }

    /// <summary>
    /// y[j · yStride + r] = row r of the group · activation row j, for <paramref name="count"/> activation rows
    /// (<paramref name="acts"/>[j]), four at a time so each unpacked block is reused four times. Every lane runs the
    /// same operations in the same order whatever the count, so a batch equals one call per row bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fast(byte* group, int blocks, ActivationRow* acts, int count, float* y, int yStride)
    {
        int j = 0;
        for (; j + 4 <= count; j += 4) Fast4(group, blocks, acts + j, y + (long)j * yStride, yStride);
        for (; j < count; j++) Fast1(group, blocks, acts[j], y + (long)j * yStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fast1(byte* w, int blocks, in ActivationRow a, float* y)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<float> acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += GroupBlockBytes)
        {
            Vector256<byte> c0 = Avx.LoadVector256(w + 16), c1 = Avx.LoadVector256(w + 48);
            Vector256<byte> c2 = Avx.LoadVector256(w + 80), c3 = Avx.LoadVector256(w + 112);
            sbyte* low = LowHalf(a.Qs, b, blocks, out sbyte* high);
            Vector256<int> d = Dot(c0 & mask, Avx2.ShiftRightLogical(c0.AsUInt16(), 4).AsByte() & mask,
                c1 & mask, Avx2.ShiftRightLogical(c1.AsUInt16(), 4).AsByte() & mask,
                c2 & mask, Avx2.ShiftRightLogical(c2.AsUInt16(), 4).AsByte() & mask,
                c3 & mask, Avx2.ShiftRightLogical(c3.AsUInt16(), 4).AsByte() & mask, low, high);
            // Nibbles are stored as q + 8: subtract 8 · Σx (exact, in int).
            d -= Vector256.Create(a.Sums[b] << 3);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), Scales(w, a.Scales[b]), acc);
        }
        Avx.Store(y, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fast4(byte* w, int blocks, ActivationRow* acts, float* y, int yStride)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        sbyte* q0 = acts[0].Qs, q1 = acts[1].Qs, q2 = acts[2].Qs, q3 = acts[3].Qs;
        for (int b = 0; b < blocks; b++, w += GroupBlockBytes)
        {
            Vector256<byte> c0 = Avx.LoadVector256(w + 16), c1 = Avx.LoadVector256(w + 48);
            Vector256<byte> c2 = Avx.LoadVector256(w + 80), c3 = Avx.LoadVector256(w + 112);
            Vector256<byte> lo0 = c0 & mask, hi0 = Avx2.ShiftRightLogical(c0.AsUInt16(), 4).AsByte() & mask;
            Vector256<byte> lo1 = c1 & mask, hi1 = Avx2.ShiftRightLogical(c1.AsUInt16(), 4).AsByte() & mask;
            Vector256<byte> lo2 = c2 & mask, hi2 = Avx2.ShiftRightLogical(c2.AsUInt16(), 4).AsByte() & mask;
            Vector256<byte> lo3 = c3 & mask, hi3 = Avx2.ShiftRightLogical(c3.AsUInt16(), 4).AsByte() & mask;
            Vector256<float> ws = RowDot.WidenHalf(Sse2.LoadVector128((ushort*)w));
            // Every activation row of the batch has the same layout, so one offset serves all four.
            sbyte* low = LowHalf(q0, b, blocks, out sbyte* high);
            nint lowOffset = (nint)(low - q0), highOffset = (nint)(high - q0);

            Vector256<int> d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q0 + lowOffset, q0 + highOffset) - Vector256.Create(acts[0].Sums[b] << 3);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[0].Scales[b]), acc0);
            d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q1 + lowOffset, q1 + highOffset) - Vector256.Create(acts[1].Sums[b] << 3);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[1].Scales[b]), acc1);
            d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q2 + lowOffset, q2 + highOffset) - Vector256.Create(acts[2].Sums[b] << 3);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[2].Scales[b]), acc2);
            d = Dot(lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, q3 + lowOffset, q3 + highOffset) - Vector256.Create(acts[3].Sums[b] << 3);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), ws * Vector256.Create(acts[3].Scales[b]), acc3);
        }
        Avx.Store(y, acc0);
        Avx.Store(y + yStride, acc1);
        Avx.Store(y + 2L * yStride, acc2);
        Avx.Store(y + 3L * yStride, acc3);
    }
}
