using System.Runtime.CompilerServices;

namespace Edgewise.Models.Common;

/// <summary>
/// Row-wise float helpers shared by the architectures (norms, activations, RoPE). They run O(width) per row
/// next to O(width²) matmuls, so they stay scalar and simple; the matmuls are <c>WeightMatrix</c>'s job.
/// Parameter order: sources, scalars, destination.
/// </summary>
public static class RowMath
{
    /// <summary><c>dst = x / sqrt(mean(x²) + eps) · w</c> (HF <c>Gemma4RMSNorm</c>, NormW); <paramref name="x"/> may alias <paramref name="dst"/>.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst)
    {
        float inv = InverseRms(x, eps);
        for (int i = 0; i < x.Length; i++) dst[i] = x[i] * inv * weight[i];
    }

    /// <summary><c>dst = x / sqrt(mean(x²) + eps)</c> (Norm1: v_norm, the MoE router's pre-norm).</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, float eps, Span<float> dst)
    {
        float inv = InverseRms(x, eps);
        for (int i = 0; i < x.Length; i++) dst[i] = x[i] * inv;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InverseRms(ReadOnlySpan<float> x, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * x[i];
        return (float)(1.0 / Math.Sqrt(sum / x.Length + eps));
    }

    /// <summary>Tanh-approximated GELU (<c>gelu_pytorch_tanh</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluTanh(float x)
    {
        const float sqrt2OverPi = 0.7978845608028654f;
        return 0.5f * x * (1f + MathF.Tanh(sqrt2OverPi * (x + 0.044715f * x * x * x)));
    }

    /// <summary><c>dst[i] = gelu(gate[i]) · up[i]</c> (GeGLU); <paramref name="dst"/> may alias either input.</summary>
    public static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = GeluTanh(gate[i]) * up[i];
    }

    public static void GeluInPlace(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = GeluTanh(x[i]);
    }

    public static void Scale(Span<float> x, float s)
    {
        for (int i = 0; i < x.Length; i++) x[i] *= s;
    }

    /// <summary><c>acc += x</c>.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> acc)
    {
        for (int i = 0; i < acc.Length; i++) acc[i] += x[i];
    }

    /// <summary><c>acc += s · x</c>.</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float s, Span<float> acc)
    {
        for (int i = 0; i < acc.Length; i++) acc[i] += s * x[i];
    }

    public static void Multiply(ReadOnlySpan<float> x, Span<float> acc)
    {
        for (int i = 0; i < acc.Length; i++) acc[i] *= x[i];
    }

    /// <summary><c>c · tanh(x / c)</c> in place.</summary>
    public static void Softcap(Span<float> x, float cap)
    {
        float inv = 1f / cap;
        for (int i = 0; i < x.Length; i++) x[i] = cap * MathF.Tanh(x[i] * inv);
    }

    /// <summary>Numerically stable softmax in place.</summary>
    public static void Softmax(Span<float> x)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, x[i]);
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>
    /// Fills the cos/sin table of one position for rotate-half (NeoX) RoPE: pair i turns by
    /// <c>position · θ^(−2i/dims) / factor[i]</c> (ggml <c>rope_ext</c> with frequency factors).
    /// </summary>
    public static void RopeTable(int position, float theta, int dims, ReadOnlySpan<float> freqFactors, Span<float> cos, Span<float> sin)
    {
        int half = dims / 2;
        for (int i = 0; i < half; i++)
        {
            double angle = position * Math.Pow(theta, -2.0 * i / dims);
            if (!freqFactors.IsEmpty) angle /= freqFactors[i];
            cos[i] = (float)Math.Cos(angle);
            sin[i] = (float)Math.Sin(angle);
        }
    }

    /// <summary>Rotates pairs (i, i + dims/2) of one head in place; coordinates at or beyond <c>dims</c> pass through.</summary>
    public static void RopeRotateHalf(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float a = head[i], b = head[i + half];
            head[i] = a * cos[i] - b * sin[i];
            head[i + half] = b * cos[i] + a * sin[i];
        }
    }
}
