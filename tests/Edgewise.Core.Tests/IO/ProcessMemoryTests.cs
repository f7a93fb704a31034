using Edgewise.Core.IO;
using Edgewise.Core.Tests.Formats;
using Xunit;

namespace Edgewise.Core.Tests.IO;

/// <summary>The /proc readings the loader decides by: 2 MiB-mapped bytes of an address range, free 2 MiB blocks.</summary>
public sealed unsafe class ProcessMemoryTests
{
    private static readonly string[] Smaps =
    [
        "55952ff98000-55952ff9a000 r--p 00000000 fe:00 247629                     /usr/bin/head",
        "Size:                  8 kB",
        "FilePmdMapped:         0 kB",
        "7f0000000000-7f0000400000 r--s 00000000 fe:00 1234                       /cache.q4x16",
        "Size:               4096 kB",
        "AnonHugePages:      2048 kB",
        "FilePmdMapped:      2048 kB",
        "VmFlags: rd sh mr mw me ms hg",
        "7f0000400000-7f0000800000 r--s 00400000 fe:00 1234                       /cache.q4x16",
        "Size:               4096 kB",
        "FilePmdMapped:      4096 kB",
        "7f0000800000-7f0000a00000 rw-p 00000000 00:00 0",
        "FilePmdMapped:      2048 kB",
    ];

    [Theory]
    // Both halves of the cache (split where madvise changed the flags), one alone, a range touching neither, and one
    // that starts inside the first half and ends exactly where the anonymous mapping begins.
    [InlineData(0x7f0000000000UL, 0x7f0000800000UL, 6L << 20)]
    [InlineData(0x7f0000400000UL, 0x7f0000800000UL, 4L << 20)]
    [InlineData(0x7f0000a00000UL, 0x7f0000c00000UL, 0L)]
    [InlineData(0x7f00003ff000UL, 0x7f0000800000UL, 6L << 20)]
    public void Pmd_mapped_bytes_count_the_mappings_a_range_overlaps(ulong start, ulong end, long expected)
        => Assert.Equal(expected, ProcessMemory.PmdMappedBytes(Smaps, start, end));

    [Fact]
    public void Free_2_MiB_blocks_count_order_9_once_and_order_10_twice()
    {
        string[] buddyInfo =
        [
            "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 ",
            "Node 0, zone    DMA32      1      2      4      2      5      4      3      3      4      4    750 ",
            "Node 0, zone   Normal  19078  16275   9578   4219   1637    949    624    725    611     46   2522 ",
        ];
        Assert.Equal((1 + 4 + 46) + 2L * (3 + 750 + 2522), ProcessMemory.FreeHugePageBlocks(buddyInfo));
    }

    [Fact]
    public void This_process_reports_its_own_mappings()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        string path = dir.File("pages.bin");
        File.WriteAllBytes(path, new byte[8 << 20]);
        using MappedFile mapped = MappedFile.Open(path);
        long? bytes = ProcessMemory.PmdMappedBytes((nint)mapped.Pointer, mapped.Length);
        Assert.NotNull(bytes);
        Assert.InRange(bytes.Value, 0, mapped.Length);   // whatever the page cache holds, never more than the mapping
        Assert.NotNull(ProcessMemory.FreeHugePageBlocks());
    }
}
