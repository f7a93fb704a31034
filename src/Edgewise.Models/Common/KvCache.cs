namespace Edgewise.Models.Common;

/// <summary>Element type of the KV cache.</summary>
public enum KvCacheType
{
    F32,
    F16,
}

/// <summary>How one layer uses the KV cache; the architecture fills one per layer.</summary>
/// <param name="SourceLayer">The layer whose cache this layer reads: itself when it owns one.</param>
/// <param name="Width">Floats per position for K (and V): KV heads × head dim.</param>
/// <param name="Window">Sliding window (keys per query, the current one included), or 0 for full attention.</param>
public readonly record struct KvLayerSpec(int SourceLayer, int Width, int Window);

/// <summary>
/// The key/value cache of one sequence, architecture-neutral. Layers that read another layer's cache
/// (Gemma 3n / Gemma 4 KV sharing) allocate nothing. Sliding-window layers keep a ring of
/// <c>window + maxBatch − 1</c> positions (every key a chunk of up to <c>maxBatch</c> queries can see), so their
/// memory is O(window), not O(context).
/// </summary>
/// <remarks>
/// Rollback limit: a ring forgets positions older than its capacity. <see cref="Truncate"/> back to a position
/// whose window reaches keys the ring has already overwritten is impossible; <see cref="CanTruncate"/> says so
/// beforehand, and the caller must then re-run the prompt from scratch (or from a longer-lived snapshot).
/// </remarks>
public sealed class KvCache
{
    private readonly KvLayer?[] _layers;
    private readonly int[] _source;

    public KvCache(ReadOnlySpan<KvLayerSpec> layers, int contextLength, int maxBatch, KvCacheType type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ContextLength = contextLength;
        Type = type;
        _layers = new KvLayer?[layers.Length];
        _source = new int[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            KvLayerSpec spec = layers[i];
            _source[i] = spec.SourceLayer;
            if (spec.SourceLayer != i)
            {
                if ((uint)spec.SourceLayer >= (uint)i)
                {
                    throw new ArgumentException($"Layer {i} reads the cache of layer {spec.SourceLayer}; only earlier layers can own it.", nameof(layers));
                }
                continue;
            }
            bool ring = spec.Window > 0 && (long)spec.Window + maxBatch - 1 < contextLength;
            int capacity = ring ? spec.Window + maxBatch - 1 : contextLength;
            _layers[i] = new KvLayer(spec.Width, capacity, ring, spec.Window, type);
        }
    }

    public int ContextLength { get; }
    public KvCacheType Type { get; }

    /// <summary>Positions written so far (the next one to write).</summary>
    public int Length { get; private set; }

    /// <summary>True when <paramref name="layer"/> allocates its own storage.</summary>
    public bool OwnsStorage(int layer) => _layers[layer] is not null;

    /// <summary>The storage <paramref name="layer"/> reads (its own, or its source layer's).</summary>
    public KvLayer Layer(int layer) => _layers[_source[layer]]!;

    /// <summary>Bytes held by every layer's K and V.</summary>
    public long AllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (KvLayer? l in _layers) total += l?.AllocatedBytes ?? 0;
            return total;
        }
    }

    /// <summary>Records that positions up to <paramref name="length"/> − 1 are now written.</summary>
    public void Advance(int length)
    {
        if (length > ContextLength)
        {
            throw new InvalidOperationException($"The KV cache holds {ContextLength} positions; {length} were asked for.");
        }
        Length = Math.Max(Length, length);
    }

    /// <summary>
    /// True when the cache can roll back to <paramref name="position"/> and still serve the next query there:
    /// every ring must still hold the keys that query's window reaches.
    /// </summary>
    public bool CanTruncate(int position)
    {
        if (position < 0 || position > Length) return false;
        if (position == 0) return true;   // an empty cache needs no old keys
        foreach (KvLayer? l in _layers)
        {
            if (l is null || !l.IsRing) continue;
            // The ring holds positions [Length - Capacity, Length); a query at `position` reaches back to
            // position - Window + 1, which must not have been overwritten yet.
            if (Math.Max(0, position - l.Window + 1) < Length - l.Capacity) return false;
        }
        return true;
    }

    /// <summary>Forgets every position at or after <paramref name="position"/>.</summary>
    /// <exception cref="InvalidOperationException">A sliding ring has already overwritten keys the next query needs; re-prefill instead.</exception>
    public void Truncate(int position)
    {
        if (!CanTruncate(position))
        {
            throw new InvalidOperationException(
                $"Cannot roll the KV cache back from {Length} to {position}: a sliding-window ring no longer holds the keys " +
                "position needs. Re-run the prompt from the start instead.");
        }
        Length = position;
    }
}

/// <summary>K and V storage of one KV-owning layer: <see cref="Capacity"/> slots of <see cref="Width"/> values.</summary>
public sealed class KvLayer
{
    internal KvLayer(int width, int capacity, bool ring, int window, KvCacheType type)
    {
        Window = window;
        Width = width;
        Capacity = capacity;
        IsRing = ring;
        long n = (long)width * capacity;
        if (type == KvCacheType.F32)
        {
            K32 = new float[n];
            V32 = new float[n];
        }
        else
        {
            K16 = new Half[n];
            V16 = new Half[n];
        }
    }

    public int Width { get; }
    public int Capacity { get; }
    public bool IsRing { get; }

    /// <summary>Sliding window this layer was sized for (0 = full attention).</summary>
    public int Window { get; }

    public float[]? K32 { get; }
    public float[]? V32 { get; }
    public Half[]? K16 { get; }
    public Half[]? V16 { get; }

    public long AllocatedBytes => (K32?.LongLength ?? 0) * 8 + (K16?.LongLength ?? 0) * 4;

    /// <summary>Slot of a position: itself, or modulo the ring size.</summary>
    public int Slot(int position) => IsRing ? position % Capacity : position;

    /// <summary>Stores one position's K and V (each <see cref="Width"/> floats).</summary>
    public void Write(int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int offset = Slot(position) * Width;
        if (K32 is not null)
        {
            k[..Width].CopyTo(K32.AsSpan(offset, Width));
            v[..Width].CopyTo(V32.AsSpan(offset, Width));
        }
        else
        {
            Span<Half> kd = K16.AsSpan(offset, Width);
            Span<Half> vd = V16.AsSpan(offset, Width);
            for (int i = 0; i < Width; i++)
            {
                kd[i] = (Half)k[i];
                vd[i] = (Half)v[i];
            }
        }
    }
}
