using System.Runtime.Intrinsics;
using Edgewise.Core.Kernels;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

public sealed partial class Gemma3nState
{
    /// <summary>
    /// K and V of rows [row0, t) for a KV-owning layer, each written into its own sequence's cache (HF
    /// <c>Gemma3nTextAttention</c>): k_norm then RoPE on K; V gets a weightless RMS norm and no RoPE. Input:
    /// <c>_xn</c> at absolute rows.
    /// </summary>
    /// <returns>
    /// True when the queries of the chunk's rows were computed too, and LAuReL's left product (a decode row: see
    /// <see cref="AttentionBlock"/> and <see cref="Laurel"/>).
    /// </returns>
    private bool StoreKv(int il, Gemma3nLayerWeights lw, int row0, int t)
    {
        int kvw = _c.KvHeadCount * _c.HeadDim, rows = t - row0, h = _c.HiddenSize;
        ReadOnlySpan<float> x = _xn.AsSpan(row0 * h, rows * h);
        bool withQueries = rows == 1;
        if (withQueries)
        {
            // A decode row: the queries and LAuReL's left product join the keys' and values' pass (same input, one
            // hand-off to the pool). The attention block and LAuReL then see the same row0: a one-row chunk is never
            // trimmed, only ended.
            int qw = _c.HeadCount * _c.HeadDim;
            WeightMatrix.MatVecShared(x, _pool, lw.Q, _q.AsSpan(0, qw), lw.K!, _k.AsSpan(0, kvw), lw.V!, _v.AsSpan(0, kvw),
                lw.LaurelLeft, _laurelMid.AsSpan(0, _c.LaurelRank));
        }
        else
        {
            lw.K!.MatMul(x, rows, _k.AsSpan(0, rows * kvw), _pool);   // [rows, nKV·D]
            lw.V!.MatMul(x, rows, _v.AsSpan(0, rows * kvw), _pool);   // [rows, nKV·D]
        }
        ForRows(RowStep.KeysValues, lw, il, row0, rows, 6L * kvw);
        return withQueries;
    }

    /// <summary>k_norm + RoPE on K, v_norm on V, then the cache store, for chunk rows row0 + [start, end).</summary>
    private void KeysValuesRows(int il, Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int d = _c.HeadDim, nkv = _c.KvHeadCount, kvw = nkv * d, half = d / 2, rows = end - start;
        (float[] cos, float[] sin) = RopeTablesOf(il);
        Span<float> k = _k.AsSpan(start * kvw, rows * kvw), v = _v.AsSpan(start * kvw, rows * kvw);   // [rows, nKV·D]
        RowMath.NormRopeHeads(k, lw.KNorm!, cos.AsSpan((row0 + start) * half), sin.AsSpan((row0 + start) * half), rows, nkv, d, half, _c.RmsNormEps);
        RowMath.NormHeads(v, d, _c.RmsNormEps);
        WriteKv(k, v, il, row0 + start, rows, kvw);
    }

    private (float[] Cos, float[] Sin) RopeTablesOf(int il) => _c.LayerKinds[il] == LayerKind.Full
        ? (_ropeCosFull, _ropeSinFull)
        : (_ropeCosSliding, _ropeSinSliding);

    /// <summary>LAuReL (HF <c>Gemma3nTextLaurelBlock</c>): <c>a_n + NormW(W_r · (W_l · a_n))</c>, a_n = <c>_xn</c> at absolute rows; out: <c>_laurel</c> [rows, H].</summary>
    /// <param name="queriesReady">True when <see cref="StoreKv"/> computed this decode row's queries and the left product.</param>
    /// <returns>True when the queries of the chunk's rows are computed (here, for a decode row of a KV-sharing layer, or before).</returns>
    private bool Laurel(Gemma3nLayerWeights lw, int row0, int t, bool queriesReady)
    {
        int h = _c.HiddenSize, rank = _c.LaurelRank, rows = t - row0;
        ReadOnlySpan<float> x = _xn.AsSpan(row0 * h, rows * h);
        if (rows > 1) lw.LaurelLeft.MatMul(x, rows, _laurelMid.AsSpan(0, rows * rank), _pool);   // [rows, R]
        else if (!queriesReady)
        {
            // A decode row of a layer reading another's KV: the queries join the left product (one hand-off).
            WeightMatrix.MatVecShared(x, _pool, lw.LaurelLeft, _laurelMid.AsSpan(0, rank), lw.Q, _q.AsSpan(0, _c.HeadCount * _c.HeadDim));
            queriesReady = true;
        }
        lw.LaurelRight.MatMul(_laurelMid.AsSpan(0, rows * rank), rows, _laurel.AsSpan(0, rows * h), _pool);    // [rows, H]
        ForRows(RowStep.LaurelOut, lw, 0, row0, rows, 3 * h);
        return queriesReady;
    }

