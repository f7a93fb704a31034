using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Software prefetch for rows the hardware prefetchers do not foresee: scattered rows (a sparse layer's survivors) and
/// rows on 4 KiB pages they do not cross (the KV cache). Advisory only; no effect on results, nothing where SSE is absent.
/// </summary>
internal static unsafe class Prefetch
{
    /// <summary>Every cache line that [<paramref name="start"/>, +<paramref name="bytes"/>) touches, into L2 (<c>prefetcht1</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ToL2(byte* start, long bytes)
    {
        if (!Sse.IsSupported) return;
        for (byte* line = (byte*)((nint)start & ~(nint)63), end = start + bytes; line < end; line += 64) Sse.Prefetch1(line);
    }
}
