using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Edgewise.Core.Quantization;

public static partial class Quantizer
{
    /// <summary>
    /// Quantizes columns of a strip of 32 float rows to one Q8_0 block each: block u holds column
    /// <paramref name="firstColumn"/> + u (values[k · <paramref name="stride"/> + column], k = 0..31) and is written
    /// at <paramref name="dst"/>[u · <paramref name="dstStride"/>]. The bytes are those of <see cref="Quantize"/> on
    /// each gathered column: a transpose into Q8_0 (Gemma 3n's sparse down projections) without the gather.
    /// </summary>
    public static void QuantizeQ8_0Columns(ReadOnlySpan<float> values, int stride, int firstColumn, int columns, Span<byte> dst, int dstStride)
        => QuantizeQ8_0Columns(values, stride, firstColumn, columns, dst, dstStride, fast: true);

    // Eight columns at a time: row k of eight adjacent columns is one vector, so the absolute maxima, scales and
    // roundings are lane-wise, with the scalar path's arithmetic (same division, product and rounding per value).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void QuantizeQ8_0Columns(ReadOnlySpan<float> values, int stride, int firstColumn, int columns, Span<byte> dst, int dstStride, bool fast)
    {
        if (columns < 0 || firstColumn < 0 || stride < firstColumn + columns || values.Length < 31L * stride + firstColumn + columns)
        {
            throw new ArgumentException($"Columns [{firstColumn}, {firstColumn + columns}) of 32 rows {stride} apart do not fit {values.Length} values.", nameof(values));
        }
        if (dstStride < 34 || (columns > 0 && dst.Length < (long)(columns - 1) * dstStride + 34))
        {
            throw new ArgumentException($"{columns} blocks {dstStride} bytes apart do not fit {dst.Length} bytes.", nameof(dst));
        }
        Span<float> column = stackalloc float[32];
        int u = 0;
        fixed (float* v = values)
        fixed (byte* d = dst)
        {
            if (fast && Vector256.IsHardwareAccelerated)
            {
                int* q = stackalloc int[32 * 8];   // [32 rows, 8 columns]
                for (; u + 8 <= columns; u += 8)
                {
                    float* x = v + firstColumn + u;
                    Vector256<float> amax = Vector256<float>.Zero;
                    for (int k = 0; k < 32; k++) amax = Vector256.Max(amax, Vector256.Abs(Vector256.Load(x + (long)k * stride)));
                    Vector256<float> scale = amax / Vector256.Create(127f);
                    Vector256<float> inverse = Vector256.ConditionalSelect(Vector256.Equals(scale, Vector256<float>.Zero),
                        Vector256<float>.Zero, Vector256<float>.One / scale);
                    for (int k = 0; k < 32; k++)
                    {
                        Vector256<float> p = Vector256.Load(x + (long)k * stride) * inverse;
                        // MathF.Round(p, AwayFromZero): truncate, then step away from zero when |fraction| >= 0.5.
                        Vector256<float> whole = Vector256.Truncate(p);
                        Vector256<float> away = Vector256.GreaterThanOrEqual(Vector256.Abs(p - whole), Vector256.Create(0.5f))
                            & Vector256.CopySign(Vector256<float>.One, p);
                        Vector256.ConvertToInt32(whole + away).Store(q + k * 8);
                    }
                    for (int lane = 0; lane < 8; lane++)
                    {
                        byte* block = d + (long)(u + lane) * dstStride;
                        *(Half*)block = (Half)scale.GetElement(lane);
                        for (int k = 0; k < 32; k++) ((sbyte*)block)[2 + k] = (sbyte)q[k * 8 + lane];
                    }
                }
            }
            for (; u < columns; u++)
            {
                for (int k = 0; k < 32; k++) column[k] = v[(long)k * stride + firstColumn + u];
                Quantize(Tensors.GgmlType.Q8_0, column, dst.Slice(u * dstStride, 34));
            }
        }
    }
}
