using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Edgewise.Core.Kernels;

// Fast paths for the remaining 32-value formats (Q4_1 and Q5_0), in groups of eight blocks like Q4_0.
internal static unsafe partial class RowDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> UnpackNibbles(byte* quants)
    {
        Vector128<byte> lowMask = Vector128.Create((byte)0x0F);
        Vector128<byte> raw = Sse2.LoadVector128(quants);
        return Vector256.Create(raw & lowMask, Nibbles.High(raw));
    }

    /// <summary>
    /// Q5_0's fifth bits: bit j of the 32-bit field becomes 0x10 in byte j. Each byte lane picks the field byte
    /// holding its bit, ORs in a mask with every other bit set, and compares with all-ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> FifthBits(byte* qh)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(Unsafe.ReadUnaligned<uint>(qh)).AsByte(),
            Vector256.Create(0x0000000000000000UL, 0x0101010101010101UL, 0x0202020202020202UL, 0x0303030303030303UL).AsByte());
        Vector256<byte> set = Avx2.CompareEqual(spread | Vector256.Create(0x7FBFDFEFF7FBFDFEUL).AsByte(), Vector256<byte>.AllBitsSet);
        return set & Vector256.Create((byte)0x10);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ4_1Block(byte* block, sbyte* x) => DotU8S8(UnpackNibbles(block + 4), Avx.LoadVector256(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotQ5_0Block(byte* block, sbyte* x) => DotU8S8(UnpackNibbles(block + 6) | FifthBits(block + 2), Avx.LoadVector256(x));

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ4_1(byte* w, in ActivationRow a, int blocks)
    {
        // x = d*q + m: Σ = d·dx·Σq·qx + m·dx·Σqx, both per block; the second term uses the activation block sums.
        Vector256<float> acc = Vector256<float>.Zero;
        sbyte* xq = a.Qs;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * 20, xq += 256)
        {
            Vector256<int> sums = BlockSums(
                DotQ4_1Block(w, xq), DotQ4_1Block(w + 20, xq + 32), DotQ4_1Block(w + 40, xq + 64), DotQ4_1Block(w + 60, xq + 96),
                DotQ4_1Block(w + 80, xq + 128), DotQ4_1Block(w + 100, xq + 160), DotQ4_1Block(w + 120, xq + 192), DotQ4_1Block(w + 140, xq + 224));
            Vector256<float> dx = Avx.LoadVector256(a.Scales + b);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), GatherHalfScales(w, 20) * dx, acc);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx.LoadVector256(a.Sums + b)), GatherHalfScales(w + 2, 20) * dx, acc);
        }
        float sum = Vector256.Sum(acc);
        for (; b < blocks; b++, w += 20, xq += 32)
        {
            int dot = Vector256.Sum(DotQ4_1Block(w, xq));
            sum += dot * (Half(*(ushort*)w) * a.Scales[b]) + Half(*(ushort*)(w + 2)) * (a.Scales[b] * a.Sums[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FastQ5_0(byte* w, in ActivationRow a, int blocks)
    {
        // Values are stored as q + 16 in 0..31: dot the unsigned values, subtract 16 * sum(x) per block.
        Vector256<float> acc = Vector256<float>.Zero;
        sbyte* xq = a.Qs;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * 22, xq += 256)
        {
            Vector256<int> sums = BlockSums(
                DotQ5_0Block(w, xq), DotQ5_0Block(w + 22, xq + 32), DotQ5_0Block(w + 44, xq + 64), DotQ5_0Block(w + 66, xq + 96),
                DotQ5_0Block(w + 88, xq + 128), DotQ5_0Block(w + 110, xq + 160), DotQ5_0Block(w + 132, xq + 192), DotQ5_0Block(w + 154, xq + 224));
            sums -= Avx2.ShiftLeftLogical(Avx.LoadVector256(a.Sums + b), 4);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), GatherHalfScales(w, 22) * Avx.LoadVector256(a.Scales + b), acc);
        }
        float sum = Vector256.Sum(acc);
        for (; b < blocks; b++, w += 22, xq += 32)
        {
            int dot = Vector256.Sum(DotQ5_0Block(w, xq)) - 16 * a.Sums[b];
            sum += dot * (Half(*(ushort*)w) * a.Scales[b]);
        }
        return sum;
    }
}
