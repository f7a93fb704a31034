using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;

namespace Edgewise.Models.Common;

/// <summary>
/// Causal (optionally sliding-window) grouped-query attention of a chunk of query rows, each against its own
/// sequence's <see cref="KvLayer"/> at its own position (<see cref="SequenceRow"/>), parallel over (row, head).
/// Softmax streams over the keys in chunks (running max and sum, rescaled once per chunk), so the only scratch is one
/// head and one chunk's scores on the stack; within a chunk the exponentials are vectorized and the value rows are
/// summed with the accumulator held in registers (<see cref="Ops.AddWeightedRows"/>).
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
        var job = new Job
        {
            Q = q,
            Output = output,
            Sequences = sequences,
            Row0 = row0,
            Layer = layer,
            Window = window,
            Heads = heads,
            Group = heads / kvHeads,
            HeadDim = headDim,
            Scale = scale,
        };
        pool.Run(ref job, rows * heads);
    }

    private struct Job : IParallelJob
    {
        public float[] Q;
        public float[] Output;
        public SequenceRow[] Sequences;
        public int Row0;
        public int Layer;
        public int Window;
        public int Heads;
        public int Group;
        public int HeadDim;
        public float Scale;

        public readonly void Execute(int item)
        {
            int row = item / Heads, head = item % Heads, d = HeadDim;
            int kvHead = head / Group;
            SequenceRow sequence = Sequences[Row0 + row];
            KvLayer kv = sequence.Cache.Layer(Layer);
            int position = sequence.Position;
            int first = Window > 0 ? Math.Max(0, position - Window + 1) : 0;
            int width = HeadDim * Heads;
            ReadOnlySpan<float> q = Q.AsSpan(row * width + head * d, d);
            Span<float> acc = stackalloc float[d];
            acc.Clear();
            int kvOffset = kvHead * d;
            // A cache holds both K and V in one type (KvCacheType).
            float sum = kv.K32 is { } k32
                ? Chunked(q, k32, kv.V32!, kv, kvOffset, first, position, acc)
                : Streaming(q, kv.K16!, kv.V16!, kv, kvOffset, first, position, acc);
            Span<float> o = Output.AsSpan(row * width + head * d, d);
            Ops.Scale(acc, 1f / sum, o);
        }

        /// <summary>Float caches: keys [first, position] in chunks; returns the softmax denominator, acc holds the unnormalized sum.</summary>
        private readonly float Chunked(ReadOnlySpan<float> q, float[] k32, float[] v32, KvLayer kv, int kvOffset, int first, int position, Span<float> acc)
        {
            int d = q.Length;
            Span<float> scores = stackalloc float[ChunkKeys];
            Span<int> offsets = stackalloc int[ChunkKeys];
            float max = float.NegativeInfinity, sum = 0f;
            for (int j0 = first; j0 <= position; j0 += ChunkKeys)
            {
                int count = Math.Min(ChunkKeys, position - j0 + 1);
                float chunkMax = float.NegativeInfinity;
                for (int c = 0; c < count; c++)
                {
                    int at = kv.Slot(j0 + c) * kv.Width + kvOffset;
                    float score = Ops.Dot(q, k32.AsSpan(at, d)) * Scale;
                    offsets[c] = at;
                    scores[c] = score;
                    chunkMax = MathF.Max(chunkMax, score);
                }
                if (chunkMax > max)
                {
                    // Rescale what was accumulated under the old maximum (nothing yet on the first chunk).
                    if (max > float.NegativeInfinity)
                    {
                        float correction = MathF.Exp(max - chunkMax);
                        sum *= correction;
                        Ops.Scale(acc, correction, acc);
                    }
                    max = chunkMax;
                }
                sum += Ops.ExpShifted(scores[..count], max);
                Ops.AddWeightedRows(v32, offsets[..count], scores[..count], acc);
            }
            return sum;
        }

        /// <summary>Half caches: one key at a time with a running max (the values are widened as they are read).</summary>
        private readonly float Streaming(ReadOnlySpan<float> q, Half[] k16, Half[] v16, KvLayer kv, int kvOffset, int first, int position, Span<float> acc)
        {
            int d = q.Length;
            float max = float.NegativeInfinity, sum = 0f;
            for (int j = first; j <= position; j++)
            {
                int at = kv.Slot(j) * kv.Width + kvOffset;
                ReadOnlySpan<Half> k = k16.AsSpan(at, d);
                float s = 0f;
                for (int i = 0; i < d; i++) s += q[i] * (float)k[i];
                s *= Scale;
                float weight;
                if (s > max)
                {
                    // Rescale what was accumulated under the old maximum.
                    float correction = MathF.Exp(max - s);
                    sum *= correction;
                    Ops.Scale(acc, correction, acc);
                    max = s;
                    weight = 1f;
                }
                else
                {
                    weight = MathF.Exp(s - max);
                }
                sum += weight;
                ReadOnlySpan<Half> v = v16.AsSpan(at, d);
                for (int i = 0; i < d; i++) acc[i] += weight * (float)v[i];
            }
            return sum;
        }
    }

    // Keys per chunk: 64 scores and offsets on the stack, and enough rows per value pass to amortize the
    // accumulator's loads and stores.
    private const int ChunkKeys = 64;
}
