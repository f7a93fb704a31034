using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial class Gemma4State
{
    /// <summary>
    /// K and V of rows [row0, t) for a KV-owning layer, each written into its own sequence's cache. Same as HF
    /// <c>Gemma4TextAttention.forward</c>: k_norm then RoPE on K; V (the raw K projection on k_eq_v layers) gets a
    /// weightless RMS norm and no RoPE.
    /// </summary>
    private void StoreKv(int il, Gemma4LayerWeights lw, int row0, int t)
    {
        int d = _c.HeadDims[il], nkv = _c.KvHeadCounts[il], kvw = nkv * d, rows = t - row0, h = _c.HiddenSize;
        // Compact rows: row r of this chunk's K at (r - row0) · kvw.
        lw.K!.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, _k.AsSpan(0, rows * kvw), _pool);   // [rows, nKV·D]
        if (lw.V is not null) lw.V.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, _v.AsSpan(0, rows * kvw), _pool);
        else _k.AsSpan(0, rows * kvw).CopyTo(_v);                                                  // k_eq_v: V = raw K
        bool full = _c.LayerKinds[il] == LayerKind.Full;
        int half = _c.RopeDims[il] / 2;
        float[] cos = full ? _ropeCosFull : _ropeCosSliding, sin = full ? _ropeSinFull : _ropeSinSliding;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> rc = cos.AsSpan((row0 + r) * half, half), rs = sin.AsSpan((row0 + r) * half, half);
            for (int head = 0; head < nkv; head++)
            {
                Span<float> k = _k.AsSpan(r * kvw + head * d, d);   // [D]
                RowMath.RmsNorm(k, lw.KNorm!, _c.RmsNormEps, k);
                RowMath.RopeRotateHalf(k, rc, rs);
                Span<float> v = _v.AsSpan(r * kvw + head * d, d);   // [D]
                RowMath.RmsNorm(v, _c.RmsNormEps, v);
            }
            SequenceRow sequence = Rows[row0 + r];
            sequence.Cache.Layer(il).Write(sequence.Position, _k.AsSpan(r * kvw, kvw), _v.AsSpan(r * kvw, kvw));
        }
    }

    /// <summary>Queries, attention over the (own or shared) cache, output projection, post-norm and residual add.</summary>
    private void AttentionBlock(int il, Gemma4LayerWeights lw, int row0, int t)
    {
        int d = _c.HeadDims[il], nh = _c.HeadCount, qw = nh * d, rows = t - row0, h = _c.HiddenSize;
        lw.Q.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, _q.AsSpan(0, rows * qw), _pool);   // [rows, nH·D]
        bool full = _c.LayerKinds[il] == LayerKind.Full;
        int half = _c.RopeDims[il] / 2;
        float[] cos = full ? _ropeCosFull : _ropeCosSliding, sin = full ? _ropeSinFull : _ropeSinSliding;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> rc = cos.AsSpan((row0 + r) * half, half), rs = sin.AsSpan((row0 + r) * half, half);
            for (int head = 0; head < nh; head++)
            {
                Span<float> q = _q.AsSpan(r * qw + head * d, d);   // [D]
                RowMath.RmsNorm(q, lw.QNorm, _c.RmsNormEps, q);
                RowMath.RopeRotateHalf(q, rc, rs);
            }
        }
        // Scale 1.0: the q/k norms set the logit magnitude (HF `self.scaling = 1.0`).
        Attention.Run(_pool, _q, Rows, row0, rows, il, full ? 0 : _c.SlidingWindow, nh, _c.KvHeadCounts[il], d, 1f, _attn);
        lw.O.MatMul(_attn.AsSpan(0, rows * qw), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        for (int r = 0; r < rows; r++)
        {
            Span<float> o = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, lw.PostAttentionNorm, _c.RmsNormEps, o);
            RowMath.Add(o, _x.AsSpan((row0 + r) * h, h));
        }
    }

    /// <summary>Dense GeGLU MLP with pre/post norms and residual add (HF <c>Gemma4TextMLP</c>).</summary>
    private void FeedForward(Gemma4LayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, rows = t - row0;
        for (int r = row0; r < t; r++) RowMath.RmsNorm(_x.AsSpan(r * h, h), lw.FfnNorm, _c.RmsNormEps, _xn.AsSpan(r * h, h));
        DenseMlp(lw, _xn, row0, rows, _branch);
        for (int r = 0; r < rows; r++)
        {
            Span<float> f = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(f, lw.PostFfwNorm, _c.RmsNormEps, f);
            RowMath.Add(f, _x.AsSpan((row0 + r) * h, h));
        }
    }

    /// <summary>dst[0..rows) = W_down · (gelu(W_gate · x) ⊙ (W_up · x)) for input rows [row0, row0 + rows) of <paramref name="input"/>.</summary>
    private void DenseMlp(Gemma4LayerWeights lw, float[] input, int row0, int rows, float[] dst)
    {
        int h = _c.HiddenSize, ffn = (int)lw.Gate.Rows;
        ReadOnlySpan<float> x = input.AsSpan(row0 * h, rows * h);
        lw.Gate.MatMul(x, rows, _gate.AsSpan(0, rows * ffn), _pool);   // [rows, I]
        lw.Up.MatMul(x, rows, _up.AsSpan(0, rows * ffn), _pool);       // [rows, I]
        RowMath.GeGlu(_gate.AsSpan(0, rows * ffn), _up.AsSpan(0, rows * ffn), _gate.AsSpan(0, rows * ffn));
        lw.Down.MatMul(_gate.AsSpan(0, rows * ffn), rows, dst.AsSpan(0, rows * h), _pool);   // [rows, H]
    }

    /// <summary>Same as HF <c>Gemma4TextDecoderLayer</c>'s per-layer-input branch (spec §4.2).</summary>
    private void PerLayerBranch(int il, Gemma4LayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, p = _c.PerLayerInputSize, rows = t - row0;
        lw.PleGate!.MatMul(_x.AsSpan(row0 * h, rows * h), rows, _pleGate.AsSpan(0, rows * p), _pool);   // [rows, P]
        for (int r = 0; r < rows; r++)
        {
            Span<float> g = _pleGate.AsSpan(r * p, p);
            RowMath.GeluInPlace(g);
            RowMath.Multiply(_pli.AsSpan((row0 + r) * _pleStride + il * p, p), g);
        }
        lw.PleProjection!.MatMul(_pleGate.AsSpan(0, rows * p), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        for (int r = 0; r < rows; r++)
        {
            Span<float> o = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, lw.PlePostNorm!, _c.RmsNormEps, o);
            RowMath.Add(o, _x.AsSpan((row0 + r) * h, h));
        }
    }
}
