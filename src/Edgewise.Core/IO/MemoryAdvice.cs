using System.Runtime.InteropServices;

namespace Edgewise.Core.IO;

/// <summary>
/// <c>madvise</c> on mapped memory. Advisory only: on other systems, or when the kernel refuses, nothing happens and
/// the pages still fault in on first touch.
/// </summary>
public static unsafe partial class MemoryAdvice
{
    private const int MadvWillNeed = 3;
    private const int MadvPopulateRead = 22;   // Linux 5.14+
    private const long PageSize = 4096;

    /// <summary>
    /// Maps every page of [<paramref name="start"/>, +<paramref name="length"/>) into this process now (reading the
    /// file where the page cache lacks it), so later touches take no page fault. On kernels without
    /// <c>MADV_POPULATE_READ</c>, starts read-ahead instead (<c>MADV_WILLNEED</c>). Returns false when neither applied.
    /// </summary>
    public static bool PopulateRead(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || start == null || length <= 0) return false;
        // madvise wants a page-aligned start; widening to the page that holds `start` stays inside the mapping.
        long first = (long)start & ~(PageSize - 1);
        nuint span = (nuint)((long)start + length - first);
        if (Madvise((void*)first, span, MadvPopulateRead) == 0) return true;
        return Madvise((void*)first, span, MadvWillNeed) == 0;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
