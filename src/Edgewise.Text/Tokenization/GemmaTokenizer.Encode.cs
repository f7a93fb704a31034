using System.Buffers;
using System.Text;

namespace Edgewise.Text.Tokenization;

public sealed partial class GemmaTokenizer
{
    // Chunks up to this many chars are cached (the reference caches words under 256 chars); the cache is
    // dropped wholesale when it grows past the limit, which keeps memory bounded without LRU bookkeeping.
    private const int MaxCachedChunkLength = 64;
    private const int MaxCacheEntries = 200_000;

    private int _cachedChunks;

    public int[] Encode(string text, bool addBos = false) => Encode(text.AsSpan(), addBos);

    public int[] Encode(ReadOnlySpan<char> text, bool addBos = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (addBos && BosId >= 0)
            ids.Add(BosId);
        EncodeTo(text, ids);
        return [.. ids];
    }

    /// <summary>Drops the cache of recently encoded chunks (benchmarks use it to time cold encoding).</summary>
    public void ClearCache()
    {
        _chunkCache.Clear();
        _cachedChunks = 0;
    }

    /// <summary>Appends the ids of <paramref name="text"/> (no BOS) to <paramref name="ids"/>.</summary>
    public void EncodeTo(ReadOnlySpan<char> text, List<int> ids)
    {
        int position = 0;
        while (position < text.Length)
        {
            if (!_atomic.FindNext(text, position, out int start, out int length, out int id))
            {
                EncodeSegment(text[position..], ids);
                return;
            }
            EncodeSegment(text[position..start], ids);
            ids.Add(id);
            position = start + length;
        }
    }

    private static bool IsSpace(char c) => c == ' ' || c == SpaceMark;

    /// <summary>
    /// Text between atomic tokens is one BPE word in the reference (its Split(" ") pre-tokenizer runs after
    /// spaces became ▁, so it never splits). Cutting before a ▁ run is still exact where no piece contains
    /// "X▁" for the preceding char X (no merge can cross the cut), and it makes chunks short and cacheable.
    /// </summary>
    private void EncodeSegment(ReadOnlySpan<char> segment, List<int> ids)
    {
        int chunkStart = 0;
        for (int i = 1; i < segment.Length; i++)
        {
            char c = segment[i], before = segment[i - 1];
            if (IsSpace(c) && !IsSpace(before) && !_glueBeforeSpace[before])
            {
                EncodeChunk(segment[chunkStart..i], ids);
                chunkStart = i;
            }
        }
        if (chunkStart < segment.Length)
            EncodeChunk(segment[chunkStart..], ids);
    }

    private void EncodeChunk(ReadOnlySpan<char> chunk, List<int> ids)
    {
        if (chunk.Length > MaxCachedChunkLength)
        {
            Merge(chunk, ids);
            return;
        }
        if (_chunkLookup.TryGetValue(chunk, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }
        int before = ids.Count;
        Merge(chunk, ids);
        // ConcurrentDictionary.Count takes every lock, so the size is tracked separately (approximately under races).
        if (_cachedChunks >= MaxCacheEntries)
            ClearCache();
        if (_chunkLookup.TryAdd(chunk, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids)[before..].ToArray()))
            Interlocked.Increment(ref _cachedChunks);
    }

