using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Quantization;

/// <summary>ggml blocks back to floats (<c>dequantize_row_*</c> in ggml-quants.c): exact, so results match ggml bit for bit.</summary>
public static unsafe class Dequantizer
{
    /// <summary>True when <see cref="DequantizeRow"/> understands <paramref name="type"/>.</summary>
    public static bool CanDequantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>Dequantizes <c>dst.Length</c> values (a whole number of blocks) from <paramref name="src"/>.</summary>
    public static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        long needed = GgmlTypeInfo.RowBytes(type, dst.Length);
        if (src.Length < needed)
        {
            throw new ArgumentException($"{dst.Length} values of {type} need {needed} bytes; the source has {src.Length}.", nameof(src));
        }
        fixed (byte* s = src)
        fixed (float* d = dst)
        {
            DequantizeRow(type, s, d, dst.Length);
        }
    }

    /// <summary>Pointer form for kernels: <paramref name="count"/> values from <paramref name="src"/> into <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DequantizeRow(GgmlType type, byte* src, float* dst, int count)
    {
        switch (type)
        {
            case GgmlType.F32: Buffer.MemoryCopy(src, dst, (long)count * 4, (long)count * 4); break;
            case GgmlType.F16: for (int i = 0; i < count; i++) dst[i] = Fp16.ToFloat(((ushort*)src)[i]); break;
            case GgmlType.BF16: for (int i = 0; i < count; i++) dst[i] = Fp16.BF16ToFloat(((ushort*)src)[i]); break;
            case GgmlType.Q8_0: Q8_0((BlockQ8_0*)src, dst, count / 32); break;
            case GgmlType.Q8_1: Q8_1((BlockQ8_1*)src, dst, count / 32); break;
            case GgmlType.Q4_0: Q4_0((BlockQ4_0*)src, dst, count / 32); break;
            case GgmlType.Q4_1: Q4_1((BlockQ4_1*)src, dst, count / 32); break;
            case GgmlType.Q5_0: Q5_0((BlockQ5_0*)src, dst, count / 32); break;
            case GgmlType.Q4_K: Q4_K((BlockQ4_K*)src, dst, count / 256); break;
            case GgmlType.Q5_K: Q5_K((BlockQ5_K*)src, dst, count / 256); break;
            case GgmlType.Q6_K: Q6_K((BlockQ6_K*)src, dst, count / 256); break;
            case GgmlType.Q8_K: Q8_K((BlockQ8_K*)src, dst, count / 256); break;
            default: throw new NotSupportedException($"Dequantizing {type} is not implemented.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float H(Half h) => Fp16.ToFloat(BitConverter.HalfToUInt16Bits(h));

    private static void Q8_0(BlockQ8_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = H(x[i].D);
            for (int j = 0; j < 32; j++) y[j] = x[i].Qs[j] * d;
        }
    }

    private static void Q8_1(BlockQ8_1* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = H(x[i].D);
            for (int j = 0; j < 32; j++) y[j] = x[i].Qs[j] * d;
        }
    }

    // Whole matrices are dequantized once (Gemma 3n's transposed downs at the first decode step): too briefly for
    // tiered compilation to promote the loop, so it is compiled optimized from the first call.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0(BlockQ4_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = H(x[i].D);
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((x[i].Qs[j] & 0x0F) - 8) * d;
                y[j + 16] = ((x[i].Qs[j] >> 4) - 8) * d;
            }
        }
    }

    private static void Q4_1(BlockQ4_1* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = H(x[i].D), m = H(x[i].M);
            for (int j = 0; j < 16; j++)
            {
                y[j] = (x[i].Qs[j] & 0x0F) * d + m;
                y[j + 16] = (x[i].Qs[j] >> 4) * d + m;
            }
        }
    }

    private static void Q5_0(BlockQ5_0* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 32)
        {
            float d = H(x[i].D);
            uint qh = Unsafe.ReadUnaligned<uint>(x[i].Qh);
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = (((x[i].Qs[j] & 0x0F) | h0) - 16) * d;
                y[j + 16] = (((x[i].Qs[j] >> 4) | h1) - 16) * d;
            }
        }
    }

    private static void Q4_K(BlockQ4_K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            float d = H(x[i].D), min = H(x[i].DMin);
            byte* q = x[i].Qs;
            for (int j = 0, sub = 0; j < 256; j += 64, sub += 2, q += 32)
            {
                Quantizer.ScaleMinK4(sub, x[i].Scales, out int sc, out int m);
                float d1 = d * sc, m1 = min * m;
                Quantizer.ScaleMinK4(sub + 1, x[i].Scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
            }
        }
    }

    private static void Q5_K(BlockQ5_K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            float d = H(x[i].D), min = H(x[i].DMin);
            byte* ql = x[i].Qs;
            byte* qh = x[i].Qh;
            int u1 = 1, u2 = 2;
            for (int j = 0, sub = 0; j < 256; j += 64, sub += 2, ql += 32, u1 <<= 2, u2 <<= 2)
            {
                Quantizer.ScaleMinK4(sub, x[i].Scales, out int sc, out int m);
                float d1 = d * sc, m1 = min * m;
                Quantizer.ScaleMinK4(sub + 1, x[i].Scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
            }
        }
    }

    private static void Q6_K(BlockQ6_K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            float d = H(x[i].D);
            byte* ql = x[i].Ql;
            byte* qh = x[i].Qh;
            sbyte* sc = x[i].Scales;
            for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
            {
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * sc[s] * q1;
                    y[l + 32] = d * sc[s + 2] * q2;
                    y[l + 64] = d * sc[s + 4] * q3;
                    y[l + 96] = d * sc[s + 6] * q4;
                }
            }
        }
    }

    private static void Q8_K(BlockQ8_K* x, float* y, int blocks)
    {
        for (int i = 0; i < blocks; i++, y += 256)
        {
            for (int j = 0; j < 256; j++) y[j] = x[i].D * x[i].Qs[j];
        }
    }
}
