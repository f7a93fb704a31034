using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Edgewise.Core.Threading;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Element-wise and normalisation kernels on float spans. Parameter order: sources, scalars, destination.
/// Every method has an internal overload taking <c>fast</c>: false runs the scalar twin the tests compare against.
/// </summary>
public static class Ops
{
    /// <summary>dst = x / sqrt(mean(x²) + eps) * weight; an empty <paramref name="weight"/> means no scale (Norm1).</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst) => RmsNorm(x, weight, eps, dst, fast: true);

    internal static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst, bool fast)
    {
        if (!weight.IsEmpty && weight.Length < x.Length)
        {
            throw new ArgumentException($"RMSNorm weight has {weight.Length} values; the input has {x.Length}.", nameof(weight));
        }
        if (x.IsEmpty) return;
        float meanSquare = Dot(x, x, fast) / x.Length;
        float inverseRms = 1f / MathF.Sqrt(meanSquare + eps);
        if (weight.IsEmpty) ElementwiseDriver.Unary(new ScaleOperator(inverseRms), x, dst, fast);
        else ElementwiseDriver.Binary(new ScaledMultiplyOperator(inverseRms), x, weight, dst, fast);
    }

    /// <summary>In-place softmax over the whole span (max-subtracted, so large logits do not overflow).</summary>
    public static void Softmax(Span<float> x) => Softmax(x, fast: true);

    internal static void Softmax(Span<float> x, bool fast)
    {
        if (x.IsEmpty) return;
        float sum = ExpShifted(x, Max(x, fast), fast);
        ElementwiseDriver.Unary(new ScaleOperator(1f / sum), x, x, fast);
    }

    /// <summary>x[i] = exp(x[i] − <paramref name="max"/>) in place (softmax numerators); returns their sum.</summary>
    public static float ExpShifted(Span<float> x, float max) => ExpShifted(x, max, fast: true);

    internal static float ExpShifted(Span<float> x, float max, bool fast)
    {
        ElementwiseDriver.Unary(new ExpShiftedOperator(max), x, x, fast);
        return Sum(x, fast);
    }

    /// <summary>
    /// <c>acc[i] += Σ_j weights[j] · values[offsets[j] + i]</c> for i in [0, acc.Length), rows j in order: attention's
    /// weighted sum of value rows. A 64-wide slice of acc stays in registers while every row passes, so acc is read
    /// and written once per call instead of once per row. Each element takes one fused multiply-add per row, in row
    /// order, like the scalar twin.
    /// </summary>
    public static void AddWeightedRows(ReadOnlySpan<float> values, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, Span<float> acc)
        => AddWeightedRows(values, offsets, weights, acc, fast: true);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void AddWeightedRows(ReadOnlySpan<float> values, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, Span<float> acc, bool fast)
    {
        int n = acc.Length, rows = offsets.Length;
        if (weights.Length < rows) throw new ArgumentException($"{rows} rows but {weights.Length} weights.", nameof(weights));
        foreach (int offset in offsets)
        {
            if (offset < 0 || (long)offset + n > values.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(offsets), offset, $"A row of {n} values at {offset} leaves the {values.Length} values.");
            }
        }
        fixed (float* v = values)
        fixed (int* o = offsets)
        fixed (float* w = weights)
        fixed (float* a = acc)
        {
            int i = 0;
            if (fast && Vector256.IsHardwareAccelerated)
            {
                for (; i + 64 <= n; i += 64)
                {
                    float* y = a + i;
                    Vector256<float> a0 = Vector256.Load(y), a1 = Vector256.Load(y + 8), a2 = Vector256.Load(y + 16), a3 = Vector256.Load(y + 24);
                    Vector256<float> a4 = Vector256.Load(y + 32), a5 = Vector256.Load(y + 40), a6 = Vector256.Load(y + 48), a7 = Vector256.Load(y + 56);
                    for (int j = 0; j < rows; j++)
                    {
                        float* x = v + o[j] + i;
                        Vector256<float> s = Vector256.Create(w[j]);
                        a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x), s, a0);
                        a1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 8), s, a1);
                        a2 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 16), s, a2);
                        a3 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 24), s, a3);
                        a4 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 32), s, a4);
                        a5 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 40), s, a5);
                        a6 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 48), s, a6);
                        a7 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 56), s, a7);
                    }
                    a0.Store(y);
                    a1.Store(y + 8);
                    a2.Store(y + 16);
                    a3.Store(y + 24);
                    a4.Store(y + 32);
                    a5.Store(y + 40);
                    a6.Store(y + 48);
                    a7.Store(y + 56);
                }
                for (; i + 8 <= n; i += 8)
                {
                    Vector256<float> a0 = Vector256.Load(a + i);
                    for (int j = 0; j < rows; j++) a0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + o[j] + i), Vector256.Create(w[j]), a0);
                    a0.Store(a + i);
                }
            }
            for (; i < n; i++)
            {
                float sum = a[i];
                for (int j = 0; j < rows; j++) sum = MathF.FusedMultiplyAdd(v[o[j] + i], w[j], sum);
                a[i] = sum;
            }
        }
    }

    /// <summary>dst = gelu_tanh(x) (HF <c>gelu_pytorch_tanh</c>).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> dst) => ElementwiseDriver.Unary(default(GeluTanhOperator), x, dst, fast: true);

    internal static void GeluTanh(ReadOnlySpan<float> x, Span<float> dst, bool fast) => ElementwiseDriver.Unary(default(GeluTanhOperator), x, dst, fast);

    /// <summary>dst = gelu_tanh(gate) * up.</summary>
    public static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst) => ElementwiseDriver.Binary(default(GeGluOperator), gate, up, dst, fast: true);

    internal static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst, bool fast) => ElementwiseDriver.Binary(default(GeGluOperator), gate, up, dst, fast);

    /// <summary>In place: x = cap · tanh(x / cap) (Gemma's final logit softcapping).</summary>
    public static void Softcap(Span<float> x, float cap) => Softcap(x, cap, fast: true);

    internal static void Softcap(Span<float> x, float cap, bool fast)
    {
        if (!(cap > 0)) throw new ArgumentOutOfRangeException(nameof(cap), cap, "Softcap needs a positive cap.");
        ElementwiseDriver.Unary(new SoftcapOperator(cap), x, x, fast);
    }

    /// <summary>
    /// <see cref="Softcap(Span{float}, float)"/> split over <paramref name="pool"/>: a decode step's logits are a
    /// vocabulary of tanh's (262144 for Gemma, a few hundred µs on one core while the others wait). The pieces are
    /// multiples of 16 values long, so each takes the vector/tail split of one call and the result is identical.
    /// </summary>
    public static unsafe void Softcap(Span<float> x, float cap, WorkerPool pool)
    {
        if (!(cap > 0)) throw new ArgumentOutOfRangeException(nameof(cap), cap, "Softcap needs a positive cap.");
        fixed (float* p = x)
        {
            var job = new SoftcapJob { X = p, Length = x.Length, Cap = cap };
            pool.RunRanges(ref job, (x.Length + SoftcapJob.Piece - 1) / SoftcapJob.Piece, 8L * SoftcapJob.Piece);
        }
    }

    private readonly unsafe struct SoftcapJob : IRangeJob
    {
        public const int Piece = 4096;
        public float* X { get; init; }
        public int Length { get; init; }
        public float Cap { get; init; }

        public void Execute(int start, int end)
        {
            int first = start * Piece, last = Math.Min(Length, end * Piece);
            var piece = new Span<float>(X + first, last - first);
            ElementwiseDriver.Unary(new SoftcapOperator(Cap), piece, piece, fast: true);
        }
    }

    /// <summary>dst = x + y.</summary>
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst) => ElementwiseDriver.Binary(default(AddOperator), x, y, dst, fast: true);

    internal static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst, bool fast) => ElementwiseDriver.Binary(default(AddOperator), x, y, dst, fast);

    /// <summary>dst = x * y.</summary>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst) => ElementwiseDriver.Binary(default(MultiplyOperator), x, y, dst, fast: true);

    internal static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst, bool fast) => ElementwiseDriver.Binary(default(MultiplyOperator), x, y, dst, fast);

    /// <summary>dst = x * factor.</summary>
    public static void Scale(ReadOnlySpan<float> x, float factor, Span<float> dst) => ElementwiseDriver.Unary(new ScaleOperator(factor), x, dst, fast: true);

    internal static void Scale(ReadOnlySpan<float> x, float factor, Span<float> dst, bool fast) => ElementwiseDriver.Unary(new ScaleOperator(factor), x, dst, fast);

    /// <summary>dst += factor * x (accumulate a weighted vector, e.g. attention values).</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float factor, Span<float> dst) => ElementwiseDriver.Binary(new AddScaledOperator(factor), x, dst, dst, fast: true);

    internal static void AddScaled(ReadOnlySpan<float> x, float factor, Span<float> dst, bool fast) => ElementwiseDriver.Binary(new AddScaledOperator(factor), x, dst, dst, fast);

    /// <summary>Σ x[i]·y[i] over x's length.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Dot(x, y, fast: true);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, bool fast)
    {
        if (y.Length < x.Length) throw new ArgumentException($"Dot of {x.Length} values with {y.Length}.", nameof(y));
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        float sum = 0;
        if (fast && Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i + 8), Vector256.LoadUnsafe(ref yr, (nuint)i + 8), acc1);
            }
            for (; i + 8 <= n; i += 8) acc0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref xr, i) * Unsafe.Add(ref yr, i);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Sum(ReadOnlySpan<float> x, bool fast)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0;
        if (fast && Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc += Vector256.LoadUnsafe(ref xr, (nuint)i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref xr, i);
        return sum;
    }

    /// <summary>The largest value (NaN if any is; −∞ for none), as a <see cref="MathF.Max"/> fold in any order gives it.</summary>
    public static float Max(ReadOnlySpan<float> x) => Max(x, fast: true);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Max(ReadOnlySpan<float> x, bool fast)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float max = float.NegativeInfinity;
        if (fast && Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref xr, (nuint)i));
            for (int k = 0; k < 8; k++) max = MathF.Max(max, acc[k]);
        }
        for (; i < n; i++) max = MathF.Max(max, Unsafe.Add(ref xr, i));
        return max;
    }

    /// <summary>
    /// Rotate-half (NeoX) RoPE in place on one or more heads laid end to end in <paramref name="heads"/>. Pair i
    /// is (i, i + headDim/2) for i &lt; rotaryDims/2, turned by position · invFreq[i]; coordinates of pairs at
    /// or beyond rotaryDims/2 pass through. Gemma 4's proportional RoPE is either rotaryDims = 2·64 with the
    /// 64 rotated frequencies, or rotaryDims = headDim with invFreq = 0 (or llama.cpp's θ/1e30) for the rest.
    /// </summary>
    public static void RopeRotateHalf(Span<float> heads, int headDim, int rotaryDims, ReadOnlySpan<float> invFreq, int position)
        => RopeRotateHalf(heads, headDim, rotaryDims, invFreq, position, fast: true);

    internal static void RopeRotateHalf(Span<float> heads, int headDim, int rotaryDims, ReadOnlySpan<float> invFreq, int position, bool fast)
    {
        if (headDim <= 0 || headDim % 2 != 0 || heads.Length % headDim != 0)
        {
            throw new ArgumentException($"RoPE over {heads.Length} values with head dim {headDim}: the head dim must be even and divide the length.", nameof(headDim));
        }
        if (rotaryDims < 0 || rotaryDims > headDim || rotaryDims % 2 != 0 || invFreq.Length < rotaryDims / 2)
        {
            throw new ArgumentException($"RoPE rotary dims {rotaryDims} with {invFreq.Length} frequencies: need an even count up to head dim {headDim} and one frequency per rotated pair.", nameof(rotaryDims));
        }
        int pairs = rotaryDims / 2, half = headDim / 2;
        Span<float> cos = pairs <= 512 ? stackalloc float[pairs] : new float[pairs];
        Span<float> sin = pairs <= 512 ? stackalloc float[pairs] : new float[pairs];
        for (int i = 0; i < pairs; i++)
        {
            // HF computes the angle as a float32 product, then cos/sin in float32.
            float angle = position * invFreq[i];
            (sin[i], cos[i]) = MathF.SinCos(angle);
        }
        for (int h = 0; h < heads.Length; h += headDim)
        {
            Span<float> first = heads.Slice(h, pairs);
            Span<float> second = heads.Slice(h + half, pairs);
            RotatePairs(first, second, cos, sin, fast);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RotatePairs(Span<float> a, Span<float> b, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool fast)
    {
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float br = ref MemoryMarshal.GetReference(b);
        ref float cr = ref MemoryMarshal.GetReference(cos);
        ref float sr = ref MemoryMarshal.GetReference(sin);
        int n = a.Length, i = 0;
        if (fast && Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> av = Vector256.LoadUnsafe(ref ar, (nuint)i), bv = Vector256.LoadUnsafe(ref br, (nuint)i);
                Vector256<float> c = Vector256.LoadUnsafe(ref cr, (nuint)i), s = Vector256.LoadUnsafe(ref sr, (nuint)i);
                (av * c - bv * s).StoreUnsafe(ref ar, (nuint)i);
                (bv * c + av * s).StoreUnsafe(ref br, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float av = Unsafe.Add(ref ar, i), bv = Unsafe.Add(ref br, i);
            float c = Unsafe.Add(ref cr, i), s = Unsafe.Add(ref sr, i);
            Unsafe.Add(ref ar, i) = av * c - bv * s;
            Unsafe.Add(ref br, i) = bv * c + av * s;
        }
    }

    /// <summary>
    /// RoPE inverse frequencies: invFreq[i] = θ^(-2i/headDim) / factor[i] for the first <paramref name="rotatedPairs"/>
    /// pairs and 0 for the rest (spec §2.2; the exponent's denominator is always the full head dim).
    /// <paramref name="freqFactors"/> is llama.cpp's <c>rope_freqs</c> tensor when present (empty = all 1).
    /// </summary>
    public static void RopeFrequencies(int headDim, float theta, int rotatedPairs, ReadOnlySpan<float> freqFactors, Span<float> invFreq)
    {
        int half = headDim / 2;
        if (invFreq.Length < half || rotatedPairs > half)
        {
            throw new ArgumentException($"RoPE frequencies for head dim {headDim} need {half} slots (have {invFreq.Length}) and at most {half} rotated pairs (asked {rotatedPairs}).", nameof(invFreq));
        }
        for (int i = 0; i < half; i++)
        {
            float factor = i < freqFactors.Length ? freqFactors[i] : 1f;
            invFreq[i] = i < rotatedPairs ? (float)(Math.Pow(theta, -2.0 * i / headDim) / factor) : 0f;
        }
    }
}
