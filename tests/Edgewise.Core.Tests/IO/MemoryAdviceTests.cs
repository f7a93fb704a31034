using System.Globalization;
using Edgewise.Core.IO;
using Edgewise.Core.Tests.Formats;
using Xunit;

namespace Edgewise.Core.Tests.IO;

public sealed unsafe class MemoryAdviceTests
{
    private const int Size = 64 << 20;

    [Fact]
    public void PopulateRead_maps_a_file_range_into_the_process_without_touching_it()
    {
        // MADV_POPULATE_READ is Linux 5.14+; elsewhere the call is only a read-ahead hint.
        if (!OperatingSystem.IsLinux() || Environment.OSVersion.Version < new Version(5, 14)) return;
        using var dir = new TempDirectory();
        string path = dir.File("weights.bin");
        var bytes = new byte[Size];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        byte last = bytes[^1];
        bytes = [];   // the test's own 64 MiB must not blur the resident-set difference below

        using MappedFile mapped = MappedFile.Open(path);
        long before = ResidentBytes();
        // An unaligned start is widened to its page, as tensors in a GGUF file start at any 32-byte offset.
        Assert.True(MemoryAdvice.PopulateRead(mapped.Pointer + 96, Size - 96));
        long after = ResidentBytes();
        // Mapped, not merely cached: the pages count in this process's resident set before anything reads them.
        Assert.True(after - before >= Size * 3L / 4, $"resident set grew by {(after - before) >> 20} MiB of {Size >> 20} MiB");
        Assert.Equal(last, mapped.Pointer[Size - 1]);
    }

    [Fact]
    public void PopulateRead_ignores_empty_ranges()
    {
        Assert.False(MemoryAdvice.PopulateRead(null, 4096));
        byte b = 0;
        Assert.False(MemoryAdvice.PopulateRead(&b, 0));
    }

    [Fact]
    public void HugePages_advises_only_whole_aligned_huge_pages_inside_the_range()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        string path = dir.File("weights.bin");
        File.WriteAllBytes(path, new byte[8 << 20]);
        using MappedFile mapped = MappedFile.Open(path);
        // Less than one aligned 2 MiB page inside: nothing to advise (rounding outward would touch the neighbours).
        long toNextHuge = (2L << 20) - ((long)mapped.Pointer & ((2L << 20) - 1));
        Assert.False(MemoryAdvice.HugePages(mapped.Pointer + toNextHuge + 32, (2L << 20) - 64));
        Assert.False(MemoryAdvice.HugePages(null, 4 << 20));
        // Six MiB hold at least one whole aligned 2 MiB page wherever the mapping starts.
        Assert.True(MemoryAdvice.HugePages(mapped.Pointer + 32, 6L << 20));
        Assert.Equal(0, mapped.Pointer[(6 << 20) + 1]);
    }

    [Fact]
    public void MapsLargeFolios_tells_a_file_written_in_small_pieces_from_one_the_kernel_maps_in_2_MiB_pages()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        var data = new byte[16 << 20];
        new Random(4).NextBytes(data);
        string small = dir.File("small.bin"), large = dir.File("large.bin");
        using (var stream = ChunkedWriteStream.Create(small))
        {
            stream.SmallPieces = true;
            stream.Write(data);
        }
        using (var stream = ChunkedWriteStream.Create(large)) stream.Write(data);

        using (MappedFile mapped = MappedFile.Open(small)) Assert.False(MemoryAdvice.MapsLargeFolios(mapped.Pointer, data.Length));
        // The oracle: whether the kernel itself maps the chunk-written file with 2 MiB entries (Linux 6.x, large folios).
        bool kernelMapsHuge;
        using (MappedFile mapped = MappedFile.Open(large))
        {
            for (long i = 0; i < data.Length; i += 4096) _ = mapped.Pointer[i];
            kernelMapsHuge = FilePmdMappedKb(large) > 0;
        }
        using (MappedFile mapped = MappedFile.Open(large))
        {
            Assert.Equal(kernelMapsHuge, MemoryAdvice.MapsLargeFolios(mapped.Pointer, data.Length));
            Assert.Equal(data[^1], mapped.Pointer[data.Length - 1]);   // probed pages were only unmapped, not lost
        }
    }

    private static long FilePmdMappedKb(string path)
    {
        long kb = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-')) inside = line.EndsWith(path, StringComparison.Ordinal);
            else if (inside && line.StartsWith("FilePmdMapped:", StringComparison.Ordinal)) kb += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return kb;
    }

    /// <summary>VmRSS of this process in bytes.</summary>
    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }
}
