using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

// x86 fast paths. Integer block dots use VPDPBUSD (AvxVnni, 256-bit) when present and the AVX2
// maddubs + madd pair otherwise; both need one unsigned operand, so signed weights go through the
// abs/sign trick and unsigned nibbles subtract their offset through the activation block sums.
internal static unsafe partial class RowDot
{
    /// <summary>True when <see cref="Fast"/> has SIMD code on this machine (else it is the scalar twin).</summary>
    public static bool HasFastPath => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Fast(GgmlType type, byte* w, in ActivationRow a, int columns)
    {
        if (!HasFastPath) return Scalar(type, w, a, columns);
        return type switch
        {
            GgmlType.F32 => FastF32((float*)w, a.Floats, columns),
            GgmlType.F16 => FastF16((ushort*)w, a.Floats, columns),
            GgmlType.BF16 => FastBF16((ushort*)w, a.Floats, columns),
            GgmlType.Q8_0 => FastQ8_0(w, 34, a, columns / 32),
            GgmlType.Q8_1 => FastQ8_0(w, 36, a, columns / 32),
            GgmlType.Q4_0 => FastQ4_0(w, a, columns / 32),
            GgmlType.Q4_K => FastQ4_K((BlockQ4_K*)w, a, columns / 256),
            GgmlType.Q6_K => FastQ6_K((BlockQ6_K*)w, a, columns / 256),
            _ => Scalar(type, w, a, columns),
        };
    }

    /// <summary>Sum over adjacent byte pairs then over short pairs: eight int32 partial dots of 32 u8 x s8 products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotU8S8(Vector256<byte> unsignedValues, Vector256<sbyte> signedValues)
    {
        if (AvxVnni.IsSupported)
        {
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, unsignedValues, signedValues);
        }
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(unsignedValues, signedValues);
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    private static float FastF32(float* w, float* x, int n)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), acc0);
            acc1 = Fma.MultiplyAdd(Avx.LoadVector256(w + i + 8), Avx.LoadVector256(x + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    /// <summary>Eight fp16 values widened exactly (the rebias trick of <see cref="Fp16.ToFloat"/>, lane-wise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> WidenHalf(Vector128<ushort> bits)
    {
        Vector256<int> v = Avx2.ConvertToVector256Int32(bits);
        Vector256<int> sign = Avx2.ShiftLeftLogical(v & Vector256.Create(0x8000), 16);
        Vector256<int> magnitude = Avx2.ShiftLeftLogical(v & Vector256.Create(0x7FFF), 13);
        Vector256<float> finite = magnitude.AsSingle() * Vector256.Create(Fp16.RebiasMultiplier);
        Vector256<int> infOrNan = magnitude | Vector256.Create(0x7F800000);
        Vector256<int> isSpecial = Avx2.CompareGreaterThan(magnitude, Vector256.Create(0x0F7FFFFF));
        return (Vector256.ConditionalSelect(isSpecial, infOrNan, finite.AsInt32()) | sign).AsSingle();
    }

    private static float FastF16(ushort* w, float* x, int n)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc = Fma.MultiplyAdd(WidenHalf(Sse2.LoadVector128(w + i)), Avx.LoadVector256(x + i), acc);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += Fp16.ToFloat(w[i]) * x[i];
        return sum;
    }

    private static float FastBF16(ushort* w, float* x, int n)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> wv = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128(w + i)), 16).AsSingle();
            acc = Fma.MultiplyAdd(wv, Avx.LoadVector256(x + i), acc);
        }
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += Fp16.BF16ToFloat(w[i]) * x[i];
        return sum;
    }

    private static float FastQ8_0(byte* w, int blockBytes, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        sbyte* xq = a.Qs;
        float* xd = a.Scales;
        for (int b = 0; b < blocks; b++, w += blockBytes, xq += 32)
        {
            Vector256<sbyte> wq = Avx.LoadVector256((sbyte*)(w + blockBytes - 32));
            Vector256<sbyte> x = Avx.LoadVector256(xq);
            // |w| * (x * sign(w)) == w * x with an unsigned left operand (|w| <= 128 fits a byte).
            Vector256<int> dot = DotU8S8(Avx2.Abs(wq), Avx2.Sign(x, wq));
            float scale = Half(*(ushort*)w) * xd[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
        }
        return Vector256.Sum(acc);
    }

    private static float FastQ4_0(byte* w, in ActivationRow a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<byte> lowMask = Vector128.Create((byte)0x0F);
        float offsetSum = 0;
        sbyte* xq = a.Qs;
        for (int b = 0; b < blocks; b++, w += 18, xq += 32)
        {
            Vector128<byte> raw = Sse2.LoadVector128(w + 2);
            Vector128<byte> low = raw & lowMask;
            Vector128<byte> high = Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & lowMask;
            // Nibbles are stored as q + 8; dot the unsigned q + 8 and subtract 8 * sum(x) per block afterwards.
            Vector256<int> dot = DotU8S8(Vector256.Create(low, high), Avx.LoadVector256(xq));
            float scale = Half(*(ushort*)w) * a.Scales[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
            offsetSum += scale * a.Sums[b];
        }
        return Vector256.Sum(acc) - 8 * offsetSum;
    }
}
