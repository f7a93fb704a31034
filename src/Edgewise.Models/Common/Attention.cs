using System.Runtime.CompilerServices;
using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;

namespace Edgewise.Models.Common;

/// <summary>
/// Causal (optionally sliding-window) grouped-query attention of a chunk of query rows, each against its own
/// sequence's <see cref="KvLayer"/> at its own position (<see cref="SequenceRow"/>).
/// <para>
/// Split by keys (flash-decoding): a row's keys fall into segments (<see cref="SegmentLength"/>) counted from its first
/// key, and one work item takes one (row, KV head, segment), all the query heads of the group at once, so each key
/// and value row is read from memory once per group instead of once per head, and a single decode row still spreads
/// over every core. Within a segment the softmax streams over chunks of keys (running max and sum, rescaled once per
/// chunk; vectorized exponentials); a chunk's scores and value sums are register tiles of four heads
/// (<see cref="AttentionTiles"/>), which also prefetch the key and value rows.
/// A second pass merges each head's segments in order. Segments depend only on a row's position, never on the thread
/// count or on how many rows share the call, so a prompt row and the decode step at the same position agree bit for bit.
/// </para>
/// </summary>
public static class Attention
{
    /// <param name="q">Queries, [rows, heads·headDim] starting at row 0 of the array.</param>
    /// <param name="sequences">Query row r belongs to <c>sequences[row0 + r]</c>: its cache and absolute position.</param>
    /// <param name="layer">The layer whose (own or shared) cache storage each row reads.</param>
    /// <param name="window">Keys per query for sliding layers (the current one included), 0 for full attention.</param>
    /// <param name="scale">Multiplier of q·k (1.0 for Gemma 3n/4).</param>
    /// <param name="output">Result, [rows, heads·headDim] from row 0.</param>
    public static void Run(WorkerPool pool, float[] q, SequenceRow[] sequences, int row0, int rows, int layer, int window,
        int heads, int kvHeads, int headDim, float scale, float[] output)
    {
        if (rows <= 0) return;
        int segments = 1;
        for (int r = 0; r < rows; r++)
        {
            (int first, int position) = KeyRange(sequences[row0 + r], window);
            int keys = position - first + 1;
            segments = Math.Max(segments, (keys + SegmentLength(keys) - 1) / SegmentLength(keys));
        }
        // One (max, sum) pair and one unnormalized accumulator per (row, head, segment).
        long partials = (long)rows * heads * segments;
        float[] stats = Scratch(ref t_stats, 2 * partials);
        float[] acc = Scratch(ref t_acc, partials * headDim);
        var partial = new PartialJob
        {
            Q = q,
            Sequences = sequences,
            Row0 = row0,
            Layer = layer,
            Window = window,
            Heads = heads,
            KvHeads = kvHeads,
            Group = heads / kvHeads,
            HeadDim = headDim,
            Segments = segments,
            Scale = scale,
            Stats = stats,
            Acc = acc,
        };
        pool.Run(ref partial, rows * kvHeads * segments);
        var merge = new MergeJob { Segments = segments, HeadDim = headDim, Stats = stats, Acc = acc, Output = output };
        pool.Run(ref merge, rows * heads);
    }

    /// <summary>Keys [first, position] of a row: the whole prefix, or the last <paramref name="window"/> of it.</summary>
    private static (int First, int Position) KeyRange(SequenceRow sequence, int window)
    {
        int position = sequence.Position;
        return (window > 0 ? Math.Max(0, position - window + 1) : 0, position);
    }

    /// <summary>One (row, KV head, segment): every query head of the group over the segment's keys.</summary>
    private struct PartialJob : IParallelJob
    {
        public float[] Q;
        public SequenceRow[] Sequences;
        public int Row0;
        public int Layer;
        public int Window;
        public int Heads;
        public int KvHeads;
        public int Group;
        public int HeadDim;
        public int Segments;
        public float Scale;
        public float[] Stats;   // [rows, heads, segments, 2]: running max, sum
        public float[] Acc;     // [rows, heads, segments, headDim]

