using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

public sealed partial class Gemma3nState
{
    /// <summary>
    /// <c>_modal[r] = W_router · (NormW(x[r]; router_norm) / H)</c> for <paramref name="rows"/> rows of the active
    /// stream from <paramref name="row0"/> (<paramref name="ofOutput"/> false) or of <c>_z</c> from its start (HF
    /// <c>Gemma3nTextAltUp.compute_router_modalities</c>; the scale is 1/H, not 1/√H). The tanh is applied per row by
    /// the step that reads it.
    /// </summary>
    private void Modalities(Gemma3nLayerWeights lw, bool ofOutput, int row0, int rows)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs;
        ForRows(RowStep.RouterInput, lw, 0, row0, rows, 3 * h, arg: ofOutput ? 1 : 0);
        lw.AltUpRouter.MatMul(_routerIn.AsSpan(0, rows * h), rows, _modal.AsSpan(0, rows * s), _pool);   // [rows, S]
    }

    private void RouterInputRows(Gemma3nLayerWeights lw, int ofOutput, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        float[] x = ofOutput != 0 ? _z : _streams;
        int offset = ofOutput != 0 ? 0 : _c.AltUpActiveIndex * _streamStride + row0 * h;
        float inv = 1f / h;
        for (int r = start; r < end; r++)
        {
            Span<float> n = _routerIn.AsSpan(r * h, h);
            RowMath.RmsNorm(x.AsSpan(offset + r * h, h), lw.AltUpRouterNorm, _c.RmsNormEps, n);
            RowMath.Scale(n, inv);
        }
    }

    /// <summary>tanh of one row's router modalities, in place.</summary>
    private Span<float> ModalitiesRow(int r)
    {
        int s = _c.AltUpInputs;
        Span<float> m = _modal.AsSpan(r * s, s);
        for (int i = 0; i < m.Length; i++) m[i] = MathF.Tanh(m[i]);
        return m;
    }

    /// <summary>
    /// AltUp predict (HF <c>Gemma3nTextAltUp.predict</c>, spec §3.4): <c>P_i = X_i + Σ_j C[i][j]·X_j</c> with
    /// <c>C[i][j] = (W_pred · m)[S·i + j]</c>, m the modalities of the active input stream. Mixing in fp32.
    /// </summary>
    private void Predict(Gemma3nLayerWeights lw, int row0, int t)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs;
        Modalities(lw, ofOutput: false, row0, t - row0);
        ForRows(RowStep.Predict, lw, 0, row0, t - row0, (long)s * (s + 1) * h);
    }

    private void PredictRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs;
        Span<float> coef = stackalloc float[s * s];
        for (int r = row0 + start; r < row0 + end; r++)
        {
            ReadOnlySpan<float> m = ModalitiesRow(r - row0);
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
        int h = _c.HiddenSize, s = _c.AltUpInputs;
        Modalities(lw, ofOutput: true, row0, t - row0);   // _z holds rows [row0, t) from its start
        ForRows(RowStep.Correct, lw, 0, row0, t - row0, (long)(2 * s + 1) * h);
    }

    private void CorrectRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize, s = _c.AltUpInputs, a = _c.AltUpActiveIndex;
        Span<float> d = stackalloc float[s];
        for (int r = row0 + start; r < row0 + end; r++)
        {
            ReadOnlySpan<float> m = ModalitiesRow(r - row0);
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
        int h = _c.HiddenSize, p = _c.PerLayerInputSize, rows = t - row0;
        ForRows(RowStep.PleInput, lw, il, row0, rows, 2 * h);
        lw.PleGate.MatMul(_xn.AsSpan(0, rows * h), rows, _pleGate.AsSpan(0, rows * p), _pool);   // [rows, P]
        ForRows(RowStep.PleGate, lw, il, row0, rows, 8 * p);
        lw.PleProjection.MatMul(_pleGate.AsSpan(0, rows * p), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
        ForRows(RowStep.PleOut, lw, il, row0, rows, (long)(_c.AltUpInputs + 1) * h);
    }

    /// <summary>Row r of <c>_xn</c> = the corrected active stream × <c>correct_output_scale</c>.</summary>
    private void PleInputRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize, a = _c.AltUpActiveIndex;
        for (int r = start; r < end; r++)
        {
            Span<float> f = _xn.AsSpan(r * h, h);
            _streams.AsSpan(a * _streamStride + (row0 + r) * h, h).CopyTo(f);
            RowMath.Multiply(lw.AltUpCorrectScale, f);
        }
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

    private void PleOutRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = start; r < end; r++)
        {
            Span<float> o = _branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, lw.PlePostNorm, _c.RmsNormEps, o);
            for (int k = 1; k < _c.AltUpInputs; k++) RowMath.Add(o, _streams.AsSpan(k * _streamStride + (row0 + r) * h, h));
        }
    }
}
