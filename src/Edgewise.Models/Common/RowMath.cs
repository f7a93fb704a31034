using Edgewise.Core.Kernels;

namespace Edgewise.Models.Common;

/// <summary>
/// Row-wise helpers the architectures share: Core's SIMD <see cref="Ops"/> under the names the forward passes use,
/// plus RoPE driven by per-position cos/sin tables (computed once per token, reused by every head and layer).
/// Parameter order: sources, scalars, destination.
/// </summary>
public static class RowMath
{
    /// <summary><c>dst = x / sqrt(mean(x²) + eps) · w</c> (HF <c>Gemma4RMSNorm</c>, NormW); <paramref name="x"/> may alias <paramref name="dst"/>.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst) => Ops.RmsNorm(x, weight, eps, dst);

    /// <summary><c>dst = x / sqrt(mean(x²) + eps)</c> (Norm1: v_norm, the MoE router's pre-norm).</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, float eps, Span<float> dst) => Ops.RmsNorm(x, ReadOnlySpan<float>.Empty, eps, dst);

    /// <summary><c>dst[i] = gelu(gate[i]) · up[i]</c> (GeGLU); <paramref name="dst"/> may alias either input.</summary>
    public static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst) => Ops.GeGlu(gate, up, dst);

    public static void GeluInPlace(Span<float> x) => Ops.GeluTanh(x, x);

    public static void Scale(Span<float> x, float s) => Ops.Scale(x, s, x);

    /// <summary><c>acc += x</c>.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> acc) => Ops.Add(x, acc, acc);

    /// <summary><c>acc += s · x</c>.</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float s, Span<float> acc) => Ops.AddScaled(x, s, acc);

    /// <summary><c>acc *= x</c>.</summary>
    public static void Multiply(ReadOnlySpan<float> x, Span<float> acc) => Ops.Multiply(x, acc, acc);

    /// <summary>Numerically stable softmax in place.</summary>
    public static void Softmax(Span<float> x) => Ops.Softmax(x);

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

    /// <summary>
    /// Every head of rows [0, <paramref name="rows"/>) of <paramref name="x"/> ([rows, heads·headDim]): RMS-normed
    /// with <paramref name="norm"/>, then rotated by its own row's RoPE table (<paramref name="cos"/>,
    /// <paramref name="sin"/>: [rows, ropeHalf], from the same first row). Same as q_norm/k_norm + RoPE in HF
    /// <c>Gemma3nTextAttention</c> and <c>Gemma4TextAttention</c>.
    /// </summary>
    public static void NormRopeHeads(Span<float> x, ReadOnlySpan<float> norm, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int rows, int heads, int headDim, int ropeHalf, float eps)
    {
        int width = heads * headDim;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> rc = cos.Slice(r * ropeHalf, ropeHalf), rs = sin.Slice(r * ropeHalf, ropeHalf);
            for (int head = 0; head < heads; head++)
            {
                Span<float> h = x.Slice(r * width + head * headDim, headDim);   // [D]
                RmsNorm(h, norm, eps, h);
                RopeRotateHalf(h, rc, rs);
            }
        }
    }

    /// <summary>Weightless RMS norm of every <paramref name="headDim"/>-wide head of <paramref name="x"/> in place (v_norm).</summary>
    public static void NormHeads(Span<float> x, int headDim, float eps)
    {
        for (int o = 0; o + headDim <= x.Length; o += headDim)
        {
            Span<float> h = x.Slice(o, headDim);   // [D]
            RmsNorm(h, eps, h);
        }
    }
}