        public readonly void Execute(int item)
        {
            int segment = item % Segments, kvHead = item / Segments % KvHeads, row = item / (Segments * KvHeads), d = HeadDim;
            SequenceRow sequence = Sequences[Row0 + row];
            (int first, int position) = KeyRange(sequence, Window);
            int length = SegmentLength(position - first + 1);
            int start = first + segment * length, end = Math.Min(position, start + length - 1);
            int head0 = kvHead * Group;
            int p0 = (row * Heads + head0) * Segments + segment;   // partial of the group's first head; heads are Segments apart
            if (start > end)
            {
                // A shorter row than the call's longest: its later segments are empty (weight zero in the merge).
                for (int g = 0; g < Group; g++)
                {
                    Stats[2 * (p0 + g * Segments)] = float.NegativeInfinity;
                    Stats[2 * (p0 + g * Segments) + 1] = 0f;
                }
                return;
            }
            KvLayer kv = sequence.Cache.Layer(Layer);
            ReadOnlySpan<float> q = Q.AsSpan((row * Heads + head0) * d, Group * d);   // [group, d]
            Chunked(q, kv, kvHead * d, start, end, p0);
        }

        /// <summary>
        /// Keys [start, end] in chunks, each key and value row read once for the whole group. A half cache's chunk is
        /// first widened into this thread's float rows (exactly), then takes the same tiles: half the bytes from
        /// memory, and the same results as a float cache holding the widened values.
        /// </summary>
        // No zeroing of the stack buffers (a variable-size stackalloc is cleared by a memset call): each is written
        // before it is read.
        [SkipLocalsInit]
        private readonly void Chunked(ReadOnlySpan<float> q, KvLayer kv, int kvOffset, int start, int end, int p0)
        {
            int d = HeadDim, group = Group;
            // A half cache: the chunk's rows, widened, sit at rows 0, d, 2d, ... of this thread's buffers.
            bool half = kv.K32 is null;
            float[] keys = half ? Scratch(ref t_widenedKeys, ChunkKeys * d) : kv.K32!;
            float[] values = half ? Scratch(ref t_widenedValues, ChunkKeys * d) : kv.V32!;
            Span<int> widenedRows = stackalloc int[half ? ChunkKeys : 0];
            for (int c = 0; c < widenedRows.Length; c++) widenedRows[c] = c * d;
            Span<float> scores = stackalloc float[ChunkKeys * group];   // [group, ChunkKeys]
            // The chunk's keys, then the next few, whose key rows the scores prefetch.
            Span<int> offsets = stackalloc int[ChunkKeys + AttentionTiles.PrefetchAhead];
            Span<float> max = stackalloc float[group];
            Span<float> sum = stackalloc float[group];
            max.Fill(float.NegativeInfinity);
            sum.Clear();
            // The group's accumulators, heads Segments · d apart; the first chunk's value sums overwrite them.
            Span<float> acc = Acc.AsSpan(p0 * d, ((group - 1) * Segments + 1) * d);
            for (int j0 = start; j0 <= end; j0 += ChunkKeys)
            {
                int count = Math.Min(ChunkKeys, end - j0 + 1);
                int known = Math.Min(ChunkKeys + AttentionTiles.PrefetchAhead, end - j0 + 1);
                for (int c = 0; c < known; c++) offsets[c] = kv.Slot(j0 + c) * kv.Width + kvOffset;
                Span<int> rows = offsets;
                if (half)
                {
                    AttentionTiles.WidenRows(kv.K16, offsets[..known], count, d, keys);
                    AttentionTiles.WidenRows(kv.V16, offsets[..known], count, d, values);
                    rows = widenedRows;
                    known = count;
                }
                AttentionTiles.Scores(keys, rows[..known], count, q, group, d, Scale, scores, ChunkKeys, half ? default(ReadOnlySpan<float>) : values);
                for (int g = 0; g < group; g++)
                {
                    Span<float> s = scores.Slice(g * ChunkKeys, count);
                    float chunkMax = Ops.Max(s);
                    if (chunkMax > max[g])
                    {
                        // Rescale what was accumulated under the old maximum (nothing yet on the first chunk).
                        if (max[g] > float.NegativeInfinity)
                        {
                            float correction = MathF.Exp(max[g] - chunkMax);
                            sum[g] *= correction;
                            Span<float> head = acc.Slice(g * Segments * d, d);
                            Ops.Scale(head, correction, head);
                        }
                        max[g] = chunkMax;
                    }
                    sum[g] += Ops.ExpShifted(s, max[g]);
                }
                AttentionTiles.AddWeightedRows(values, rows[..count], scores, ChunkKeys, group, d, acc, Segments * d, accumulate: j0 > start);
            }
            for (int g = 0; g < group; g++)
            {
                Stats[2 * (p0 + g * Segments)] = max[g];
                Stats[2 * (p0 + g * Segments) + 1] = sum[g];
            }
        }
    }

