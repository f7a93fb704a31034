using Edgewise.Core.Kernels;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial class Gemma4State
{
    /// <summary>
    /// K and V of rows [row0, t) for a KV-owning layer, each written into its own sequence's cache. Same as HF
    /// <c>Gemma4TextAttention.forward</c>: k_norm then RoPE on K; V (the raw K projection on k_eq_v layers) gets a
    /// weightless RMS norm and no RoPE.
    /// </summary>
    /// <returns>True when the queries of the chunk's rows were computed too (a decode row: see <see cref="AttentionBlock"/>).</returns>
    private bool StoreKv(int il, Gemma4LayerWeights lw, int row0, int t)
    {
        int d = _c.HeadDims[il], nkv = _c.KvHeadCounts[il], kvw = nkv * d, rows = t - row0, h = _c.HiddenSize;
        ReadOnlySpan<float> x = _xn.AsSpan(row0 * h, rows * h);
        if (rows == 1)
        {
            // A decode row: the queries join the keys' and values' pass (same input, one hand-off to the pool).
            // The attention block then sees the same row0: a one-row chunk is never trimmed, only ended.
            int qw = _c.HeadCount * d;
            WeightMatrix.MatVecShared(x, _pool, lw.Q, _q.AsSpan(0, qw), lw.K!, _k.AsSpan(0, kvw), lw.V, _v.AsSpan(0, kvw));   // no V: k_eq_v
        }
        else
        {
            // Compact rows: row r of this chunk's K at (r - row0) · kvw.
            lw.K!.MatMul(x, rows, _k.AsSpan(0, rows * kvw), _pool);   // [rows, nKV·D]
            lw.V?.MatMul(x, rows, _v.AsSpan(0, rows * kvw), _pool);
        }
        if (lw.V is null) _k.AsSpan(0, rows * kvw).CopyTo(_v);      // k_eq_v: V = raw K
        ForRows(RowStep.KeysValues, lw, il, row0, rows, 6L * kvw);
        return rows == 1;
    }

    /// <summary>k_norm + RoPE on K, v_norm on V, then the cache store, for chunk rows row0 + [start, end).</summary>
    private void KeysValuesRows(int il, Gemma4LayerWeights lw, int row0, int start, int end)
    {
        int d = _c.HeadDims[il], nkv = _c.KvHeadCounts[il], kvw = nkv * d, half = _c.RopeDims[il] / 2, rows = end - start;
        (float[] cos, float[] sin) = RopeTablesOf(il);
        Span<float> k = _k.AsSpan(start * kvw, rows * kvw), v = _v.AsSpan(start * kvw, rows * kvw);   // [rows, nKV·D]
        RowMath.NormRopeHeads(k, lw.KNorm!, cos.AsSpan((row0 + start) * half), sin.AsSpan((row0 + start) * half), rows, nkv, d, half, _c.RmsNormEps);
        RowMath.NormHeads(v, d, _c.RmsNormEps);
        WriteKv(k, v, il, row0 + start, rows, kvw);
    }

    private (float[] Cos, float[] Sin) RopeTablesOf(int il) => _c.LayerKinds[il] == LayerKind.Full
        ? (_ropeCosFull, _ropeSinFull)
        : (_ropeCosSliding, _ropeSinSliding);

    /// <summary>Queries, attention over the (own or shared) cache, output projection, post-norm and residual add.</summary>
    /// <param name="queriesReady">True when <see cref="StoreKv"/> already computed the queries of these rows.</param>
    private void AttentionBlock(int il, Gemma4LayerWeights lw, int row0, int t, bool queriesReady)
    {
        int d = _c.HeadDims[il], nh = _c.HeadCount, qw = nh * d, rows = t - row0, h = _c.HiddenSize;
        if (!queriesReady) lw.Q.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, _q.AsSpan(0, rows * qw), _pool);   // [rows, nH·D]
        ForRows(RowStep.Queries, lw, il, row0, rows, 4L * qw);
        bool full = _c.LayerKinds[il] == LayerKind.Full;
        // Scale 1.0: the q/k norms set the logit magnitude (HF `self.scaling = 1.0`).
        Attention.Run(_pool, _q, Rows, row0, rows, il, full ? 0 : _c.SlidingWindow, nh, _c.KvHeadCounts[il], d, 1f, _attn);
        lw.O.MatMul(_attn.AsSpan(0, rows * qw), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        ForRows(RowStep.AttentionOut, lw, il, row0, rows, 3 * h);
    }

    /// <summary>q_norm + RoPE on the queries of chunk rows row0 + [start, end).</summary>
    private void QueryRows(int il, Gemma4LayerWeights lw, int row0, int start, int end)
    {
        int d = _c.HeadDims[il], nh = _c.HeadCount, qw = nh * d, half = _c.RopeDims[il] / 2, rows = end - start;
        (float[] cos, float[] sin) = RopeTablesOf(il);
        RowMath.NormRopeHeads(_q.AsSpan(start * qw, rows * qw), lw.QNorm, cos.AsSpan((row0 + start) * half), sin.AsSpan((row0 + start) * half),
            rows, nh, d, half, _c.RmsNormEps);
    }

    /// <summary>Dense GeGLU MLP with pre/post norms and residual add (HF <c>Gemma4TextMLP</c>).</summary>
    private void FeedForward(Gemma4LayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, rows = t - row0;
        ForRows(RowStep.FfnNorm, lw, 0, row0, rows, 2 * h);
        DenseMlp(lw, _xn, row0, rows, _branch);
        ForRows(RowStep.FfnOut, lw, 0, row0, rows, 3 * h);
    }

    /// <summary>dst[0..rows) = W_down · (gelu(W_gate · x) ⊙ (W_up · x)) for input rows [row0, row0 + rows) of <paramref name="input"/>.</summary>
    private void DenseMlp(Gemma4LayerWeights lw, float[] input, int row0, int rows, float[] dst)
    {
        int h = _c.HiddenSize, ffn = (int)lw.Gate.Rows;
        ReadOnlySpan<float> x = input.AsSpan(row0 * h, rows * h);
        if (rows == 1)
        {
            WeightMatrix.GeGluMatVec(x, _pool, lw.Gate, lw.Up, _gate.AsSpan(0, ffn), _up.AsSpan(0, ffn));   // [I]
        }
        else
        {
            lw.Gate.MatMul(x, rows, _gate.AsSpan(0, rows * ffn), _pool);   // [rows, I]
            lw.Up.MatMul(x, rows, _up.AsSpan(0, rows * ffn), _pool);       // [rows, I]
            // Whole rows of a width that is a multiple of 16 take the same vector/tail split as one GeGlu call over
            // [rows, I], so the rows can be split; other widths (small test models only) keep the one call.
            if (ffn % 16 == 0) ForRows(RowStep.GeGlu, lw, 0, 0, rows, 8L * ffn);
            else RowMath.GeGlu(_gate.AsSpan(0, rows * ffn), _up.AsSpan(0, rows * ffn), _gate.AsSpan(0, rows * ffn));
        }
        lw.Down.MatMul(_gate.AsSpan(0, rows * ffn), rows, dst.AsSpan(0, rows * h), _pool);   // [rows, H]
    }

    /// <summary>Same as HF <c>Gemma4TextDecoderLayer</c>'s per-layer-input branch (spec §4.2).</summary>
    private void PerLayerBranch(int il, Gemma4LayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, p = _c.PerLayerInputSize, rows = t - row0;
        lw.PleGate!.MatMul(_x.AsSpan(row0 * h, rows * h), rows, _pleGate.AsSpan(0, rows * p), _pool);   // [rows, P]
        ForRows(RowStep.PleGate, lw, il, row0, rows, 8 * p);
        lw.PleProjection!.MatMul(_pleGate.AsSpan(0, rows * p), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        ForRows(RowStep.PleOut, lw, il, row0, rows, 3 * h);
    }

    /// <summary>Row r of <c>_pleGate</c> = gelu(gate) ⊙ this layer's per-layer input.</summary>
    private void PleGateRows(int il, int row0, int start, int end)
    {
        int p = _c.PerLayerInputSize;
        for (int r = start; r < end; r++)
        {
            Span<float> g = _pleGate.AsSpan(r * p, p);
            RowMath.GeluInPlace(g);
            RowMath.Multiply(_pli.AsSpan((row0 + r) * _pleStride + il * p, p), g);
        }
    }
}
