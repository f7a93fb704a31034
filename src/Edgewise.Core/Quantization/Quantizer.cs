using System.Runtime.InteropServices;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Quantization;

/// <summary>
/// Float rows to ggml blocks with the rounding of ggml's reference quantizers (<c>quantize_row_*_ref</c> in
/// ggml-quants.c), so a tensor quantized here is byte-identical to one from <c>llama-quantize</c> without an imatrix.
/// </summary>
public static partial class Quantizer
{
    /// <summary>Bytes needed for <paramref name="count"/> values of <paramref name="type"/> (a whole number of blocks).</summary>
    public static long QuantizedBytes(GgmlType type, long count) => GgmlTypeInfo.RowBytes(type, count);

    /// <summary>True when <see cref="Quantize"/> can produce <paramref name="type"/>.</summary>
    public static bool CanQuantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>Quantizes <paramref name="src"/> (a whole number of blocks) into <paramref name="dst"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        long needed = QuantizedBytes(type, src.Length);
        if (dst.Length < needed)
        {
            throw new ArgumentException($"Quantizing {src.Length} values to {type} needs {needed} bytes; the destination has {dst.Length}.", nameof(dst));
        }
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16: QuantizeF16(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case GgmlType.BF16: QuantizeBF16(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case GgmlType.Q8_0: QuantizeQ8_0(src, MemoryMarshal.Cast<byte, BlockQ8_0>(dst)); break;
            case GgmlType.Q8_1: QuantizeQ8_1(src, MemoryMarshal.Cast<byte, BlockQ8_1>(dst)); break;
            case GgmlType.Q4_0: QuantizeQ4_0(src, MemoryMarshal.Cast<byte, BlockQ4_0>(dst)); break;
            case GgmlType.Q4_1: QuantizeQ4_1(src, MemoryMarshal.Cast<byte, BlockQ4_1>(dst)); break;
            case GgmlType.Q5_0: QuantizeQ5_0(src, MemoryMarshal.Cast<byte, BlockQ5_0>(dst)); break;
            case GgmlType.Q4_K: QuantizeQ4_K(src, MemoryMarshal.Cast<byte, BlockQ4_K>(dst)); break;
            case GgmlType.Q5_K: QuantizeQ5_K(src, MemoryMarshal.Cast<byte, BlockQ5_K>(dst)); break;
            case GgmlType.Q6_K: QuantizeQ6_K(src, MemoryMarshal.Cast<byte, BlockQ6_K>(dst)); break;
            case GgmlType.Q8_K: QuantizeQ8_K(src, MemoryMarshal.Cast<byte, BlockQ8_K>(dst)); break;
            default: throw new NotSupportedException($"Quantizing to {type} is not implemented.");
        }
    }

    private static void QuantizeF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = Fp16.FromFloat(src[i]);
    }

    private static void QuantizeBF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = Fp16.FloatToBF16(src[i]);
    }

    /// <summary>ggml's <c>nearest_int</c>: round half to even through the 1.5*2^23 magic constant (valid for |x| &lt; 2^22).</summary>
    internal static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007FFFFF) - 0x00400000;
    }

    private static float AbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0;
        foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
        return amax;
    }

    /// <summary>The value with the largest magnitude, sign kept (first one wins on ties, like ggml).</summary>
    private static float SignedAbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (float v in x)
        {
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }
        return max;
    }

    private static unsafe void QuantizeQ8_0(ReadOnlySpan<float> src, Span<BlockQ8_0> dst)
    {
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float d = AbsMax(x) / 127f;
            float id = d != 0 ? 1f / d : 0f;
            ref BlockQ8_0 y = ref dst[b];
            y.D = (Half)d;
            for (int j = 0; j < 32; j++) y.Qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    private static unsafe void QuantizeQ8_1(ReadOnlySpan<float> src, Span<BlockQ8_1> dst)
    {
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float d = AbsMax(x) / 127f;
            float id = d != 0 ? 1f / d : 0f;
            ref BlockQ8_1 y = ref dst[b];
            y.D = (Half)d;
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                sbyte q = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
                y.Qs[j] = q;
                sum += q;
            }
            y.S = (Half)(sum * d);
        }
    }

    private static unsafe void QuantizeQ4_0(ReadOnlySpan<float> src, Span<BlockQ4_0> dst)
    {
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float d = SignedAbsMax(x) / -8f;
            float id = d != 0 ? 1f / d : 0f;
            ref BlockQ4_0 y = ref dst[b];
            y.D = (Half)d;
            for (int j = 0; j < 16; j++)
            {
                // (int8_t)(v + 8.5f) truncates toward zero, then MIN(15, .): same rounding as quantize_row_q4_0_ref.
                int q0 = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(sbyte)(x[j + 16] * id + 8.5f));
                y.Qs[j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    private static unsafe void QuantizeQ4_1(ReadOnlySpan<float> src, Span<BlockQ4_1> dst)
    {
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float min = float.MaxValue, max = -float.MaxValue;
            foreach (float v in x)
            {
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 15f;
            float id = d != 0 ? 1f / d : 0f;
            ref BlockQ4_1 y = ref dst[b];
            y.D = (Half)d;
            y.M = (Half)min;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(15, (int)(sbyte)((x[j] - min) * id + 0.5f));
                int q1 = Math.Min(15, (int)(sbyte)((x[j + 16] - min) * id + 0.5f));
                y.Qs[j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    private static unsafe void QuantizeQ5_0(ReadOnlySpan<float> src, Span<BlockQ5_0> dst)
    {
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float d = SignedAbsMax(x) / -16f;
            float id = d != 0 ? 1f / d : 0f;
            ref BlockQ5_0 y = ref dst[b];
            y.D = (Half)d;
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(31, (int)(sbyte)(x[j] * id + 16.5f));
                int q1 = Math.Min(31, (int)(sbyte)(x[j + 16] * id + 16.5f));
                y.Qs[j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 & 0x10) >> 4) << j;
                qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
            }
            for (int k = 0; k < 4; k++) y.Qh[k] = (byte)(qh >> (8 * k));
        }
    }
}
