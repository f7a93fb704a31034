using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;

namespace Edgewise.Core.Kernels;

/// <summary>
/// The two products of grouped-query attention over a chunk of cached keys, blocked so that a loaded vector feeds
/// several multiply-adds: <see cref="Scores"/> takes four heads by four keys at a time (sixteen accumulators, eight
/// loads per sixteen multiply-adds), <see cref="AddWeightedRows"/> takes four heads by a 64-wide slice of the value
/// rows (each loaded value vector feeds four heads). One head and one key at a time, each product is bound by its
/// loads: a key or value vector per multiply-add.
/// <para>
/// Key and value rows are given by offsets into the cache (a ring or a stride of KV heads puts them anywhere). Each
/// output element is computed by the same operations whatever the other rows and heads of the call, so a row's
/// result does not depend on what it is batched with.
/// </para>
/// </summary>
public static unsafe class AttentionTiles
{
    /// <summary>
    /// Whether the tiles use 512-bit registers (AVX-512) or 256-bit ones (AVX2 + FMA; the value sums then take
    /// <see cref="Ops.AddWeightedRows(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float})"/> per
    /// head). Settable so tests run both paths on a machine that has AVX-512.
    /// </summary>
    internal static bool Wide { get; set; } = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// scores[g·scoreStride + c] = scale · (queries[g·d ..] · keys[offsets[c] ..]) for the <paramref name="heads"/>
    /// query heads of d = <paramref name="dim"/> values and the first <paramref name="count"/> keys of
    /// <paramref name="offsets"/>.
    /// <para>
    /// Cached rows sit on 4 KiB pages the hardware prefetchers do not cross, so the rows are prefetched by hand while
    /// the tiles run: key rows <see cref="PrefetchAhead"/> keys ahead (from the offsets past <paramref name="count"/>
    /// too: the caller passes the next keys there), and, when <paramref name="values"/> is given, the value rows of
    /// the keys being scored, which the weighted sum reads next.
    /// </para>
    /// </summary>
    public static void Scores(ReadOnlySpan<float> keys, ReadOnlySpan<int> offsets, int count, ReadOnlySpan<float> queries, int heads, int dim,
        float scale, Span<float> scores, int scoreStride, ReadOnlySpan<float> values = default)
        => Scores(keys, offsets, count, queries, heads, dim, scale, scores, scoreStride, values, fast: true);

