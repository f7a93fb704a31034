using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Edgewise.Engine.Sampling;

/// <summary>
/// The whole-vocabulary passes of sampling (max, first index of the max, threshold filter), each with a SIMD fast
/// path and a scalar twin that defines the result. NaN logits never win a comparison: they are skipped.
/// </summary>
public static class LogitScan
{
    /// <summary>Largest value, or -infinity when empty (or all NaN).</summary>
    public static float Max(ReadOnlySpan<float> values)
    {
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<float>.Count)
            return MaxVector256(values);
        return MaxScalar(values);
    }

    public static float MaxScalar(ReadOnlySpan<float> values)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] > max)
                max = values[i];
        }
        return max;
    }

    private static float MaxVector256(ReadOnlySpan<float> values)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        var best = Vector256.Create(float.NegativeInfinity);
        int i = 0;
        for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var v = Vector256.LoadUnsafe(ref start, (nuint)i);
            best = Vector256.ConditionalSelect(Vector256.GreaterThan(v, best), v, best);
        }
        float max = float.NegativeInfinity;
        for (int lane = 0; lane < Vector256<float>.Count; lane++)
        {
            if (best[lane] > max)
                max = best[lane];
        }
        for (; i < values.Length; i++)
        {
            if (values[i] > max)
                max = values[i];
        }
        return max;
    }

    /// <summary>Index of the first largest value (ties go to the lowest id), or -1 when empty or all NaN/-infinity.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        float max = Max(values);
        return float.IsNegativeInfinity(max) ? -1 : IndexOfFirstAtLeast(values, max);
    }

    public static int ArgMaxScalar(ReadOnlySpan<float> values)
    {
        int best = -1;
        float max = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] > max)
            {
                max = values[i];
                best = i;
            }
        }
        return best;
    }

    private static int IndexOfFirstAtLeast(ReadOnlySpan<float> values, float threshold)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(values);
            var t = Vector256.Create(threshold);
            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                uint bits = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref start, (nuint)i), t).ExtractMostSignificantBits();
                if (bits != 0)
                    return i + BitOperations.TrailingZeroCount(bits);
            }
        }
        for (; i < values.Length; i++)
        {
            if (values[i] >= threshold)
                return i;
        }
        return -1;
    }

    /// <summary>
    /// Writes the indices of values &gt;= <paramref name="threshold"/>, in increasing order, to <paramref name="indices"/>
    /// (which must be as long as <paramref name="values"/>) and returns how many there are.
    /// </summary>
    public static int CollectAtLeast(ReadOnlySpan<float> values, float threshold, Span<int> indices)
    {
        if (indices.Length < values.Length)
            throw new ArgumentException($"expected room for {values.Length} indices, found {indices.Length}", nameof(indices));
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<float>.Count)
            return CollectAtLeastVector256(values, threshold, indices);
        return CollectAtLeastScalar(values, threshold, indices);
    }

    public static int CollectAtLeastScalar(ReadOnlySpan<float> values, float threshold, Span<int> indices)
    {
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] >= threshold)
                indices[count++] = i;
        }
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CollectAtLeastVector256(ReadOnlySpan<float> values, float threshold, Span<int> indices)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        var t = Vector256.Create(threshold);
        int count = 0;
        int i = 0;
        for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            uint bits = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref start, (nuint)i), t).ExtractMostSignificantBits();
            while (bits != 0)
            {
                indices[count++] = i + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
            }
        }
        for (; i < values.Length; i++)
        {
            if (values[i] >= threshold)
                indices[count++] = i;
        }
        return count;
    }

    /// <summary>Tokens per entry of the block sums written by <see cref="SumExp"/>.</summary>
    public const int ExpBlock = 256;

    /// <summary>
    /// Σ exp((v - max)·scale) over all values, also written per block of <see cref="ExpBlock"/> values to
    /// <paramref name="blockSums"/> (length ⌈n/256⌉) so a draw can find its token without a second exp pass.
    /// -infinity contributes 0; NaN values are not allowed.
    /// </summary>
    public static double SumExp(ReadOnlySpan<float> values, float max, float scale, Span<float> blockSums)
    {
        if (!Vector256.IsHardwareAccelerated)
            return SumExpScalar(values, max, scale, blockSums);
        int blocks = (values.Length + ExpBlock - 1) / ExpBlock;
        if (blockSums.Length < blocks)
            throw new ArgumentException($"expected room for {blocks} block sums, found {blockSums.Length}", nameof(blockSums));
        ref float start = ref MemoryMarshal.GetReference(values);
        var vMax = Vector256.Create(max);
        var vScale = Vector256.Create(scale);
        double total = 0;
        for (int b = 0; b < blocks; b++)
        {
            int begin = b * ExpBlock;
            int end = Math.Min(begin + ExpBlock, values.Length);
            var acc = Vector256<float>.Zero;
            int i = begin;
            for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
                acc += Vector256.Exp((Vector256.LoadUnsafe(ref start, (nuint)i) - vMax) * vScale);
            float sum = Vector256.Sum(acc);
            for (; i < end; i++)
                sum += MathF.Exp((values[i] - max) * scale);
            blockSums[b] = sum;
            total += sum;
        }
        return total;
    }

    public static double SumExpScalar(ReadOnlySpan<float> values, float max, float scale, Span<float> blockSums)
    {
        int blocks = (values.Length + ExpBlock - 1) / ExpBlock;
        double total = 0;
        for (int b = 0; b < blocks; b++)
        {
            int begin = b * ExpBlock;
            int end = Math.Min(begin + ExpBlock, values.Length);
            float sum = 0;
            for (int i = begin; i < end; i++)
                sum += MathF.Exp((values[i] - max) * scale);
            blockSums[b] = sum;
            total += sum;
        }
        return total;
    }

    /// <summary>Sets every logit whose bit is clear in <paramref name="allowed"/> (bit i of word i/64) to -infinity.</summary>
    public static void ApplyMask(Span<float> logits, ReadOnlySpan<ulong> allowed)
    {
        int words = (logits.Length + 63) >> 6;
        if (allowed.Length < words)
            throw new ArgumentException($"expected a mask of {words} words for {logits.Length} logits, found {allowed.Length}", nameof(allowed));
        for (int w = 0; w < words; w++)
        {
            ulong bits = allowed[w];
            if (bits == ulong.MaxValue)
                continue;
            int baseIndex = w << 6;
            int end = Math.Min(64, logits.Length - baseIndex);
            if (bits == 0)
            {
                logits.Slice(baseIndex, end).Fill(float.NegativeInfinity);
                continue;
            }
            for (int b = 0; b < end; b++)
            {
                if ((bits & (1UL << b)) == 0)
                    logits[baseIndex + b] = float.NegativeInfinity;
            }
        }
    }
}
