using Edgewise.Models.Common;
using Xunit;

namespace Edgewise.Models.Tests;

/// <summary>When the loader reads a repack cache again to get it into 2 MiB page-cache folios.</summary>
public sealed class RepackRereadTests
{
    private const long MiB = 1L << 20;

    [Theory]
    // The run that found 848 of Gemma 4's 1243 MiB in 2 MiB pages, with plenty of free blocks: read again.
    [InlineData(1242, 848, 4000, true)]
    // Mostly mapped already (a cache read again gave 97%): never again.
    [InlineData(1242, 1206, 4000, false)]
    [InlineData(1242, 932, 4000, false)]
    // Nothing in 2 MiB pages: this kernel or filesystem may not cache files in large folios; a read would gain nothing.
    [InlineData(1242, 0, 4000, false)]
    // Too few free 2 MiB blocks for twice the missing part: the read would give small folios again.
    [InlineData(1242, 848, 300, false)]
    [InlineData(1242, 848, 394, true)]
    // A small cache (a test model's): not worth a read.
    [InlineData(32, 2, 4000, false)]
    public void Decides_by_coverage_free_blocks_and_size(long wholeMiB, long mappedMiB, long freeBlocks, bool reread)
        => Assert.Equal(reread, GgufTensorSource.ShouldReread(wholeMiB * MiB, mappedMiB * MiB, freeBlocks));
}
