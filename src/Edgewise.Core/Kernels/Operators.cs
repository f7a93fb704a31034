using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Edgewise.Core.Kernels;

// Element-wise operators in the TensorPrimitives shape: one readonly struct per operation with a scalar Invoke
// (the twin) and Vector128/256/512 Invokes; ElementwiseDriver runs any of them over spans.

internal interface IUnaryOperator
{
    float Invoke(float x);
    Vector128<float> Invoke(Vector128<float> x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

internal interface IBinaryOperator
{
    float Invoke(float x, float y);
    Vector128<float> Invoke(Vector128<float> x, Vector128<float> y);
    Vector256<float> Invoke(Vector256<float> x, Vector256<float> y);
    Vector512<float> Invoke(Vector512<float> x, Vector512<float> y);
}

internal readonly struct AddOperator : IBinaryOperator
{
    public float Invoke(float x, float y) => x + y;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => x + y;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => x + y;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => x + y;
}

internal readonly struct MultiplyOperator : IBinaryOperator
{
    public float Invoke(float x, float y) => x * y;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => x * y;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => x * y;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => x * y;
}

/// <summary>factor * x + y (y is the accumulator: attention's weighted sum of values, residual adds with a scale).</summary>
internal readonly struct AddScaledOperator(float factor) : IBinaryOperator
{
    public float Invoke(float x, float y) => MathF.FusedMultiplyAdd(factor, x, y);
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.FusedMultiplyAdd(Vector128.Create(factor), x, y);
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.FusedMultiplyAdd(Vector256.Create(factor), x, y);
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.FusedMultiplyAdd(Vector512.Create(factor), x, y);
}

internal readonly struct ScaleOperator(float factor) : IUnaryOperator
{
    public float Invoke(float x) => x * factor;
    public Vector128<float> Invoke(Vector128<float> x) => x * factor;
    public Vector256<float> Invoke(Vector256<float> x) => x * factor;
    public Vector512<float> Invoke(Vector512<float> x) => x * factor;
}

/// <summary>x * factor * w: the RMSNorm output once 1/rms is known.</summary>
internal readonly struct ScaledMultiplyOperator(float factor) : IBinaryOperator
{
    public float Invoke(float x, float w) => x * factor * w;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> w) => x * factor * w;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> w) => x * factor * w;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> w) => x * factor * w;
}

/// <summary>exp(x - max): the softmax numerator.</summary>
internal readonly struct ExpShiftedOperator(float max) : IUnaryOperator
{
    public float Invoke(float x) => MathF.Exp(x - max);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Exp(x - Vector128.Create(max));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Exp(x - Vector256.Create(max));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Exp(x - Vector512.Create(max));
}

/// <summary>
/// gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). The vector forms use the identical
/// x·sigmoid(2u) = x / (1 + exp(-2u)), which saturates cleanly at both ends.
/// </summary>
internal readonly struct GeluTanhOperator : IUnaryOperator
{
    internal const float Sqrt2OverPi = 0.7978845608028654f;
    internal const float Cubic = 0.044715f;

    public float Invoke(float x) => 0.5f * x * (1f + MathF.Tanh(Sqrt2OverPi * (x + Cubic * x * x * x)));

    public Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> twoU = x * (Vector128.Create(2 * Sqrt2OverPi) + Vector128.Create(2 * Sqrt2OverPi * Cubic) * x * x);
        return x / (Vector128<float>.One + Vector128.Exp(-twoU));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> twoU = x * (Vector256.Create(2 * Sqrt2OverPi) + Vector256.Create(2 * Sqrt2OverPi * Cubic) * x * x);
        return x / (Vector256<float>.One + Vector256.Exp(-twoU));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> twoU = x * (Vector512.Create(2 * Sqrt2OverPi) + Vector512.Create(2 * Sqrt2OverPi * Cubic) * x * x);
        return x / (Vector512<float>.One + Vector512.Exp(-twoU));
    }
}

/// <summary>gelu_tanh(gate) * up, the GeGLU of every Gemma MLP.</summary>
internal readonly struct GeGluOperator : IBinaryOperator
{
    public float Invoke(float gate, float up) => default(GeluTanhOperator).Invoke(gate) * up;
    public Vector128<float> Invoke(Vector128<float> gate, Vector128<float> up) => default(GeluTanhOperator).Invoke(gate) * up;
    public Vector256<float> Invoke(Vector256<float> gate, Vector256<float> up) => default(GeluTanhOperator).Invoke(gate) * up;
    public Vector512<float> Invoke(Vector512<float> gate, Vector512<float> up) => default(GeluTanhOperator).Invoke(gate) * up;
}

/// <summary>cap · tanh(x / cap); vector tanh as 1 - 2/(exp(2t) + 1), exact at the saturated ends.</summary>
internal readonly struct SoftcapOperator(float cap) : IUnaryOperator
{
    public float Invoke(float x) => cap * MathF.Tanh(x / cap);

    public Vector128<float> Invoke(Vector128<float> x)
        => Vector128.Create(cap) - Vector128.Create(2 * cap) / (Vector128.Exp(x * (2 / cap)) + Vector128<float>.One);

    public Vector256<float> Invoke(Vector256<float> x)
        => Vector256.Create(cap) - Vector256.Create(2 * cap) / (Vector256.Exp(x * (2 / cap)) + Vector256<float>.One);

    public Vector512<float> Invoke(Vector512<float> x)
        => Vector512.Create(cap) - Vector512.Create(2 * cap) / (Vector512.Exp(x * (2 / cap)) + Vector512<float>.One);
}

/// <summary>Runs an operator over spans: widest accelerated vectors first, then narrower ones, then scalars.</summary>
internal static class ElementwiseDriver
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unary<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> dst, bool fast) where TOp : struct, IUnaryOperator
    {
        if (dst.Length < x.Length) throw new ArgumentException($"Destination holds {dst.Length} values; the source has {x.Length}.", nameof(dst));
        ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
        int n = x.Length, i = 0;
        if (fast)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16) op.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= n; i += 8) op.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
            if (Vector128.IsHardwareAccelerated)
            {
                for (; i + 4 <= n; i += 4) op.Invoke(Vector128.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke(Unsafe.Add(ref xr, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Binary<TOp>(TOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst, bool fast) where TOp : struct, IBinaryOperator
    {
        if (y.Length < x.Length || dst.Length < x.Length)
        {
            throw new ArgumentException($"Operands hold {x.Length}, {y.Length} and {dst.Length} values; the second and the destination need at least the first's length.", nameof(dst));
        }
        ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        ref float dr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
        int n = x.Length, i = 0;
        if (fast)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16) op.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= n; i += 8) op.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
            if (Vector128.IsHardwareAccelerated)
            {
                for (; i + 4 <= n; i += 4) op.Invoke(Vector128.LoadUnsafe(ref xr, (nuint)i), Vector128.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }
}
