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

    /// <summary>The number in a "Name:   1234 kB" line.</summary>
    private static long Kilobytes(string line)
        => long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
}
