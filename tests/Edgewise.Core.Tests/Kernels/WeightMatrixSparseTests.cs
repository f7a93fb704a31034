using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>The row-selective kernels (Gemma 3n sparse decode): fast equals scalar twin, and both equal the dense definition.</summary>
public sealed class WeightMatrixSparseTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<GgmlType> Types() => [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K];

    [Theory]
    [MemberData(nameof(Types))]
    public void SumRows_fast_equals_scalar_and_the_dequantized_definition(GgmlType type)
    {
        int block = GgmlTypeInfo.BlockSize(type);
        int[] allIds = [0, 3, 4, 11, 22, 7];
        float[] allCoef = [0.5f, -1.25f, 2f, 0.001f, -0.3f, 1f];
        // Row counts even and odd (the wide Q8_0 loop takes rows in pairs), one row and none; widths with and without
        // a tail of blocks past the last group of four in an item, up to E2B's 64 blocks.
        foreach ((int blocks, int count) in new[] { (1, 6), (2, 6), (7, 6), (8, 6), (9, 5), (33, 6), (33, 5), (64, 1), (66, 0), (64, 6) })
        {
            int columns = blocks * block, rows = 23;
            float[] values = QuantTestData.Random(rows * columns, seed: columns);
            WeightMatrix m = WeightMatrix.FromRows("t", type, values, rows, columns);
            Assert.True(m.OwnsMemory);
            var dq = new float[columns];
            int[] ids = allIds[..count];
            float[] coef = allCoef[..count];
            var expected = new double[columns];
            foreach ((int id, float c) in ids.Zip(coef))
            {
                m.DequantizeRow(id, dq);
                for (int j = 0; j < columns; j++) expected[j] += (double)c * dq[j];
            }
            var fast = new float[columns];
            var scalar = new float[columns];
            fast.AsSpan().Fill(float.NaN);   // must be overwritten, not accumulated into
            m.SumRowsCore(ids, coef, fast, _pool, fast: true);
            m.SumRowsCore(ids, coef, scalar, _pool, fast: false);
            for (int j = 0; j < columns; j++)
            {
                Assert.True(scalar[j].Equals(fast[j]), $"{type}, {blocks} blocks, {count} rows, col {j}: fast {fast[j]}, scalar {scalar[j]}");
                Assert.True(Math.Abs(fast[j] - expected[j]) <= 1e-5 * (1 + Math.Abs(expected[j])), $"{type} col {j}: {fast[j]} vs {expected[j]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatVecRows_equals_the_matching_rows_of_MatVec(GgmlType type)
    {
        int columns = 4 * Math.Max(GgmlTypeInfo.BlockSize(type), 32), rows = 40;
        WeightMatrix m = WeightMatrix.FromRows("t", type, QuantTestData.Random(rows * columns, seed: 3), rows, columns);
        float[] x = QuantTestData.Random(columns, seed: 4);
        var all = new float[rows];
        m.MatVec(x, all, _pool);
        int[] ids = [39, 0, 5, 5, 17];
        var fast = new float[ids.Length];
        var scalar = new float[ids.Length];
        m.MatVecRowsCore(x, ids, fast, _pool, fast: true);
        m.MatVecRowsCore(x, ids, scalar, _pool, fast: false);
        for (int k = 0; k < ids.Length; k++)
        {
            Assert.Equal(all[ids[k]], fast[k]);
            Assert.True(Math.Abs(scalar[k] - fast[k]) <= 1e-4 * (1 + Math.Abs(fast[k])), $"{type} row {ids[k]}: {scalar[k]} vs {fast[k]}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => m.MatVecRows(x, [40], fast, _pool));
    }
}
