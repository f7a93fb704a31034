using Edgewise.Models.Common;
using Xunit;

namespace Edgewise.Models.Tests;

public sealed class KvCacheTests
{
    // Layers: 0 sliding (own), 1 full (own), 2 sliding -> 0, 3 full -> 1.
    private static readonly KvLayerSpec[] Layout =
    [
        new(0, 64, 8), new(1, 128, 0), new(0, 64, 8), new(1, 128, 0),
    ];

    [Fact]
    public void Shared_layers_allocate_nothing_and_read_their_source()
    {
        var cache = new KvCache(Layout, contextLength: 1000, maxBatch: 4, KvCacheType.F32);
        Assert.True(cache.OwnsStorage(0));
        Assert.True(cache.OwnsStorage(1));
        Assert.False(cache.OwnsStorage(2));
        Assert.False(cache.OwnsStorage(3));
        Assert.Same(cache.Layer(0), cache.Layer(2));
        Assert.Same(cache.Layer(1), cache.Layer(3));
        // Sliding ring: window + batch - 1 = 11 slots, not 1000.
        Assert.Equal(11, cache.Layer(0).Capacity);
        Assert.True(cache.Layer(0).IsRing);
        Assert.Equal(1000, cache.Layer(1).Capacity);
        Assert.Equal((11L * 64 + 1000L * 128) * 2 * 4, cache.AllocatedBytes);
    }

    [Fact]
    public void F16_storage_halves_the_bytes_and_round_trips_values()
    {
        var cache = new KvCache(Layout, 100, 4, KvCacheType.F16);
        Assert.Equal((11L * 64 + 100L * 128) * 2 * 2, cache.AllocatedBytes);
        float[] k = [.. Enumerable.Range(0, 64).Select(i => i * 0.25f)];
        float[] v = [.. Enumerable.Range(0, 64).Select(i => -i * 0.5f)];
        cache.Layer(0).Write(13, k, v);
        int at = cache.Layer(0).Slot(13) * 64;
        Assert.Equal(2, cache.Layer(0).Slot(13));
        Assert.Equal(k[10], (float)cache.Layer(0).K16![at + 10]);
        Assert.Equal(v[63], (float)cache.Layer(0).V16![at + 63]);
    }

    [Fact]
    public void Rollback_beyond_what_the_ring_still_holds_is_refused()
    {
        var cache = new KvCache(Layout, 1000, 4, KvCacheType.F32);
        cache.Advance(40);
        // Ring keeps positions 29..39; a query at p needs p-7.. => p >= 36 works.
        Assert.True(cache.CanTruncate(36));
        Assert.False(cache.CanTruncate(35));
        Assert.True(cache.CanTruncate(0));   // position 0 needs nothing before it
        Assert.Throws<InvalidOperationException>(() => cache.Truncate(20));
        cache.Truncate(37);
        Assert.Equal(37, cache.Length);
    }
}
