using System.Runtime.CompilerServices;
using System.Text;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Counter-based random numbers for synthetic weights: value i of a tensor is a pure function of
/// (seed, tensor name, i), so a tensor never depends on generation order, chunking or thread count, and any
/// row range can be produced on its own (streaming and parallel writes).
/// </summary>
public static class SeededValues
{
    /// <summary>The per-tensor stream key: FNV-1a of the name, mixed with the model seed.</summary>
    public static ulong TensorKey(ulong seed, string tensorName)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(tensorName))
        {
            h = (h ^ b) * 1099511628211UL;
        }
        return Mix(h ^ Mix(seed + 0x9E3779B97F4A7C15UL));
    }

    /// <summary>Fills <paramref name="destination"/> with values i = first.. of U(center − amplitude, center + amplitude).</summary>
    public static void FillUniform(ulong key, long first, float center, float amplitude, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = center + amplitude * Signed(key, first + i);
        }
    }

    /// <summary>Uniform in [−1, 1) for counter <paramref name="index"/> of stream <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Signed(ulong key, long index)
    {
        ulong bits = Mix(key + (ulong)index * 0x9E3779B97F4A7C15UL);
        return (bits >> 40) * (2f / (1 << 24)) - 1f;
    }

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