    /// <summary>Keys ahead whose rows <see cref="Scores"/> prefetches: about a DRAM latency of tiles.</summary>
    public const int PrefetchAhead = 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Scores(ReadOnlySpan<float> keys, ReadOnlySpan<int> offsets, int count, ReadOnlySpan<float> queries, int heads, int dim,
        float scale, Span<float> scores, int scoreStride, ReadOnlySpan<float> values, bool fast)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, offsets.Length);
        CheckRows(keys, offsets, dim, nameof(keys));
        if (!values.IsEmpty) CheckRows(values, offsets, dim, nameof(values));
        if (queries.Length < (long)heads * dim) throw new ArgumentException($"{heads} query heads of {dim} values need {(long)heads * dim}; got {queries.Length}.", nameof(queries));
        CheckGrid(scores.Length, heads, scoreStride, count, nameof(scores));
        fixed (float* k = keys)
        fixed (float* v = values)
        fixed (int* o = offsets)
        fixed (float* q = queries)
        fixed (float* s = scores)
        {
            int c = 0, rowBytes = dim * sizeof(float);
            bool wide = fast && heads % 4 == 0 && dim % 16 == 0 && Wide;
            if (wide || (fast && heads % 4 == 0 && dim % 8 == 0 && Fma.IsSupported))
            {
                for (; c + 4 <= count; c += 4)
                {
                    for (int a = c + PrefetchAhead; a < Math.Min(c + PrefetchAhead + 4, offsets.Length); a++) Prefetch.ToL2((byte*)(k + o[a]), rowBytes);
                    if (v != null) for (int a = c; a < c + 4; a++) Prefetch.ToL2((byte*)(v + o[a]), rowBytes);
                    if (wide)
                    {
                        for (int g = 0; g < heads; g += 4) ScoreTile512(k, o + c, q + g * dim, dim, scale, s + g * scoreStride + c, scoreStride);
                    }
                    else
                    {
                        for (int g = 0; g < heads; g += 4) ScoreTile256(k, o + c, q + g * dim, dim, scale, s + g * scoreStride + c, scoreStride);
                    }
                }
            }
            for (; c < count; c++)
            {
                var key = new ReadOnlySpan<float>(k + o[c], dim);
                for (int g = 0; g < heads; g++) s[g * scoreStride + c] = Ops.Dot(new ReadOnlySpan<float>(q + g * dim, dim), key, fast) * scale;
            }
        }
    }

    /// <summary>
    /// acc[g·accStride + i] += Σ_c weights[g·weightStride + c] · values[offsets[c] + i] for i in [0, <paramref name="dim"/>),
    /// keys c in order, for each of the <paramref name="heads"/> heads: one fused multiply-add per key, in key order,
    /// like <see cref="Ops.AddWeightedRows(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float})"/> per head.
    /// With <paramref name="accumulate"/> false the sums start from zero instead of the accumulators' contents (a
    /// segment's first chunk): the same bits as accumulating onto zeros, without clearing them first.
    /// </summary>
    public static void AddWeightedRows(ReadOnlySpan<float> values, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, int weightStride,
        int heads, int dim, Span<float> acc, int accStride, bool accumulate = true)
        => AddWeightedRows(values, offsets, weights, weightStride, heads, dim, acc, accStride, accumulate, fast: true);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddWeightedRows(ReadOnlySpan<float> values, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, int weightStride,
        int heads, int dim, Span<float> acc, int accStride, bool accumulate, bool fast)
    {
        int count = offsets.Length;
        CheckRows(values, offsets, dim, nameof(values));
        CheckGrid(weights.Length, heads, weightStride, count, nameof(weights));
        CheckGrid(acc.Length, heads, accStride, dim, nameof(acc));
        if (!(fast && heads % 4 == 0 && dim % 64 == 0 && Wide))
        {
            for (int g = 0; g < heads; g++)
            {
                Span<float> head = acc.Slice(g * accStride, dim);
                if (!accumulate) head.Clear();
                Ops.AddWeightedRows(values, offsets, weights.Slice(g * weightStride, count), head, fast);
            }
            return;
        }
        fixed (float* v = values)
        fixed (int* o = offsets)
        fixed (float* w = weights)
        fixed (float* a = acc)
        {
            for (int g = 0; g < heads; g += 4)
            {
                for (int i = 0; i < dim; i += 64) WeightedSlice512(v + i, o, count, w + g * weightStride, weightStride, a + g * accStride + i, accStride, accumulate);
            }
        }
    }

    /// <summary>Four heads (queries q, d apart) by four keys: sixteen dots, reduced to four vectors of four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreTile512(float* k, int* o, float* q, int d, float scale, float* s, int stride)
    {
        float* k0 = k + o[0], k1 = k + o[1], k2 = k + o[2], k3 = k + o[3];
        float* q1 = q + d, q2 = q1 + d, q3 = q2 + d;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < d; i += 16)
        {
            Vector512<float> x0 = Vector512.Load(k0 + i), x1 = Vector512.Load(k1 + i), x2 = Vector512.Load(k2 + i), x3 = Vector512.Load(k3 + i);
            Vector512<float> y = Vector512.Load(q + i);
            a00 = Avx512F.FusedMultiplyAdd(y, x0, a00);
            a01 = Avx512F.FusedMultiplyAdd(y, x1, a01);
            a02 = Avx512F.FusedMultiplyAdd(y, x2, a02);
            a03 = Avx512F.FusedMultiplyAdd(y, x3, a03);
            y = Vector512.Load(q1 + i);
            a10 = Avx512F.FusedMultiplyAdd(y, x0, a10);
            a11 = Avx512F.FusedMultiplyAdd(y, x1, a11);
            a12 = Avx512F.FusedMultiplyAdd(y, x2, a12);
            a13 = Avx512F.FusedMultiplyAdd(y, x3, a13);
            y = Vector512.Load(q2 + i);
            a20 = Avx512F.FusedMultiplyAdd(y, x0, a20);
            a21 = Avx512F.FusedMultiplyAdd(y, x1, a21);
            a22 = Avx512F.FusedMultiplyAdd(y, x2, a22);
            a23 = Avx512F.FusedMultiplyAdd(y, x3, a23);
            y = Vector512.Load(q3 + i);
            a30 = Avx512F.FusedMultiplyAdd(y, x0, a30);
            a31 = Avx512F.FusedMultiplyAdd(y, x1, a31);
            a32 = Avx512F.FusedMultiplyAdd(y, x2, a32);
            a33 = Avx512F.FusedMultiplyAdd(y, x3, a33);
        }
        Vector128<float> sc = Vector128.Create(scale);
        (Sum4(a00, a01, a02, a03) * sc).Store(s);
        (Sum4(a10, a11, a12, a13) * sc).Store(s + stride);
        (Sum4(a20, a21, a22, a23) * sc).Store(s + 2 * stride);
        (Sum4(a30, a31, a32, a33) * sc).Store(s + 3 * stride);
    }

    /// <summary>[Σ a, Σ b, Σ c, Σ e]: pairwise unpacks fold the four vectors into one, then its 128-bit lanes are added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> e)
    {
        // Per 128-bit lane: ab = [a0+a2, b0+b2, a1+a3, b1+b3], ce likewise; then [a, b, c, e] partials per lane.
        Vector512<float> ab = Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);
        Vector512<float> ce = Avx512F.UnpackLow(c, e) + Avx512F.UnpackHigh(c, e);
        Vector512<float> abce = Avx512F.UnpackLow(ab.AsDouble(), ce.AsDouble()).AsSingle() + Avx512F.UnpackHigh(ab.AsDouble(), ce.AsDouble()).AsSingle();
        Vector256<float> half = abce.GetLower() + abce.GetUpper();
        return half.GetLower() + half.GetUpper();
    }

    /// <summary><see cref="ScoreTile512"/> in 256-bit registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreTile256(float* k, int* o, float* q, int d, float scale, float* s, int stride)
    {
        float* k0 = k + o[0], k1 = k + o[1], k2 = k + o[2], k3 = k + o[3];
        float* q1 = q + d, q2 = q1 + d, q3 = q2 + d;
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < d; i += 8)
        {
            Vector256<float> x0 = Vector256.Load(k0 + i), x1 = Vector256.Load(k1 + i), x2 = Vector256.Load(k2 + i), x3 = Vector256.Load(k3 + i);
            Vector256<float> y = Vector256.Load(q + i);
            a00 = Vector256.FusedMultiplyAdd(y, x0, a00);
            a01 = Vector256.FusedMultiplyAdd(y, x1, a01);
            a02 = Vector256.FusedMultiplyAdd(y, x2, a02);
            a03 = Vector256.FusedMultiplyAdd(y, x3, a03);
            y = Vector256.Load(q1 + i);
            a10 = Vector256.FusedMultiplyAdd(y, x0, a10);
            a11 = Vector256.FusedMultiplyAdd(y, x1, a11);
            a12 = Vector256.FusedMultiplyAdd(y, x2, a12);
            a13 = Vector256.FusedMultiplyAdd(y, x3, a13);
            y = Vector256.Load(q2 + i);
            a20 = Vector256.FusedMultiplyAdd(y, x0, a20);
            a21 = Vector256.FusedMultiplyAdd(y, x1, a21);
            a22 = Vector256.FusedMultiplyAdd(y, x2, a22);
            a23 = Vector256.FusedMultiplyAdd(y, x3, a23);
            y = Vector256.Load(q3 + i);
            a30 = Vector256.FusedMultiplyAdd(y, x0, a30);
            a31 = Vector256.FusedMultiplyAdd(y, x1, a31);
            a32 = Vector256.FusedMultiplyAdd(y, x2, a32);
            a33 = Vector256.FusedMultiplyAdd(y, x3, a33);
        }
        Vector128<float> sc = Vector128.Create(scale);
        (Sum4(a00, a01, a02, a03) * sc).Store(s);
        (Sum4(a10, a11, a12, a13) * sc).Store(s + stride);
        (Sum4(a20, a21, a22, a23) * sc).Store(s + 2 * stride);
        (Sum4(a30, a31, a32, a33) * sc).Store(s + 3 * stride);
    }

    /// <summary><see cref="Sum4(Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float})"/> for 256-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> e)
    {
        Vector256<float> ab = Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);
        Vector256<float> ce = Avx.UnpackLow(c, e) + Avx.UnpackHigh(c, e);
        Vector256<float> abce = Avx.UnpackLow(ab.AsDouble(), ce.AsDouble()).AsSingle() + Avx.UnpackHigh(ab.AsDouble(), ce.AsDouble()).AsSingle();
        return abce.GetLower() + abce.GetUpper();
    }

    /// <summary>
    /// Columns [0, 64) of four heads' accumulators (<paramref name="a"/>, heads <paramref name="accStride"/> apart) over
    /// every value row: sixteen registers stay live while the rows pass, each loaded vector feeding four heads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightedSlice512(float* v, int* o, int count, float* w, int weightStride, float* a, int accStride, bool accumulate)
    {
        float* a1 = a + accStride, a2 = a1 + accStride, a3 = a2 + accStride;
        float* w1 = w + weightStride, w2 = w1 + weightStride, w3 = w2 + weightStride;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        if (accumulate)
        {
            s00 = Vector512.Load(a); s01 = Vector512.Load(a + 16); s02 = Vector512.Load(a + 32); s03 = Vector512.Load(a + 48);
            s10 = Vector512.Load(a1); s11 = Vector512.Load(a1 + 16); s12 = Vector512.Load(a1 + 32); s13 = Vector512.Load(a1 + 48);
            s20 = Vector512.Load(a2); s21 = Vector512.Load(a2 + 16); s22 = Vector512.Load(a2 + 32); s23 = Vector512.Load(a2 + 48);
            s30 = Vector512.Load(a3); s31 = Vector512.Load(a3 + 16); s32 = Vector512.Load(a3 + 32); s33 = Vector512.Load(a3 + 48);
        }
        for (int c = 0; c < count; c++)
        {
            float* x = v + o[c];
            Vector512<float> x0 = Vector512.Load(x), x1 = Vector512.Load(x + 16), x2 = Vector512.Load(x + 32), x3 = Vector512.Load(x + 48);
            Vector512<float> y = Vector512.Create(w[c]);
            s00 = Avx512F.FusedMultiplyAdd(x0, y, s00);
            s01 = Avx512F.FusedMultiplyAdd(x1, y, s01);
            s02 = Avx512F.FusedMultiplyAdd(x2, y, s02);
            s03 = Avx512F.FusedMultiplyAdd(x3, y, s03);
            y = Vector512.Create(w1[c]);
            s10 = Avx512F.FusedMultiplyAdd(x0, y, s10);
            s11 = Avx512F.FusedMultiplyAdd(x1, y, s11);
            s12 = Avx512F.FusedMultiplyAdd(x2, y, s12);
            s13 = Avx512F.FusedMultiplyAdd(x3, y, s13);
            y = Vector512.Create(w2[c]);
            s20 = Avx512F.FusedMultiplyAdd(x0, y, s20);
            s21 = Avx512F.FusedMultiplyAdd(x1, y, s21);
            s22 = Avx512F.FusedMultiplyAdd(x2, y, s22);
            s23 = Avx512F.FusedMultiplyAdd(x3, y, s23);
            y = Vector512.Create(w3[c]);
            s30 = Avx512F.FusedMultiplyAdd(x0, y, s30);
            s31 = Avx512F.FusedMultiplyAdd(x1, y, s31);
            s32 = Avx512F.FusedMultiplyAdd(x2, y, s32);
            s33 = Avx512F.FusedMultiplyAdd(x3, y, s33);
        }
        s00.Store(a); s01.Store(a + 16); s02.Store(a + 32); s03.Store(a + 48);
        s10.Store(a1); s11.Store(a1 + 16); s12.Store(a1 + 32); s13.Store(a1 + 48);
        s20.Store(a2); s21.Store(a2 + 16); s22.Store(a2 + 32); s23.Store(a2 + 48);
        s30.Store(a3); s31.Store(a3 + 16); s32.Store(a3 + 32); s33.Store(a3 + 48);
    }

    /// <summary>
    /// Rows <paramref name="offsets"/>[0..<paramref name="count"/>) of a half cache (<paramref name="dim"/> values each)
    /// widened exactly (<see cref="Fp16.ToFloat(ReadOnlySpan{Half}, Span{float})"/>) into consecutive rows of
    /// <paramref name="rows"/>, for the tiles to read as a float cache. The rows at the offsets past
    /// <paramref name="count"/> (the next chunk's first keys) are prefetched <see cref="PrefetchAhead"/> rows ahead, as
    /// <see cref="Scores"/> does for a float cache.
    /// </summary>
    public static void WidenRows(ReadOnlySpan<Half> cache, ReadOnlySpan<int> offsets, int count, int dim, Span<float> rows)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, offsets.Length);
        if (rows.Length < (long)count * dim) throw new ArgumentException($"{count} rows of {dim} values need {(long)count * dim}; got {rows.Length}.", nameof(rows));
        CheckRows(cache, offsets, dim, nameof(cache));
        fixed (Half* h = cache)
        {
            for (int c = 0; c < count; c++)
            {
                if (c + PrefetchAhead < offsets.Length) Prefetch.ToL2((byte*)(h + offsets[c + PrefetchAhead]), dim * sizeof(ushort));
                Fp16.ToFloat(new ReadOnlySpan<Half>(h + offsets[c], dim), rows.Slice(c * dim, dim));
            }
        }
    }

    private static void CheckRows<T>(ReadOnlySpan<T> rows, ReadOnlySpan<int> offsets, int dim, string name)
    {
        foreach (int offset in offsets)
        {
            if (offset < 0 || (long)offset + dim > rows.Length)
            {
                throw new ArgumentOutOfRangeException(name, offset, $"A row of {dim} values at {offset} leaves the {rows.Length} values.");
            }
        }
    }

    private static void CheckGrid(int length, int heads, int stride, int width, string name)
    {
        if (heads > 0 && (stride < width || (long)(heads - 1) * stride + width > length))
        {
            throw new ArgumentException($"{heads} heads of {width} values, {stride} apart, need {(long)(heads - 1) * stride + width}; got {length}.", name);
        }
    }
}
