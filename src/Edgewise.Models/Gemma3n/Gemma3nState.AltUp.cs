using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

public sealed partial class Gemma3nState
{
    /// <summary>
    /// <c>_modal[r] = tanh(W_router · (NormW(x[r]; router_norm) / H))</c> for rows [row0, t) of
    /// <paramref name="x"/> (HF <c>Gemma3nTextAltUp.compute_router_modalities</c>; the scale is 1/H, not 1/√H).
    /// </summary>
    private void Modalities(Gemma3nLayerWeights lw, float[] x, int xOffset, int row0, int t)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs, rows = t - row0;
        float inv = 1f / h;
        for (int r = 0; r < rows; r++)
        {
            Span<float> n = _routerIn.AsSpan(r * h, h);
            RowMath.RmsNorm(x.AsSpan(xOffset + (row0 + r) * h, h), lw.AltUpRouterNorm, _c.RmsNormEps, n);
            RowMath.Scale(n, inv);
        }
        lw.AltUpRouter.MatMul(_routerIn.AsSpan(0, rows * h), rows, _modal.AsSpan(0, rows * s), _pool);   // [rows, S]
        Span<float> m = _modal.AsSpan(0, rows * s);
        for (int i = 0; i < m.Length; i++) m[i] = MathF.Tanh(m[i]);
    }

    /// <summary>
    /// AltUp predict (HF <c>Gemma3nTextAltUp.predict</c>, spec §3.4): <c>P_i = X_i + Σ_j C[i][j]·X_j</c> with
    /// <c>C[i][j] = (W_pred · m)[S·i + j]</c>, m the modalities of the active input stream. Mixing in fp32.
    /// </summary>
    private void Predict(Gemma3nLayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs;
        Modalities(lw, _streams, _c.AltUpActiveIndex * _streamStride, row0, t);
        Span<float> coef = stackalloc float[s * s];
        for (int r = row0; r < t; r++)
        {
            ReadOnlySpan<float> m = _modal.AsSpan((r - row0) * s, s);
            for (int k = 0; k < s * s; k++)
            {
                float sum = 0f;
                for (int j = 0; j < s; j++) sum += lw.AltUpPredictCoef[k * s + j] * m[j];
                coef[k] = sum;
            }
            for (int i = 0; i < s; i++)
            {
                Span<float> p = _pred.AsSpan(i * _streamStride + r * h, h);   // [H]
                _streams.AsSpan(i * _streamStride + r * h, h).CopyTo(p);
                for (int j = 0; j < s; j++)
                {
                    RowMath.AddScaled(_streams.AsSpan(j * _streamStride + r * h, h), coef[i * s + j], p);
                }
            }
        }
    }

    /// <summary>
    /// AltUp correct (HF <c>Gemma3nTextAltUp.correct</c>): <c>X_i = P_i + (W_corr · m + 1)[i] · (o − P_A)</c>, with m
    /// the modalities of the layer output <c>o</c> (held in <c>_z</c>).
    /// </summary>
    private void Correct(Gemma3nLayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs, a = _c.AltUpActiveIndex;
        Modalities(lw, _z, -row0 * h, row0, t);
        Span<float> d = stackalloc float[s];
        for (int r = row0; r < t; r++)
        {
            ReadOnlySpan<float> m = _modal.AsSpan((r - row0) * s, s);
            for (int i = 0; i < s; i++)
            {
                float sum = 1f;
                for (int j = 0; j < s; j++) sum += lw.AltUpCorrectCoef[i * s + j] * m[j];
                d[i] = sum;
            }
            // innovation = o − P_A, kept in _z's row (o is not needed afterwards)
            Span<float> innovation = _z.AsSpan((r - row0) * h, h);
            ReadOnlySpan<float> pa = _pred.AsSpan(a * _streamStride + r * h, h);
            for (int e = 0; e < h; e++) innovation[e] -= pa[e];
            for (int i = 0; i < s; i++)
            {
                Span<float> x = _streams.AsSpan(i * _streamStride + r * h, h);
                _pred.AsSpan(i * _streamStride + r * h, h).CopyTo(x);
                RowMath.AddScaled(innovation, d[i], x);
            }
        }
    }

    /// <summary>
    /// Same as HF <c>Gemma3nTextDecoderLayer</c>'s per-layer-input branch (spec §3.4): gate the corrected active
    /// stream (× <c>correct_output_scale</c>), multiply by this layer's per-layer input, project, norm, and add to
    /// every stream except stream 0.
    /// </summary>
    private void PerLayerBranch(int il, Gemma3nLayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, p = _c.PerLayerInputSize, rows = t - row0, a = _c.AltUpActiveIndex;
        for (int r = 0; r < rows; r++)
        {
            Span<float> f = _xn.AsSpan(r * h, h);
            _streams.AsSpan(a * _streamStride + (row0 + r) * h, h).CopyTo(f);
            RowMath.Multiply(lw.AltUpCorrectScale, f);
        }
        lw.PleGate.MatMul(_xn.AsSpan(0, rows * h), rows, _pleGate.AsSpan(0, rows * p), _pool);   // [rows, P]
        for (int r = 0; r < rows; r++)
        {
            Span<float> g = _pleGate.AsSpan(r * p, p);
            RowMath.GeluInPlace(g);
            RowMath.Multiply(_pli.AsSpan((row0 + r) * _pleStride + il * p, p), g);
        }
        lw.PleProjection.MatMul(_pleGate.AsSpan(0, rows * p), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        for (int r = 0; r < rows; r++)
        {
            Span<float> o = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, lw.PlePostNorm, _c.RmsNormEps, o);
            for (int k = 1; k < _c.AltUpInputs; k++) RowMath.Add(o, _streams.AsSpan(k * _streamStride + (row0 + r) * h, h));
        }
    }
}
