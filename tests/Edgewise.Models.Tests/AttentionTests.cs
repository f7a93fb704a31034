using Edgewise.Core.Threading;
using Edgewise.Models.Common;
using Xunit;

namespace Edgewise.Models.Tests;

/// <summary>
/// <see cref="Attention"/> against a double-precision softmax over the same cache: grouped heads, sliding windows over
/// a ring, rows of one call at different lengths (many key segments beside one), float and half caches.
/// </summary>
public sealed class AttentionTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    private const int Heads = 8, KvHeads = 2, HeadDim = 64, Width = KvHeads * HeadDim;

    /// <summary>A cache of <paramref name="length"/> positions of seeded K and V, one layer with <paramref name="window"/>.</summary>
    private static KvCache Filled(int length, int window, KvCacheType type, int seed, int contextLength = 1024)
    {
        var cache = new KvCache([new KvLayerSpec(0, Width, window)], contextLength, maxBatch: 4, type);
        var random = new Random(seed);
        var k = new float[Width];
        var v = new float[Width];
        for (int p = 0; p < length; p++)
        {
            for (int i = 0; i < Width; i++)
            {
                k[i] = (float)(random.NextDouble() * 2 - 1);
                v[i] = (float)(random.NextDouble() * 2 - 1);
            }
            cache.Layer(0).Write(p, k, v);
        }
        return cache;
    }

    private static float[] Queries(int rows, int seed)
    {
        var random = new Random(seed);
        var q = new float[rows * Heads * HeadDim];
        for (int i = 0; i < q.Length; i++) q[i] = (float)(random.NextDouble() * 4 - 2);
        return q;
    }

    /// <summary>softmax(q·K / 1) V over the row's keys, in doubles, reading the cache's stored values.</summary>
    private static double[] Reference(float[] q, int row, SequenceRow sequence, int window)
    {
        KvLayer kv = sequence.Cache.Layer(0);
        int position = sequence.Position, first = window > 0 ? Math.Max(0, position - window + 1) : 0;
        var output = new double[Heads * HeadDim];
        for (int h = 0; h < Heads; h++)
        {
            int kvOffset = h / (Heads / KvHeads) * HeadDim;
            var scores = new double[position - first + 1];
            for (int j = first; j <= position; j++)
            {
                int at = kv.Slot(j) * Width + kvOffset;
                double s = 0;
                for (int i = 0; i < HeadDim; i++) s += (double)q[(row * Heads + h) * HeadDim + i] * Key(kv, at + i);
                scores[j - first] = s;
            }
            double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
            for (int j = first; j <= position; j++)
            {
                double weight = Math.Exp(scores[j - first] - max) / sum;
                int at = kv.Slot(j) * Width + kvOffset;
                for (int i = 0; i < HeadDim; i++) output[h * HeadDim + i] += weight * Value(kv, at + i);
            }
        }
        return output;
    }

    private static double Key(KvLayer kv, int at) => kv.K32 is { } k ? k[at] : (double)(float)kv.K16![at];
    private static double Value(KvLayer kv, int at) => kv.V32 is { } v ? v[at] : (double)(float)kv.V16![at];

    [Theory]
    // Positions from one key to several segments of keys (and past a full window, which wraps the ring).
    [InlineData(KvCacheType.F32, 0, new[] { 0, 1, 63, 64, 127, 128, 129, 300, 517 })]
    [InlineData(KvCacheType.F32, 300, new[] { 0, 1, 63, 64, 127, 128, 129, 300, 517 })]
    [InlineData(KvCacheType.F16, 0, new[] { 0, 1, 63, 64, 127, 128, 129, 300, 517 })]
    [InlineData(KvCacheType.F16, 300, new[] { 0, 1, 63, 64, 127, 128, 129, 300, 517 })]
    // Rows long enough for longer segments (at most eight per row), beside short ones in the same call.
    [InlineData(KvCacheType.F32, 0, new[] { 5, 1023, 1024, 1500, 2900 })]
    [InlineData(KvCacheType.F16, 0, new[] { 5, 1023, 1024, 1500, 2900 })]
    public void MatchesADoublePrecisionSoftmaxOverEveryKeySegment(KvCacheType type, int window, int[] positions)
    {
        KvCache cache = Filled(positions.Max() + 1, window, type, seed: 5, contextLength: 4096);
        var rows = new SequenceRow[positions.Length];
        for (int r = 0; r < rows.Length; r++) rows[r] = new SequenceRow(cache, positions[r]);
        float[] q = Queries(rows.Length, seed: 6);
        var output = new float[q.Length];
        Attention.Run(_pool, q, rows, 0, rows.Length, 0, window, Heads, KvHeads, HeadDim, 1f, output);
        for (int r = 0; r < rows.Length; r++)
        {
            double[] expected = Reference(q, r, rows[r], window);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - output[r * Heads * HeadDim + i]) < 2e-5,
                    $"row at position {positions[r]}, value {i}: {output[r * Heads * HeadDim + i]} vs {expected[i]}");
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    public void AHalfCacheGivesTheBitsOfAFloatCacheHoldingItsWidenedValues(int window)
    {
        int[] positions = [0, 63, 64, 130, 517, 900];
        KvCache half = Filled(positions.Max() + 1, window, KvCacheType.F16, seed: 11, contextLength: 1024);
        var widened = new KvCache([new KvLayerSpec(0, Width, window)], 1024, maxBatch: 4, KvCacheType.F32);
        var k = new float[Width];
        var v = new float[Width];
        KvLayer source = half.Layer(0);
        for (int p = 0; p <= positions.Max(); p++)
        {
            int at = source.Slot(p) * Width;
            for (int i = 0; i < Width; i++)
            {
                k[i] = (float)source.K16![at + i];
                v[i] = (float)source.V16![at + i];
            }
            widened.Layer(0).Write(p, k, v);
        }
        float[] q = Queries(positions.Length, seed: 12);
        var fromHalf = new float[q.Length];
        var fromFloat = new float[q.Length];
        Attention.Run(_pool, q, positions.Select(p => new SequenceRow(half, p)).ToArray(), 0, positions.Length, 0, window, Heads, KvHeads, HeadDim, 1f, fromHalf);
        Attention.Run(_pool, q, positions.Select(p => new SequenceRow(widened, p)).ToArray(), 0, positions.Length, 0, window, Heads, KvHeads, HeadDim, 1f, fromFloat);
        Assert.Equal(fromFloat, fromHalf);
    }

    [Fact]
    public void ARowGivesTheSameBitsAloneOrInABatchOnAnyThreadCount()
    {
        KvCache cache = Filled(400, 0, KvCacheType.F32, seed: 7);
        int[] positions = [399, 5, 200, 130];
        var rows = new SequenceRow[positions.Length];
        for (int r = 0; r < rows.Length; r++) rows[r] = new SequenceRow(cache, positions[r]);
        float[] q = Queries(rows.Length, seed: 8);
        var batch = new float[q.Length];
        Attention.Run(_pool, q, rows, 0, rows.Length, 0, 0, Heads, KvHeads, HeadDim, 1f, batch);
        int width = Heads * HeadDim;
        for (int r = 0; r < rows.Length; r++)
        {
            float[] single = q.AsSpan(r * width, width).ToArray();
            var alone = new float[width];
            Attention.Run(WorkerPool.Inline, single, rows, r, 1, 0, 0, Heads, KvHeads, HeadDim, 1f, alone);
            Assert.Equal(batch.AsSpan(r * width, width).ToArray(), alone);
        }
    }

    [Fact]
    public void ItsScratchDoesNotGrowWithTheContext()
    {
        KvCache cache = Filled(4000, 0, KvCacheType.F32, seed: 9, contextLength: 4096);
        SequenceRow[] rows = [new SequenceRow(cache, 3999)];
        float[] q = Queries(1, seed: 10);
        var output = new float[q.Length];
        long allocated = -1;
        // A fresh thread: the scratch is the calling thread's, so its first call allocates exactly what it needs.
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Attention.Run(WorkerPool.Inline, q, rows, 0, 1, 0, 0, Heads, KvHeads, HeadDim, 1f, output);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        thread.Start();
        thread.Join();
        // At most eight segments per row: 8 heads × 8 × (head dim + max and sum) floats, where 128-key segments
        // would make 32 of them.
        Assert.InRange(allocated, 1, Heads * 8 * (HeadDim + 2) * sizeof(float) + 1024);
    }
}