    private void LaurelOutRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = start; r < end; r++)
        {
            Span<float> l = _laurel.AsSpan(r * h, h);
            RowMath.RmsNorm(l, lw.LaurelPostNorm, _c.RmsNormEps, l);
            RowMath.Add(_xn.AsSpan((row0 + r) * h, h), l);
        }
    }

    /// <summary>
    /// Queries, attention over the (own or shared) cache, output projection and post-norm, then
    /// <c>z = (a + attn + laurel) / √2</c> into <c>_z</c> [rows, H] (a = the un-normed active prediction).
    /// </summary>
    /// <param name="queriesReady">True when <see cref="StoreKv"/> or <see cref="Laurel"/> already computed the queries of these rows.</param>
    private void AttentionBlock(int il, Gemma3nLayerWeights lw, int row0, int t, bool queriesReady)
    {
        int d = _c.HeadDim, nh = _c.HeadCount, qw = nh * d, rows = t - row0, h = _c.HiddenSize;
        if (!queriesReady) lw.Q.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, _q.AsSpan(0, rows * qw), _pool);   // [rows, nH·D]
        ForRows(RowStep.Queries, lw, il, row0, rows, 4L * qw);
        bool full = _c.LayerKinds[il] == LayerKind.Full;
        // Scale 1.0: the q/k norms set the logit magnitude (HF `self.scaling = 1.0`).
        Attention.Run(_pool, _q, Rows, row0, rows, il, full ? 0 : _c.SlidingWindow, nh, _c.KvHeadCount, d, 1f, _attn);
        lw.O.MatMul(_attn.AsSpan(0, rows * qw), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        ForRows(RowStep.AttentionOut, lw, il, row0, rows, 4 * h);
    }

    /// <summary>q_norm + RoPE on the queries of chunk rows row0 + [start, end).</summary>
    private void QueryRows(int il, Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int d = _c.HeadDim, nh = _c.HeadCount, qw = nh * d, half = d / 2, rows = end - start;
        (float[] cos, float[] sin) = RopeTablesOf(il);
        RowMath.NormRopeHeads(_q.AsSpan(start * qw, rows * qw), lw.QNorm, cos.AsSpan((row0 + start) * half), sin.AsSpan((row0 + start) * half),
            rows, nh, d, half, _c.RmsNormEps);
    }

    private void AttentionOutRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        float mix = 1f / MathF.Sqrt(2f);
        int activeOffset = _c.AltUpActiveIndex * _streamStride;
        for (int r = start; r < end; r++)
        {
            Span<float> o = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, lw.PostAttentionNorm, _c.RmsNormEps, o);
            ReadOnlySpan<float> a = _pred.AsSpan(activeOffset + (row0 + r) * h, h), l = _laurel.AsSpan(r * h, h);
            Span<float> z = _z.AsSpan(r * h, h);
            for (int e = 0; e < h; e++) z[e] = (a[e] + o[e] + l[e]) * mix;
        }
    }

    /// <summary>GeGLU MLP with pre/post norms and residual add onto <c>_z</c> (HF <c>Gemma3nTextMLP</c>).</summary>
    private void FeedForward(int il, Gemma3nLayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, rows = t - row0;
        ForRows(RowStep.FfnNorm, lw, il, row0, rows, 2 * h);
        bool decodeRows = rows == 1 || (IsDecodeStep && rows <= SparseDecodeMaxRows);
        bool sparse = decodeRows && UseSparseDecode && _c.IsSparse(il);
        if (sparse) _w.EnsureSparseDowns();   // once per model; see there
        if (sparse && lw.DownTransposed is not null) SparseMlp(lw, _c.SparsityStdMultipliers[il], rows);
        else DenseMlp(il, lw, rows);
        ForRows(RowStep.FfnOut, lw, il, row0, rows, 3 * h);
    }

    private void FfnNormRows(Gemma3nLayerWeights lw, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = start; r < end; r++) RowMath.RmsNorm(_z.AsSpan(r * h, h), lw.FfnNorm, _c.RmsNormEps, _xn.AsSpan(r * h, h));
    }

    private void FfnOutRows(Gemma3nLayerWeights lw, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = start; r < end; r++)
        {
            Span<float> f = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(f, lw.PostFfwNorm, _c.RmsNormEps, f);
            RowMath.Add(f, _z.AsSpan(r * h, h));
        }
    }

    /// <summary>
    /// The reference MLP: <c>_branch = W_down · (gelu(g) ⊙ (W_up · u))</c> for <c>_xn</c> rows [0, rows), with
    /// g = W_gate · u, shifted by the Gaussian top-k cutoff and clipped at 0 on sparse layers.
    /// </summary>
    private void DenseMlp(int il, Gemma3nLayerWeights lw, int rows)
    {
        int h = _c.HiddenSize, ffn = _c.FfnWidths[il];
        ReadOnlySpan<float> u = _xn.AsSpan(0, rows * h);
        if (rows == 1 && !_c.IsSparse(il))
        {
            // A dense decode row: gate, up and the GeGLU in one parallel pass.
            WeightMatrix.GeGluMatVec(u, _pool, lw.Gate, lw.Up, _gate.AsSpan(0, ffn), _up.AsSpan(0, ffn));   // [I]
            lw.Down.MatVec(_gate.AsSpan(0, ffn), _branch.AsSpan(0, h), _pool);                               // [H]
            return;
        }
        lw.Gate.MatMul(u, rows, _gate.AsSpan(0, rows * ffn), _pool);   // [rows, I]
        lw.Up.MatMul(u, rows, _up.AsSpan(0, rows * ffn), _pool);       // [rows, I]
        if (_c.IsSparse(il))
        {
            // Two passes in double plus the clip: about 8 floats of plain math per unit.
            ForRows(RowStep.GateCutoff, lw, il, 0, rows, 8L * ffn);
            if (_w.HasSparseDowns)
            {
                long dense = DenseFfnBytes(lw) * rows;
                LastSparseTraffic = LastSparseTraffic with
                {
                    BytesRead = LastSparseTraffic.BytesRead + dense, DenseBytes = LastSparseTraffic.DenseBytes + dense,
                    Units = LastSparseTraffic.Units + ffn * rows, SurvivingUnits = LastSparseTraffic.SurvivingUnits + ffn * rows,
                };
            }
        }
        // Whole rows of a width that is a multiple of 16 take the same vector/tail split as one GeGlu call over
        // [rows, I], so the rows can be split; other widths (small test models only) keep the one call.
        if (ffn % 16 == 0) ForRows(RowStep.GeGlu, lw, il, 0, rows, 8L * ffn);
        else RowMath.GeGlu(_gate.AsSpan(0, rows * ffn), _up.AsSpan(0, rows * ffn), _gate.AsSpan(0, rows * ffn));
        lw.Down.MatMul(_gate.AsSpan(0, rows * ffn), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
    }

    /// <summary>
    /// Decode MLP of an activation-sparse layer for <paramref name="rows"/> rows, each the next token of its own
    /// sequence. The gate is dense (one matmul for every row); only units above a row's Gaussian top-k cutoff
    /// survive (gelu(0) = 0 removes the rest exactly), so only their rows of W_up and of the transposed W_down are
    /// read: about 5 % of those two matrices per row at the released sparsity (0.95).
    /// </summary>
    private void SparseMlp(Gemma3nLayerWeights lw, float multiplier, int rows)
    {
        int ffn = lw.Gate.Rows, h = _c.HiddenSize;
        lw.Gate.MatMul(_xn.AsSpan(0, rows * h), rows, _gate.AsSpan(0, rows * ffn), _pool);   // [rows, I]
        long read = 0;
        int surviving = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> g = _gate.AsSpan(r * ffn, ffn);   // [I]
            float cutoff = GaussianCutoff(g, multiplier);
            int count = 0;
            for (int i = 0; i < ffn; i++)
            {
                if (g[i] > cutoff)
                {
                    _survivors[count] = i;
                    _survivorAct[count] = g[i] - cutoff;
                    count++;
                }
            }
            RowMath.GeluInPlace(_survivorAct.AsSpan(0, count));   // the dense path's GELU, on the survivors only
            ReadOnlySpan<int> ids = _survivors.AsSpan(0, count);       // [n]
            Span<float> up = _survivorUp.AsSpan(0, count);              // [n]
            lw.Up.MatVecRows(_xn.AsSpan(r * h, h), ids, up, _pool);
            Span<float> act = _survivorAct.AsSpan(0, count);            // [n] gelu(g − cutoff) ⊙ up
            for (int k = 0; k < count; k++) act[k] *= up[k];
            lw.DownTransposed!.SumRows(ids, act, _branch.AsSpan(r * h, h), _pool);   // [H]
            read += lw.Gate.ByteLength + count * (lw.Up.RowBytes + lw.DownTransposed.RowBytes);
            surviving += count;
        }
        LastSparseTraffic = LastSparseTraffic with
        {
            BytesRead = LastSparseTraffic.BytesRead + read, DenseBytes = LastSparseTraffic.DenseBytes + DenseFfnBytes(lw) * rows,
            Units = LastSparseTraffic.Units + ffn * rows, SurvivingUnits = LastSparseTraffic.SurvivingUnits + surviving,
        };
    }

    /// <summary>Gate rows shifted by their Gaussian top-k cutoff and clipped at 0 (sparse layers).</summary>
    private void GateCutoffRows(int il, int start, int end)
    {
        int ffn = _c.FfnWidths[il];
        float multiplier = _c.SparsityStdMultipliers[il];
        for (int r = start; r < end; r++)
        {
            Span<float> g = _gate.AsSpan(r * ffn, ffn);
            float cutoff = GaussianCutoff(g, multiplier);
            for (int i = 0; i < ffn; i++) g[i] = MathF.Max(0f, g[i] - cutoff);
        }
    }

    /// <summary>gelu(gate) ⊙ up in place on gate rows [start, end), as one call over those rows.</summary>
    private void GeGluRows(int il, int start, int end)
    {
        int ffn = _c.FfnWidths[il], n = (end - start) * ffn;
        RowMath.GeGlu(_gate.AsSpan(start * ffn, n), _up.AsSpan(start * ffn, n), _gate.AsSpan(start * ffn, n));
    }

    private static long DenseFfnBytes(Gemma3nLayerWeights lw) => lw.Gate.ByteLength + lw.Up.ByteLength + lw.Down.ByteLength;

    private float GaussianCutoff(ReadOnlySpan<float> gate, float stdMultiplier) => GaussianCutoff(gate, stdMultiplier, _sampleStd);

    /// <summary>
    /// HF <c>Gemma3nTextMLP._gaussian_topk</c>: <c>mean + σ · Φ⁻¹(sparsity)</c> over the I gate values of one token,
    /// σ the population std (HF), or with <paramref name="sampleStd"/> the n − 1 estimate llama.cpp uses (the two
    /// differ by 1/(2I) relative: 6e-5 at I = 8192, but 2e-3 at the small widths of test models).
    /// </summary>
    internal static float GaussianCutoff(ReadOnlySpan<float> gate, float stdMultiplier, bool sampleStd)
    {
        // Sums in double, four lanes and two accumulators wide: a scalar double chain costs one add latency per
        // value, ~20 µs per 8192-wide row (a decode step has ten such rows, a prompt ten per token).
        double mean = SumWide(gate, 0, squares: false) / gate.Length;
        double sq = SumWide(gate, mean, squares: true);
        int n = sampleStd ? gate.Length - 1 : gate.Length;
        return (float)(mean + Math.Sqrt(sq / n) * stdMultiplier);
    }

    /// <summary>Σ x (or Σ (x − <paramref name="center"/>)² with <paramref name="squares"/>) in double.</summary>
    private static double SumWide(ReadOnlySpan<float> x, double center, bool squares)
    {
        var a0 = Vector256<double>.Zero;
        var a1 = Vector256<double>.Zero;
        var c = Vector256.Create(center);
        int i = 0;
        for (; i + 8 <= x.Length; i += 8)
        {
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.Create(x.Slice(i, 8)));
            if (squares)
            {
                lo -= c;
                hi -= c;
                a0 += lo * lo;
                a1 += hi * hi;
            }
            else
            {
                a0 += lo;
                a1 += hi;
            }
        }
        double sum = Vector256.Sum(a0 + a1);
        for (; i < x.Length; i++)
        {
            double v = x[i] - center;
            sum += squares ? v * v : x[i];
        }
        return sum;
    }
}
