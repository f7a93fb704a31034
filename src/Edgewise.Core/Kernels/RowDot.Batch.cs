using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

// Prompt batches: one weight row against four activation rows per pass. Each group of eight weight blocks is
// loaded and unpacked once (nibbles, fp16 scales) and reused for all four rows; per row the arithmetic is exactly
// that of the single-row kernel (same integer sums, same float order), so a batch equals one Fast call per row
// bit for bit and prefill matches token-by-token decode.
internal static unsafe partial class RowDot
{
    /// <summary>True when <see cref="FastBatch4"/> has a kernel for <paramref name="type"/>; otherwise call <see cref="Fast"/> per row.</summary>
    public static bool HasBatch4(GgmlType type) => HasFastPath && type is GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>y[j · yStride] = w · acts[j] for j = 0..3; the same values as four <see cref="Fast"/> calls.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FastBatch4(GgmlType type, byte* w, ActivationRow* acts, int columns, float* y, long yStride)
    {
        if (type == GgmlType.Q4_0) FastQ4_0Batch4(w, acts, columns / 32, y, yStride);
        else if (type == GgmlType.Q8_0) FastQ8_0Batch4(w, acts, columns / 32, y, yStride);
        else if (type == GgmlType.Q4_K) FastQ4_KBatch4((BlockQ4_K*)w, acts, columns / 256, y, yStride);
        else if (type == GgmlType.Q6_K) FastQ6_KBatch4((BlockQ6_K*)w, acts, columns / 256, y, yStride);
        else throw new NotSupportedException($"No batch kernel for {type}; check HasBatch4 first.");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ4_0Batch4(byte* w, ActivationRow* acts, int blocks, float* y, long yStride)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        sbyte* x0 = acts[0].Qs, x1 = acts[1].Qs, x2 = acts[2].Qs, x3 = acts[3].Qs;
        byte* wb = w;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, wb += 8 * 18)
        {
            Vector256<byte> l01 = UnpackQ4BlockPair(wb, out Vector256<byte> h01), l23 = UnpackQ4BlockPair(wb + 36, out Vector256<byte> h23);
            Vector256<byte> l45 = UnpackQ4BlockPair(wb + 72, out Vector256<byte> h45), l67 = UnpackQ4BlockPair(wb + 108, out Vector256<byte> h67);
            Vector256<float> ws = HalfScalesUnbiased(GatherHalves(wb, 18));   // the rebias rides on RebiasedScales
            int o = b * 32;
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q4_0BlockSums(l01, h01, l23, h23, l45, h45, l67, h67, x0 + o, acts[0].OffsetSums + b)), ws * Avx.LoadVector256(acts[0].RebiasedScales + b), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q4_0BlockSums(l01, h01, l23, h23, l45, h45, l67, h67, x1 + o, acts[1].OffsetSums + b)), ws * Avx.LoadVector256(acts[1].RebiasedScales + b), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q4_0BlockSums(l01, h01, l23, h23, l45, h45, l67, h67, x2 + o, acts[2].OffsetSums + b)), ws * Avx.LoadVector256(acts[2].RebiasedScales + b), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q4_0BlockSums(l01, h01, l23, h23, l45, h45, l67, h67, x3 + o, acts[3].OffsetSums + b)), ws * Avx.LoadVector256(acts[3].RebiasedScales + b), acc3);
        }
        y[0] = Q4_0Tail(wb, acts[0], b, blocks, Vector256.Sum(acc0));
        y[yStride] = Q4_0Tail(wb, acts[1], b, blocks, Vector256.Sum(acc1));
        y[2 * yStride] = Q4_0Tail(wb, acts[2], b, blocks, Vector256.Sum(acc2));
        y[3 * yStride] = Q4_0Tail(wb, acts[3], b, blocks, Vector256.Sum(acc3));
    }

    /// <summary>Eight Q8_0 blocks (weights already loaded) against one activation row: exact block sums, lane k = block k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q8_0BlockSums(Vector256<sbyte> w0, Vector256<sbyte> w1, Vector256<sbyte> w2, Vector256<sbyte> w3,
        Vector256<sbyte> w4, Vector256<sbyte> w5, Vector256<sbyte> w6, Vector256<sbyte> w7, sbyte* x)
        => BlockSums(
            DotU8S8(Avx2.Abs(w0), Avx2.Sign(Avx.LoadVector256(x), w0)), DotU8S8(Avx2.Abs(w1), Avx2.Sign(Avx.LoadVector256(x + 32), w1)),
            DotU8S8(Avx2.Abs(w2), Avx2.Sign(Avx.LoadVector256(x + 64), w2)), DotU8S8(Avx2.Abs(w3), Avx2.Sign(Avx.LoadVector256(x + 96), w3)),
            DotU8S8(Avx2.Abs(w4), Avx2.Sign(Avx.LoadVector256(x + 128), w4)), DotU8S8(Avx2.Abs(w5), Avx2.Sign(Avx.LoadVector256(x + 160), w5)),
            DotU8S8(Avx2.Abs(w6), Avx2.Sign(Avx.LoadVector256(x + 192), w6)), DotU8S8(Avx2.Abs(w7), Avx2.Sign(Avx.LoadVector256(x + 224), w7)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FastQ8_0Batch4(byte* w, ActivationRow* acts, int blocks, float* y, long yStride)
    {
        const int blockBytes = 34, q = 2;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<float> acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        byte* wb = w;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, wb += 8 * blockBytes)
        {
            Vector256<sbyte> w0 = Avx.LoadVector256((sbyte*)(wb + q)), w1 = Avx.LoadVector256((sbyte*)(wb + blockBytes + q));
            Vector256<sbyte> w2 = Avx.LoadVector256((sbyte*)(wb + 2 * blockBytes + q)), w3 = Avx.LoadVector256((sbyte*)(wb + 3 * blockBytes + q));
            Vector256<sbyte> w4 = Avx.LoadVector256((sbyte*)(wb + 4 * blockBytes + q)), w5 = Avx.LoadVector256((sbyte*)(wb + 5 * blockBytes + q));
            Vector256<sbyte> w6 = Avx.LoadVector256((sbyte*)(wb + 6 * blockBytes + q)), w7 = Avx.LoadVector256((sbyte*)(wb + 7 * blockBytes + q));
            Vector256<float> ws = GatherHalfScales(wb, blockBytes);
            int o = b * 32;
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q8_0BlockSums(w0, w1, w2, w3, w4, w5, w6, w7, acts[0].Qs + o)), ws * Avx.LoadVector256(acts[0].Scales + b), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q8_0BlockSums(w0, w1, w2, w3, w4, w5, w6, w7, acts[1].Qs + o)), ws * Avx.LoadVector256(acts[1].Scales + b), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q8_0BlockSums(w0, w1, w2, w3, w4, w5, w6, w7, acts[2].Qs + o)), ws * Avx.LoadVector256(acts[2].Scales + b), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Q8_0BlockSums(w0, w1, w2, w3, w4, w5, w6, w7, acts[3].Qs + o)), ws * Avx.LoadVector256(acts[3].Scales + b), acc3);
        }
        y[0] = Q8_0Tail(wb, blockBytes, acts[0], b, blocks, Vector256.Sum(acc0));
        y[yStride] = Q8_0Tail(wb, blockBytes, acts[1], b, blocks, Vector256.Sum(acc1));
        y[2 * yStride] = Q8_0Tail(wb, blockBytes, acts[2], b, blocks, Vector256.Sum(acc2));
        y[3 * yStride] = Q8_0Tail(wb, blockBytes, acts[3], b, blocks, Vector256.Sum(acc3));
    }
}
