using System.Runtime.CompilerServices;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Dot products of one weight row (ggml blocks) with one prepared activation row. <see cref="Scalar"/> is the
/// plain reference (the twin every fast path is tested against); <see cref="Fast"/> picks SIMD where it exists.
/// </summary>
internal static unsafe partial class RowDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(GgmlType type, byte* w, in ActivationRow a, int columns) => type switch
    {
        GgmlType.F32 => ScalarF32((float*)w, a.Floats, columns),
        GgmlType.F16 => ScalarF16((ushort*)w, a.Floats, columns),
        GgmlType.BF16 => ScalarBF16((ushort*)w, a.Floats, columns),
        GgmlType.Q8_0 => ScalarQ8_0(w, 34, a, columns / 32),
        GgmlType.Q8_1 => ScalarQ8_0(w, 36, a, columns / 32),
        GgmlType.Q4_0 => ScalarQ4_0((BlockQ4_0*)w, a, columns / 32),
        GgmlType.Q4_1 => ScalarQ4_1((BlockQ4_1*)w, a, columns / 32),
        GgmlType.Q5_0 => ScalarQ5_0((BlockQ5_0*)w, a, columns / 32),
        GgmlType.Q4_K => ScalarQ4_K((BlockQ4_K*)w, a, columns / 256),
        GgmlType.Q5_K => ScalarQ5_K((BlockQ5_K*)w, a, columns / 256),
        GgmlType.Q6_K => ScalarQ6_K((BlockQ6_K*)w, a, columns / 256),
        _ => throw new NotSupportedException($"No dot product for weight type {type}."),
    };

    /// <summary>A block scale widened (<see cref="Fp16.ScaleToFloat"/>: what the SIMD kernels compute, lane-wise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(ushort bits) => Fp16.ScaleToFloat(bits);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarF32(float* w, float* x, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarF16(ushort* w, float* x, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += Fp16.ToFloat(w[i]) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarBF16(ushort* w, float* x, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += Fp16.BF16ToFloat(w[i]) * x[i];
        return sum;
    }

    // Q8_0 and Q8_1 weights share the quant layout; only the header size differs (d, or d and s).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ8_0(byte* w, int blockBytes, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += blockBytes)
        {
            sbyte* q = (sbyte*)(w + blockBytes - 32);
            sbyte* x = a.Qs + b * 32;
            int acc = 0;
            for (int j = 0; j < 32; j++) acc += q[j] * x[j];
            sum += acc * (Half(*(ushort*)w) * a.Scales[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ4_0(BlockQ4_0* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            // Q4_0 activations use the paired layout (see ActivationKind.Q8Block32Paired).
            int acc = 0;
            for (int j = 0; j < 16; j++)
            {
                acc += ((w[b].Qs[j] & 0x0F) - 8) * a.Qs[ActivationQuantizer.PairedOffset(b, j, blocks)];
                acc += ((w[b].Qs[j] >> 4) - 8) * a.Qs[ActivationQuantizer.PairedOffset(b, j + 16, blocks)];
            }
            sum += acc * (Half(BitConverter.HalfToUInt16Bits(w[b].D)) * a.Scales[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ4_1(BlockQ4_1* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 32;
            int acc = 0;
            for (int j = 0; j < 16; j++)
            {
                acc += (w[b].Qs[j] & 0x0F) * x[j];
                acc += (w[b].Qs[j] >> 4) * x[j + 16];
            }
            float d = Half(BitConverter.HalfToUInt16Bits(w[b].D));
            float m = Half(BitConverter.HalfToUInt16Bits(w[b].M));
            sum += acc * (d * a.Scales[b]) + m * (a.Scales[b] * a.Sums[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ5_0(BlockQ5_0* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 32;
            uint qh = Unsafe.ReadUnaligned<uint>(w[b].Qh);
            int acc = 0;
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                acc += (((w[b].Qs[j] & 0x0F) | h0) - 16) * x[j];
                acc += (((w[b].Qs[j] >> 4) | h1) - 16) * x[j + 16];
            }
            sum += acc * (Half(BitConverter.HalfToUInt16Bits(w[b].D)) * a.Scales[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ4_K(BlockQ4_K* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            int* bsums = a.Sums + b * 16;
            byte* q = w[b].Qs;
            int scaled = 0, mins = 0;
            for (int sub = 0; sub < 8; sub++)
            {
                Quantizer.ScaleMinK4(sub, w[b].Scales, out int sc, out int m);
                int shift = (sub & 1) * 4;
                byte* qs = q + (sub / 2) * 32;
                int acc = 0;
                for (int l = 0; l < 32; l++) acc += ((qs[l] >> shift) & 0xF) * x[sub * 32 + l];
                scaled += sc * acc;
                mins += m * (bsums[2 * sub] + bsums[2 * sub + 1]);
            }
            float dx = a.Scales[b];
            sum += dx * Half(BitConverter.HalfToUInt16Bits(w[b].D)) * scaled - dx * Half(BitConverter.HalfToUInt16Bits(w[b].DMin)) * mins;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ5_K(BlockQ5_K* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            int* bsums = a.Sums + b * 16;
            byte* q = w[b].Qs;
            byte* qh = w[b].Qh;
            int scaled = 0, mins = 0;
            for (int sub = 0; sub < 8; sub++)
            {
                Quantizer.ScaleMinK4(sub, w[b].Scales, out int sc, out int m);
                int shift = (sub & 1) * 4;
                byte* qs = q + (sub / 2) * 32;
                int acc = 0;
                for (int l = 0; l < 32; l++)
                {
                    int v = ((qs[l] >> shift) & 0xF) | (((qh[l] >> sub) & 1) << 4);
                    acc += v * x[sub * 32 + l];
                }
                scaled += sc * acc;
                mins += m * (bsums[2 * sub] + bsums[2 * sub + 1]);
            }
            float dx = a.Scales[b];
            sum += dx * Half(BitConverter.HalfToUInt16Bits(w[b].D)) * scaled - dx * Half(BitConverter.HalfToUInt16Bits(w[b].DMin)) * mins;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ScalarQ6_K(BlockQ6_K* w, in ActivationRow a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* x = a.Qs + b * 256;
            byte* ql = w[b].Ql;
            byte* qh = w[b].Qh;
            sbyte* sc = w[b].Scales;
            int total = 0;
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, x += 128)
            {
                for (int part = 0; part < 8; part++)
                {
                    // part p covers values 16p..16p+15 of this 128-value half: quarter p/2, upper/lower 16 of it.
                    int quarter = part / 2, offset = (part & 1) * 16;
                    int acc = 0;
                    for (int l = offset; l < offset + 16; l++)
                    {
                        int low = quarter switch
                        {
                            0 => ql[l] & 0xF,
                            1 => ql[l + 32] & 0xF,
                            2 => ql[l] >> 4,
                            _ => ql[l + 32] >> 4,
                        };
                        int v = (low | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
                        acc += v * x[quarter * 32 + l];
                    }
                    total += sc[quarter * 2 + (part & 1)] * acc;
                }
            }
            sum += a.Scales[b] * Half(BitConverter.HalfToUInt16Bits(w[b].D)) * total;
        }
        return sum;
    }
}
