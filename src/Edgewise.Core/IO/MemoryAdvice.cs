using System.Runtime.InteropServices;

namespace Edgewise.Core.IO;

/// <summary>
/// <c>madvise</c> on mapped memory. Advisory only: on other systems, or when the kernel refuses, nothing happens and
/// the pages still fault in on first touch.
/// </summary>
public static unsafe partial class MemoryAdvice
{
    private const int MadvWillNeed = 3;
    private const int MadvHugePage = 14;
    private const int MadvPopulateRead = 22;   // Linux 5.14+
    private const long PageSize = 4096;
    private const long HugePageSize = 2L << 20;

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

    /// <summary>
    /// Asks for 2 MiB pages over the whole 2 MiB-aligned pages inside [<paramref name="start"/>, +<paramref name="length"/>)
    /// (<c>MADV_HUGEPAGE</c>). On a file mapping this pays only for pages not yet in the page cache: since Linux 6.x,
    /// filesystems with large folios (ext4, xfs, btrfs) then read them in 2 MiB folios, which map with one TLB entry
    /// each, where the 4 KiB pages of a plain mapping cost decode ~5-10% in TLB misses. Pages already cached in small
    /// folios stay small until evicted. Returns false when no aligned page lies inside or the kernel refused.
    /// </summary>
    public static bool HugePages(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || start == null || length <= 0) return false;
        // Inward: rounding outward would advise the neighbours, e.g. a per-token table that must stay in small pages.
        long first = ((long)start + HugePageSize - 1) & ~(HugePageSize - 1);
        long end = ((long)start + length) & ~(HugePageSize - 1);
        return end > first && Madvise((void*)first, (nuint)(end - first), MadvHugePage) == 0;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
