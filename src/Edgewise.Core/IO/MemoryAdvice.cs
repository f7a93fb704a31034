using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Edgewise.Core.IO;

/// <summary>
/// <c>madvise</c> on mapped memory. Advisory only: on other systems, or when the kernel refuses, nothing happens and
/// the pages still fault in on first touch.
/// </summary>
public static unsafe partial class MemoryAdvice
{
    private const int MadvWillNeed = 3;
    private const int MadvDontNeed = 4;
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
        return AdvisePages(start, length, MadvPopulateRead) == 0 || AdvisePages(start, length, MadvWillNeed) == 0;
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

    /// <summary>
    /// Whether the page cache holds [<paramref name="start"/>, +<paramref name="length"/>) of a file mapping in large
    /// folios, which Linux maps whole on the first touch of any of their pages. Probes a few 2 MiB-aligned points: reads
    /// one byte at each, then asks <c>/proc/self/pagemap</c> whether the page 128 KiB further on, beyond the fault-around
    /// window, came mapped with it. The probed pages are unmapped again (<c>MADV_DONTNEED</c>; the file keeps them).
    /// False where pagemap is unavailable.
    /// </summary>
    public static bool MapsLargeFolios(byte* start, long length)
    {
        const int Probes = 8;
        if (!OperatingSystem.IsLinux() || start == null || length < 2 * HugePageSize) return false;
        long first = ((long)start + HugePageSize - 1) & ~(HugePageSize - 1);
        long span = ((long)start + length - HugePageSize - first) & ~(HugePageSize - 1);
        if (span < 0) return false;
        try
        {
            using var pagemap = File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read);
            int large = 0;
            Span<byte> entry = stackalloc byte[8];
            for (int i = 0; i < Probes; i++)
            {
                byte* probe = (byte*)(first + span / Probes * i / HugePageSize * HugePageSize);
                byte* beyond = probe + (128 << 10);   // past the 64 KiB fault-around window: mapped only with a folio of 256 KiB or more
                _ = Volatile.Read(ref *probe);
                if (RandomAccess.Read(pagemap, entry, (long)beyond / PageSize * 8) == 8 && (BitConverter.ToUInt64(entry) >> 63) != 0) large++;
                _ = Madvise(probe, (nuint)HugePageSize, MadvDontNeed);
            }
            return large > 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Unmaps [<paramref name="start"/>, +<paramref name="length"/>) of a file mapping from this process (<c>MADV_DONTNEED</c>); the next touch maps the file's pages again.</summary>
    public static void Unmap(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || start == null || length <= 0) return;
        _ = AdvisePages(start, length, MadvDontNeed);
    }

    /// <summary>
    /// Unmaps [<paramref name="start"/>, +<paramref name="length"/>), a mapping of <paramref name="path"/> from byte
    /// <paramref name="fileOffset"/>, and drops those bytes from the page cache (pages other processes map stay): the
    /// next touch reads them from the file again, in whatever folios the page cache then allocates.
    /// </summary>
    public static void UnmapAndDrop(byte* start, long length, string path, long fileOffset)
    {
        if (length <= 0) return;
        Unmap(start, length);
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        FileAdvice.DontNeed(handle, fileOffset, length);
    }

    /// <summary>madvise over the pages that hold [<paramref name="start"/>, +<paramref name="length"/>).</summary>
    private static int AdvisePages(byte* start, long length, int advice)
    {
        // madvise wants a page-aligned start; widening to the page that holds `start` stays inside the mapping.
        long first = (long)start & ~(PageSize - 1);
        return Madvise((void*)first, (nuint)((long)start + length - first), advice);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