    /// <summary>One (row, head): its segments merged in order under their common maximum, then normalized.</summary>
    private struct MergeJob : IParallelJob
    {
        public int Segments;
        public int HeadDim;
        public float[] Stats;
        public float[] Acc;
        public float[] Output;   // [rows, heads·headDim]

        public readonly void Execute(int item)
        {
            int d = HeadDim, p0 = item * Segments;
            Span<float> o = Output.AsSpan(item * d, d);
            float max = float.NegativeInfinity;
            for (int s = 0; s < Segments; s++) max = MathF.Max(max, Stats[2 * (p0 + s)]);
            // The first segment always holds the row's first key, so max is finite and the sum positive.
            float sum = 0f;
            for (int s = 0; s < Segments; s++)
            {
                float m = Stats[2 * (p0 + s)];
                if (m == float.NegativeInfinity) continue;   // an empty segment
                float weight = m == max ? 1f : MathF.Exp(m - max);
                sum += weight * Stats[2 * (p0 + s) + 1];
                ReadOnlySpan<float> acc = Acc.AsSpan((p0 + s) * d, d);
                if (s == 0) Ops.Scale(acc, weight, o);
                else Ops.AddScaled(acc, weight, o);
            }
            Ops.Scale(o, 1f / sum, o);
        }
    }

    /// <summary>One of the calling thread's partial buffers, grown on demand and kept: decode steps allocate nothing.</summary>
    private static float[] Scratch(ref float[]? buffer, long length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[checked((int)length)];
        return buffer;
    }

    [ThreadStatic] private static float[]? t_widenedKeys;
    [ThreadStatic] private static float[]? t_widenedValues;
    [ThreadStatic] private static float[]? t_stats;
    [ThreadStatic] private static float[]? t_acc;

    // Keys per chunk: 64 scores per head and offsets on the stack, and enough rows per value pass to amortize the
    // accumulator's loads and stores.
    private const int ChunkKeys = 64;

    /// <summary>
    /// Keys per work item, about: two chunks. A 512-key sliding window is four items per KV head, enough to keep two
    /// cores busy on a single decode row of a one-KV-head model; the merge costs one head-sized pass per segment.
    /// </summary>
    private const int SegmentKeys = 2 * ChunkKeys;

    /// <summary>Segment lengths are whole runs of this many keys, so every score tile of four keys is full but a row's last.</summary>
    private const int SegmentAlign = 16;

    /// <summary>
    /// Segments per row, at most: longer rows get longer segments, so the partials (rows × heads × segments × head
    /// dim floats; 8 MiB for a 64-row chunk of Gemma 4's 512-wide full layers) do not grow with the context.
    /// </summary>
    private const int MaxSegments = 8;

    /// <summary>
    /// Keys per segment for a row of <paramref name="keys"/> keys: about <see cref="SegmentKeys"/>, in an even number of
    /// segments (at most <see cref="MaxSegments"/>) of equal length up to <see cref="SegmentAlign"/>. Even, because a
    /// single decode row's items are its segments: 640 keys went out as five segments of 128, three on one core and two
    /// on the other, and now go as six of 112. A function of the row alone, like the segments themselves.
    /// </summary>
    private static int SegmentLength(int keys)
    {
        int segments = (keys + SegmentKeys - 1) / SegmentKeys;
        if (segments > 1) segments += segments & 1;
        segments = Math.Min(segments, MaxSegments);
        int length = (keys + segments - 1) / segments;
        return (length + SegmentAlign - 1) / SegmentAlign * SegmentAlign;
    }
}
