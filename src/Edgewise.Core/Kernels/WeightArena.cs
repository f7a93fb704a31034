namespace Edgewise.Core.Kernels;

/// <summary>
/// Huge-page memory for a model's resident weights, handed out in 64-byte-aligned pieces from 64 MiB chunks.
/// One 2 MiB-rounded allocation per tensor would waste up to a huge page per small matrix (an E2B layer's K, V
/// and PLE projections are ~0.2 MiB each); here the waste is one partly used chunk tail, which is never touched
/// and so never resident. Chunks live as long as any matrix placed in them. Not thread-safe: fill it at load.
/// </summary>
public sealed unsafe class WeightArena
{
    private const long ChunkBytes = 64L << 20;
    private const long Alignment = 64;
    private HugePageMemory? _chunk;
    private long _chunkSize, _used;

    /// <summary>Bytes handed out so far (what the arena's matrices hold).</summary>
    public long AllocatedBytes { get; private set; }

    internal byte* Allocate(long bytes, out HugePageMemory owner)
    {
        long aligned = (bytes + Alignment - 1) & ~(Alignment - 1);
        if (_chunk is null || _used + aligned > _chunkSize)
        {
            _chunkSize = Math.Max(ChunkBytes, aligned);
            _chunk = new HugePageMemory(_chunkSize);
            _used = 0;
        }
        byte* p = _chunk.Pointer + _used;
        _used += aligned;
        AllocatedBytes += bytes;
        owner = _chunk;
        return p;
    }
}
