namespace Edgewise.Core.Quantization;

// K-quant reference quantizers: quantize_row_q4_K_ref / q5_K / q6_K / q8_K and their helpers
// make_qkx2_quants and make_qx_quants (ggml-quants.c), reimplemented with the same float order of operations.
public static partial class Quantizer
{
    private const float GroupMaxEps = 1e-15f;

    private static unsafe void QuantizeQ4_K(ReadOnlySpan<float> src, Span<BlockQ4_K> dst)
    {
        Span<byte> levels = stackalloc byte[256];
        for (int b = 0; b < src.Length / 256; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 256, 256);
            ref BlockQ4_K y = ref dst[b];
            fixed (byte* scales = y.Scales)
            {
                QuantizeScaleMinBlock(x, 15, -1f, 0.1f, 20, scales, out float d, out float dmin, levels);
                y.D = (Half)d;
                y.DMin = (Half)dmin;
                for (int j = 0; j < 256; j += 64)
                {
                    for (int l = 0; l < 32; l++) y.Qs[j / 2 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 4));
                }
            }
        }
    }

    private static unsafe void QuantizeQ5_K(ReadOnlySpan<float> src, Span<BlockQ5_K> dst)
    {
        Span<byte> levels = stackalloc byte[256];
        for (int b = 0; b < src.Length / 256; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 256, 256);
            ref BlockQ5_K y = ref dst[b];
            fixed (byte* scales = y.Scales)
            {
                QuantizeScaleMinBlock(x, 31, -0.5f, 0.1f, 15, scales, out float d, out float dmin, levels);
                y.D = (Half)d;
                y.DMin = (Half)dmin;
            }
            for (int j = 0; j < 32; j++) y.Qh[j] = 0;
            byte m1 = 1, m2 = 2;
            for (int n = 0; n < 256; n += 64)
            {
                for (int j = 0; j < 32; j++)
                {
                    int l1 = levels[n + j];
                    if (l1 > 15) { l1 -= 16; y.Qh[j] |= m1; }
                    int l2 = levels[n + j + 32];
                    if (l2 > 15) { l2 -= 16; y.Qh[j] |= m2; }
                    y.Qs[n / 2 + j] = (byte)(l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
            }
        }
    }

    /// <summary>
    /// The shared body of the Q4_K and Q5_K reference quantizers: per 32-value sub-block scale and min from
    /// make_qkx2_quants, both packed as 6-bit numbers, then every value re-quantized with the stored scales.
    /// </summary>
    private static unsafe void QuantizeScaleMinBlock(ReadOnlySpan<float> x, int nmax, float rmin, float rdelta, int nstep,
        byte* packed, out float dStored, out float dminStored, Span<byte> levels)
    {
        Span<float> weights = stackalloc float[32];
        Span<byte> aux = stackalloc byte[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            ReadOnlySpan<float> xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += xs[l] * xs[l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(xs[l]);
            scales[j] = MakeQkx2Quants(32, nmax, xs, weights, levels.Slice(32 * j, 32), out mins[j], aux, rmin, rdelta, nstep);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int k = 0; k < 12; k++) packed[k] = 0;
        for (int j = 0; j < 8; j++)
        {
            byte ls = Math.Min((byte)63, (byte)NearestInt(invScale * scales[j]));
            byte lm = Math.Min((byte)63, (byte)NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = ls;
                packed[j + 4] = lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
        ushort dBits = Fp16.FromFloat(maxScale / 63f);
        ushort dminBits = Fp16.FromFloat(maxMin / 63f);
        dStored = Fp16.ToFloat(dBits);
        dminStored = Fp16.ToFloat(dminBits);

        for (int j = 0; j < 8; j++)
        {
            ScaleMinK4(j, packed, out int sc, out int m);
            float d = dStored * sc;
            if (d == 0) continue;
            float dm = dminStored * m;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                levels[32 * j + ii] = (byte)Math.Clamp(l, 0, nmax);
            }
        }
    }

    /// <summary>ggml <c>get_scale_min_k4</c>: unpacks the 6-bit scale and min of sub-block <paramref name="j"/>.</summary>
    internal static unsafe void ScaleMinK4(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    private static float MakeQkx2Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> levels,
        out float theMin, Span<byte> aux, float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            levels[..n].Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            levels[i] = (byte)Math.Clamp(l, 0, nmax);
            float diff = scale * levels[i] + min - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                aux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * aux[i] + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError)
                {
                    aux[..n].CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    private static unsafe void QuantizeQ6_K(ReadOnlySpan<float> src, Span<BlockQ6_K> dst)
    {
        Span<sbyte> levels = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < src.Length / 256; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 256, 256);
            ref BlockQ6_K y = ref dst[b];
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x.Slice(16 * ib, 16), levels.Slice(16 * ib, 16));
                scales[ib] = scale;
                if (MathF.Abs(scale) > maxAbsScale)
                {
                    maxAbsScale = MathF.Abs(scale);
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GroupMaxEps)
            {
                y = default;
                continue;
            }
            float iscale = -128f / maxScale;
            y.D = (Half)(1 / iscale);
            float dStored = (float)y.D;
            for (int ib = 0; ib < 16; ib++) y.Scales[ib] = (sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
            for (int j = 0; j < 16; j++)
            {
                float d = dStored * y.Scales[j];
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = Math.Clamp(NearestInt(x[16 * j + ii] / d), -32, 31);
                    levels[16 * j + ii] = (sbyte)(l + 32);
                }
            }
            for (int j = 0; j < 256; j += 128)
            {
                int ql = j / 2, qh = j / 4;
                for (int l = 0; l < 32; l++)
                {
                    int q1 = levels[j + l] & 0xF, q2 = levels[j + l + 32] & 0xF, q3 = levels[j + l + 64] & 0xF, q4 = levels[j + l + 96] & 0xF;
                    y.Ql[ql + l] = (byte)(q1 | (q3 << 4));
                    y.Ql[ql + l + 32] = (byte)(q2 | (q4 << 4));
                    y.Qh[qh + l] = (byte)((levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                        | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6));
                }
            }
        }
    }

    /// <summary>ggml <c>make_qx_quants</c> with rmse_type 1 and no importance weights (weights = x²).</summary>
    private static float MakeQxQuants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> levels)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            levels[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++) levels[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /// <summary>quantize_row_q8_K_ref: scale -127/max of the largest-magnitude value, per-16 sums.</summary>
    private static unsafe void QuantizeQ8_K(ReadOnlySpan<float> src, Span<BlockQ8_K> dst)
    {
        for (int b = 0; b < src.Length / 256; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 256, 256);
            ref BlockQ8_K y = ref dst[b];
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            if (amax == 0)
            {
                y = default;
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) y.Qs[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            for (int j = 0; j < 16; j++)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++) sum += y.Qs[16 * j + ii];
                y.BSums[j] = (short)sum;
            }
            y.D = 1 / iscale;
        }
    }
}
