using Edgewise.Core.Kernels;
using Edgewise.Core.Tests.Quantization;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>
/// <see cref="AttentionTiles"/>: the blocked scores against double-precision dots, and the blocked value sums bit for
/// bit against one <see cref="Ops.AddWeightedRows(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float})"/>
/// per head (onto the accumulators, or from zero), at both register widths, for rows scattered through a cache (a ring, a
/// stride of KV heads).
/// </summary>
public class AttentionTilesTests
{
    private static readonly KernelWidths Widths = new(() => AttentionTiles.Wide, wide => AttentionTiles.Wide = wide);

    /// <summary>Offsets of <paramref name="count"/> rows of a cache of 100 rows of 2·dim values, at the second KV head, wrapping.</summary>
    private static int[] Offsets(int count, int dim, int first) => Enumerable.Range(0, count).Select(c => (first + c) % 100 * 2 * dim + dim).ToArray();

    [Theory]
    // Tiles (heads a multiple of four, dims a multiple of 16 or 8), then the per-key path (other shapes, tail keys).
    [InlineData(8, 256, 64)]
    [InlineData(4, 512, 37)]
    [InlineData(8, 64, 3)]
    [InlineData(4, 24, 13)]
    [InlineData(3, 64, 9)]
    [InlineData(1, 40, 5)]
    public void ScoresMatchDoublePrecisionDots(int heads, int dim, int count)
    {
        float[] cache = QuantTestData.Random(100 * 2 * dim, dim + heads);
        float[] queries = QuantTestData.Random(heads * dim, 7 * dim + count, 2f);
        int[] offsets = Offsets(count + 5, dim, first: 90);   // five look-ahead keys past the scored ones
        const int stride = 70;
        const float scale = 0.125f;
        foreach (bool wide in Widths.All)
        {
            foreach (bool fast in new[] { true, false })
            {
                var scores = new float[(heads - 1) * stride + count];
                Widths.At(wide, () => AttentionTiles.Scores(cache, offsets, count, queries, heads, dim, scale, scores, stride, cache, fast));
                for (int g = 0; g < heads; g++)
                {
                    for (int c = 0; c < count; c++)
                    {
                        double dot = 0, magnitude = 0;
                        for (int i = 0; i < dim; i++)
                        {
                            double product = (double)queries[g * dim + i] * cache[offsets[c] + i];
                            dot += product;
                            magnitude += Math.Abs(product);
                        }
                        Assert.True(Math.Abs(scores[g * stride + c] - scale * dot) <= 1e-6 * scale * magnitude + 1e-7,
                            $"wide {wide} fast {fast} head {g} key {c}: {scores[g * stride + c]} vs {scale * dot}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(8, 256, 64)]
    [InlineData(4, 512, 7)]
    [InlineData(4, 64, 1)]
    [InlineData(8, 48, 10)]
    [InlineData(5, 128, 12)]
    public void WeightedRowsEqualOneSumPerHead(int heads, int dim, int count)
    {
        float[] cache = QuantTestData.Random(100 * 2 * dim, dim + count);
        int[] offsets = Offsets(count, dim, first: 95);
        const int weightStride = 80;
        int accStride = dim + 16;
        float[] weights = QuantTestData.Random((heads - 1) * weightStride + count, heads * 3 + count);
        float[] start = QuantTestData.Random((heads - 1) * accStride + dim, heads * 5 + dim, 3f);
        foreach (bool wide in Widths.All)
        {
            foreach ((bool fast, bool accumulate) in new[] { (true, true), (false, true), (true, false), (false, false) })
            {
                var acc = (float[])start.Clone();
                Widths.At(wide, () => AttentionTiles.AddWeightedRows(cache, offsets, weights, weightStride, heads, dim, acc, accStride, accumulate, fast));
                for (int g = 0; g < heads; g++)
                {
                    // Not accumulating: the same bits as summing onto zeros, whatever the accumulators held.
                    float[] expected = accumulate ? start.AsSpan(g * accStride, dim).ToArray() : new float[dim];
                    Ops.AddWeightedRows(cache, offsets, weights.AsSpan(g * weightStride, count), expected, fast: false);
                    Assert.Equal(expected, acc.AsSpan(g * accStride, dim).ToArray());
                }
                // Between the heads' rows nothing is written.
                for (int g = 0; g + 1 < heads; g++) Assert.Equal(start.AsSpan(g * accStride + dim, accStride - dim).ToArray(), acc.AsSpan(g * accStride + dim, accStride - dim).ToArray());
            }
        }
    }

    [Fact]
    public void BadShapesAreNamed()
    {
        float[] cache = new float[256];
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => AttentionTiles.Scores(cache, [0, 200], 2, new float[64], 1, 64, 1f, new float[2], 2));
        Assert.Contains("leaves the 256 values", outside.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionTiles.Scores(cache, [0], 2, new float[64], 1, 64, 1f, new float[2], 2));
        var queries = Assert.Throws<ArgumentException>(() => AttentionTiles.Scores(cache, [0], 1, new float[64], 2, 64, 1f, new float[8], 4));
        Assert.Contains("2 query heads of 64 values", queries.Message);
        var scores = Assert.Throws<ArgumentException>(() => AttentionTiles.Scores(cache, [0, 64], 2, new float[128], 2, 64, 1f, new float[3], 2));
        Assert.Contains("need 4; got 3", scores.Message);
        var acc = Assert.Throws<ArgumentException>(() => AttentionTiles.AddWeightedRows(cache, [0, 64], new float[4], 2, 2, 64, new float[100], 64));
        Assert.Contains("need 128; got 100", acc.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionTiles.AddWeightedRows(cache, [-1], new float[1], 1, 1, 64, new float[64], 64));
    }
}
