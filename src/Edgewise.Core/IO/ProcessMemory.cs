using System.Globalization;

namespace Edgewise.Core.IO;

/// <summary>This process's memory as Linux reports it in /proc (null elsewhere): what benchmarks print beside speeds.</summary>
public static class ProcessMemory
{
    /// <summary>Peak resident set (VmHWM: anonymous and file-backed pages) in bytes.</summary>
    public static long? PeakResidentBytes()
    {
        const string Status = "/proc/self/status";
        if (!File.Exists(Status)) return null;
        foreach (string line in File.ReadLines(Status))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) return Kilobytes(line) * 1024;
        }
        return null;
    }

    /// <summary>
    /// Resident bytes in 2 MiB pages now: huge-page-mapped file pages (mapped weights, a repack cache) plus anonymous
    /// huge pages (weights copied by <c>--weights hugepages</c>), from /proc/self/smaps_rollup.
    /// </summary>
    public static long? HugePageResidentBytes()
    {
        const string Rollup = "/proc/self/smaps_rollup";
        if (!File.Exists(Rollup)) return null;
        long kb = 0;
        foreach (string line in File.ReadLines(Rollup))
        {
            if (line.StartsWith("AnonHugePages:", StringComparison.Ordinal) || line.StartsWith("FilePmdMapped:", StringComparison.Ordinal)
                || line.StartsWith("ShmemPmdMapped:", StringComparison.Ordinal))
            {
                kb += Kilobytes(line);
            }
        }
        return kb * 1024;
    }

    /// <summary>
    /// Bytes of this process's mappings overlapping [<paramref name="start"/>, +<paramref name="length"/>) that are
    /// mapped through 2 MiB page-table entries (FilePmdMapped in /proc/self/smaps): how much of a mapped file the TLB
    /// sees in huge pages. Null where smaps is unavailable.
    /// </summary>
    public static long? PmdMappedBytes(nint start, long length)
    {
        const string Smaps = "/proc/self/smaps";
        if (!File.Exists(Smaps)) return null;
        return PmdMappedBytes(File.ReadLines(Smaps), (ulong)start, (ulong)start + (ulong)length);
    }

    /// <summary>FilePmdMapped of the smaps entries whose address range overlaps [start, end).</summary>
    internal static long PmdMappedBytes(IEnumerable<string> smaps, ulong start, ulong end)
    {
        long kb = 0;
        bool overlaps = false;
        foreach (string line in smaps)
        {
            // A mapping's header starts with its lowercase hex range ("7f00c0000000-7f00c8000000 r--s 00000000 fd:01 1234
            // /path"); its fields follow, each "Name:   value" with a capitalized name.
            if (line.Length > 0 && char.IsAsciiHexDigitLower(line[0]))
            {
                int dash = line.IndexOf('-', StringComparison.Ordinal), space = line.IndexOf(' ', StringComparison.Ordinal);
                overlaps = dash > 0 && space > dash
                    && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong from)
                    && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong to)
                    && from < end && start < to;
                continue;
            }
            if (overlaps && line.StartsWith("FilePmdMapped:", StringComparison.Ordinal)) kb += Kilobytes(line);
        }
        return kb * 1024;
    }

    /// <summary>
    /// Free physical memory in whole 2 MiB blocks (/proc/buddyinfo: free blocks of order 9 and up, 4 KiB pages), which
    /// is what the page cache needs to read a file in 2 MiB folios; null where buddyinfo is unavailable.
    /// </summary>
    public static long? FreeHugePageBlocks()
    {
        const string BuddyInfo = "/proc/buddyinfo";
        if (!File.Exists(BuddyInfo)) return null;
        return FreeHugePageBlocks(File.ReadLines(BuddyInfo));
    }

    /// <summary>Σ over zones of free blocks of order k ≥ 9, each 2^(k - 9) blocks of 2 MiB.</summary>
    internal static long FreeHugePageBlocks(IEnumerable<string> buddyInfo)
    {
        const int HugeOrder = 9;
        long blocks = 0;
        foreach (string line in buddyInfo)
        {
            // "Node 0, zone   Normal   1046   527   128 ..." : free blocks of order 0, 1, 2, ...
            int zone = line.IndexOf("zone", StringComparison.Ordinal);
            if (zone < 0) continue;
            string[] fields = line[(zone + 4)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int order = HugeOrder; order + 1 < fields.Length; order++)
            {
                if (long.TryParse(fields[order + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long free)) blocks += free << (order - HugeOrder);
            }
        }
        return blocks;
    }

    /// <summary>The number in a "Name:   1234 kB" line.</summary>
    private static long Kilobytes(string line)
        => long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
}