    /// <summary>
    /// The merge loop over code-point symbols: a doubly linked list in arrays plus a min-heap of
    /// (rank, left position) keys with lazy invalidation. Lowest rank first, leftmost on ties, exactly the
    /// reference's order (its priority is rank + position / length).
    /// </summary>
    private void Merge(ReadOnlySpan<char> chunk, List<int> ids)
    {
        int n = chunk.Length;
        int[] rented = ArrayPool<int>.Shared.Rent(n * 4);
        long[] heapArray = ArrayPool<long>.Shared.Rent(n * 3 + 4);
        char[]? normalized = null;
        try
        {
            Span<int> symbolId = rented.AsSpan(0, n);       // piece id of the symbol starting here, -1 if none
            Span<int> symbolLength = rented.AsSpan(n, n);   // chars covered; 0 = merged away
            Span<int> next = rented.AsSpan(2 * n, n);
            Span<int> prev = rented.AsSpan(3 * n, n);
            var heap = new MinHeap(heapArray);

            int last = -1;
            for (int i = 0; i < n;)
            {
                char c = chunk[i];
                int length = char.IsHighSurrogate(c) && i + 1 < n && char.IsLowSurrogate(chunk[i + 1]) ? 2 : 1;
                int id = length == 1
                    ? (char.IsSurrogate(c) ? -1 : _charToId[c])
                    : (_pieceLookup.TryGetValue(chunk.Slice(i, 2), out int pairId) ? pairId : -1);
                symbolId[i] = id;
                symbolLength[i] = length;
                prev[i] = last;
                next[i] = -1;
                if (last >= 0)
                    next[last] = i;
                last = i;
                i += length;
            }

            ReadOnlySpan<char> text = chunk;
            if (MergeMode == TokenizerMergeMode.PieceScores)
            {
                // Score mode looks pieces up by text, so it needs the ▁-normalized chars.
                normalized = ArrayPool<char>.Shared.Rent(n);
                chunk.Replace(normalized, ' ', SpaceMark);
                text = normalized.AsSpan(0, n);
            }

            for (int i = 0; i >= 0; i = next[i])
            {
                if (next[i] >= 0)
                    PushCandidate(ref heap, text, symbolId, symbolLength, next, i);
            }

            while (heap.TryPop(out long key))
            {
                int left = (int)(key & 0xFFFFFFFF);
                int right = next[left];
                if (symbolLength[left] == 0 || right < 0)
                    continue;
                int rank = Candidate(text, symbolId, symbolLength, left, right, out int result);
                if (rank != (int)(key >> 32))
                    continue; // stale: the pair at this position changed since it was queued

                symbolId[left] = result;
                symbolLength[left] += symbolLength[right];
                symbolLength[right] = 0;
                int after = next[right];
                next[left] = after;
                if (after >= 0)
                    prev[after] = left;
                if (prev[left] >= 0)
                    PushCandidate(ref heap, text, symbolId, symbolLength, next, prev[left]);
                if (after >= 0)
                    PushCandidate(ref heap, text, symbolId, symbolLength, next, left);
            }

            for (int i = 0; i >= 0; i = next[i])
            {
                if (symbolId[i] >= 0)
                    ids.Add(symbolId[i]);
                else
                    AddByteFallback(chunk.Slice(i, symbolLength[i]), ids);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
            ArrayPool<long>.Shared.Return(heapArray);
            if (normalized is not null)
                ArrayPool<char>.Shared.Return(normalized);
        }
    }

    private void PushCandidate(ref MinHeap heap, ReadOnlySpan<char> text, Span<int> symbolId, Span<int> symbolLength, Span<int> next, int left)
    {
        int rank = Candidate(text, symbolId, symbolLength, left, next[left], out _);
        if (rank >= 0)
            heap.Push(((long)rank << 32) | (uint)left);
    }

    /// <summary>The priority of merging the symbols at <paramref name="left"/> and <paramref name="right"/>, or -1.</summary>
    private int Candidate(ReadOnlySpan<char> text, Span<int> symbolId, Span<int> symbolLength, int left, int right, out int result)
    {
        result = -1;
        if (_scoreRank is null)
        {
            int a = symbolId[left], b = symbolId[right];
            if (a < 0 || b < 0 || !_merges.TryGetValue(((long)a << 32) | (uint)b, out long packed))
                return -1;
            result = (int)(packed & 0xFFFFFFFF);
            return (int)(packed >> 32);
        }
        // llama.cpp llm_tokenizer_spm: any concatenation that is a piece, highest score first.
        if (!_pieceLookup.TryGetValue(text.Slice(left, symbolLength[left] + symbolLength[right]), out result))
        {
            result = -1;
            return -1;
        }
        return _scoreRank[result];
    }

    private void AddByteFallback(ReadOnlySpan<char> symbol, List<int> ids)
    {
        Span<byte> utf8 = stackalloc byte[8];
        // A lone surrogate has no UTF-8 form; like the reference's TextEncoder it becomes U+FFFD (EF BF BD).
        int written = Encoding.UTF8.GetBytes(symbol, utf8);
        for (int i = 0; i < written; i++)
        {
            int id = _byteToId[utf8[i]];
            ids.Add(id >= 0 ? id : UnknownId);
        }
    }

    /// <summary>Binary min-heap over packed (rank, position) keys in a caller-provided array.</summary>
    private struct MinHeap(long[] items)
    {
        private readonly long[] _items = items;
        private int _count;

        public void Push(long key)
        {
            int i = _count++;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (_items[parent] <= key)
                    break;
                _items[i] = _items[parent];
                i = parent;
            }
            _items[i] = key;
        }

        public bool TryPop(out long key)
        {
            if (_count == 0)
            {
                key = 0;
                return false;
            }
            key = _items[0];
            long moving = _items[--_count];
            int i = 0;
            while (true)
            {
                int child = 2 * i + 1;
                if (child >= _count)
                    break;
                if (child + 1 < _count && _items[child + 1] < _items[child])
                    child++;
                if (_items[child] >= moving)
                    break;
                _items[i] = _items[child];
                i = child;
            }
            _items[i] = moving;
            return true;
        }
    }
}
