using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Edgewise.Core.Quantization;

/// <summary>
/// IEEE half and bfloat16 conversions for kernels. <c>(float)Half</c> is a software routine in .NET 10
/// (no F16C intrinsic is exposed), so the widening here uses the exponent-rebias trick, exact for every value.
/// </summary>
public static class Fp16
{
    // 2^112: moves a half exponent (bias 15) shifted into float position onto the float bias (127).
    internal const float RebiasMultiplier = 5.192297e33f;

    /// <summary>Widens fp16 bits to float, exactly (subnormals, infinities and NaN included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits)
    {
        uint sign = (uint)(bits & 0x8000) << 16;
        uint magnitude = (uint)(bits & 0x7FFF) << 13;
        if (magnitude >= 0x7C00u << 13)
        {
            return BitConverter.UInt32BitsToSingle(sign | 0x7F800000u | magnitude);
        }
        return BitConverter.UInt32BitsToSingle(sign | BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(magnitude) * RebiasMultiplier));
    }

    /// <summary>
    /// Widens <paramref name="source"/> into <paramref name="destination"/>, exactly and bit for bit as
    /// <see cref="ToFloat(ushort)"/> (subnormals, infinities and NaN payloads included), sixteen or eight values a
    /// vector: sign-extended and shifted by 13, masked, rebiased by 2^112, and the all-ones exponent restored where
    /// the half had one. Six vector operations for sixteen halves: a half KV cache is read through this.
    /// </summary>
    public static unsafe void ToFloat(ReadOnlySpan<Half> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"{source.Length} halves need {source.Length} floats; the destination holds {destination.Length}.", nameof(destination));
        }
        fixed (Half* s = source)
        fixed (float* d = destination)
        {
            int i = 0, n = source.Length;
            if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16) Widen(Avx512F.ConvertToVector512Int32(Vector256.Load((short*)s + i))).Store(d + i);
            }
            else if (Avx2.IsSupported)
            {
                for (; i + 8 <= n; i += 8) Widen(Avx2.ConvertToVector256Int32(Vector128.Load((short*)s + i))).Store(d + i);
            }
            for (; i < n; i++) d[i] = ToFloat(((ushort*)s)[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(Vector512<int> signExtended)
    {
        Vector512<float> finite = ((signExtended << 13) & Vector512.Create(ScaleMask)).AsSingle() * Vector512.Create(RebiasMultiplier);
        Vector512<int> exponent = signExtended & Vector512.Create(0x7C00);
        Vector512<int> special = Vector512.Equals(exponent, Vector512.Create(0x7C00)) & Vector512.Create(0x7F800000);
        return (finite.AsInt32() | special).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen(Vector256<int> signExtended)
    {
        Vector256<float> finite = ((signExtended << 13) & Vector256.Create(ScaleMask)).AsSingle() * Vector256.Create(RebiasMultiplier);
        Vector256<int> exponent = signExtended & Vector256.Create(0x7C00);
        Vector256<int> special = Vector256.Equals(exponent, Vector256.Create(0x7C00)) & Vector256.Create(0x7F800000);
        return (finite.AsInt32() | special).AsSingle();
    }

    /// <summary>
    /// Widens the fp16 scale of a quant block: exact for every finite half (subnormals included); the bit
    /// patterns of ±Inf/NaN, which only a broken file puts in a block scale, read as the finite ±2^16·(1 + m/1024).
    /// Branch-free and four vector ops wide (<see cref="Kernels.RowDot.WidenHalfScales"/>), so the SIMD kernels and
    /// their scalar twins share this one definition.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScaleToFloat(ushort bits)
    {
        // Sign-extended and shifted by 13, the half's sign lands in bit 31 and its copies in bits 28-30, which
        // the mask clears; exponent and mantissa sit in float position with bias 15, so 2^112 rebiases exactly.
        int shifted = ((short)bits << 13) & ScaleMask;
        return BitConverter.Int32BitsToSingle(shifted) * RebiasMultiplier;
    }

    /// <summary>Keeps the sign (bit 31) and the 5+10 exponent and mantissa bits of a half shifted left by 13.</summary>
    internal const int ScaleMask = unchecked((int)0x8FFFFFFF);

    /// <summary>Rounds float to the nearest fp16 (ties to even), like ggml's <c>GGML_FP32_TO_FP16</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>The float that <paramref name="value"/> becomes after a round trip through fp16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float value) => ToFloat(FromFloat(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Float to bfloat16 with round-to-nearest-even, NaN kept quiet (same as ggml <c>ggml_compute_fp32_to_bf16</c>).</summary>
    public static ushort FloatToBF16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFFFFFF) > 0x7F800000)
        {
            return (ushort)((u >> 16) | 64);
        }
        return (ushort)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
    }
}
