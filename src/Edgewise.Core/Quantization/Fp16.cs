using System.Runtime.CompilerServices;

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
