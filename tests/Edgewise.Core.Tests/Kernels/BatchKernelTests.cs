using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>The prompt-batch kernels (four activation rows per pass over a weight row) against the scalar twin and the matvec.</summary>
public sealed unsafe class BatchKernelTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<GgmlType, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int>();
        foreach (GgmlType type in new[] { GgmlType.Q4_0, GgmlType.Q8_0 })
        {
            // Rows not a multiple of any tile; 1, 7, 8, 9 and 17 blocks: below, at and past a group of eight.
            data.Add(type, 1, 32);
            data.Add(type, 3, 224);
            data.Add(type, 37, 256);
            data.Add(type, 70, 288);
            data.Add(type, 5, 544);
        }
        foreach (GgmlType type in new[] { GgmlType.Q4_K, GgmlType.Q6_K })
        {
            data.Add(type, 1, 256);
            data.Add(type, 13, 512);
            data.Add(type, 6, 768);
        }
        return data;
    }

    /// <summary>The row-range matvec (one kernel call per work item) gives each row what a call per row gives, bit for bit.</summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 9)]
    [InlineData(GgmlType.Q4_0, 48)]
    [InlineData(GgmlType.Q8_0, 17)]
    [InlineData(GgmlType.Q8_1, 8)]
    [InlineData(GgmlType.Q4_K, 2)]
    public void RowRangeEqualsOneCallPerRow(GgmlType type, int blocks)
    {
        const int rows = 11;
        int columns = blocks * GgmlTypeInfo.BlockSize(type);
        float[] values = QuantTestData.Random(rows * columns, blocks);
        byte[] bytes = GC.AllocateArray<byte>((int)Quantizer.QuantizedBytes(type, values.Length), pinned: true);
        Quantizer.Quantize(type, values, bytes);
        float[] x = QuantTestData.Random(columns, blocks + 1, 2f);
        ActivationKind kind = ActivationQuantizer.KindFor(type);
        byte[] scratch = GC.AllocateArray<byte>(ActivationQuantizer.BytesPerRow(kind, columns), pinned: true);
        var range = new float[rows];
        var single = new float[rows];
        long rowBytes = bytes.Length / rows;
        fixed (byte* w = bytes, sp = scratch)
        fixed (float* xp = x, yp = range)
        {
            ActivationRow a = ActivationQuantizer.Layout(kind, xp, sp, columns);
            ActivationQuantizer.Quantize(kind, a, columns);
            RowDot.FastRows(type, w, rowBytes, a, columns, yp, rows);
            for (int r = 0; r < rows; r++) single[r] = RowDot.Fast(type, w + r * rowBytes, a, columns);
        }
        Assert.Equal(single, range);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BatchEqualsScalarTwinAndMatVecForOddShapes(GgmlType type, int rows, int columns)
    {
        float[] values = QuantTestData.Random(rows * columns, rows + columns);
        byte[] bytes = GC.AllocateArray<byte>((int)Quantizer.QuantizedBytes(type, values.Length), pinned: true);
        Quantizer.Quantize(type, values, bytes);
        float[] w = QuantTestData.Dequantize(type, bytes, values.Length);
        fixed (byte* p = bytes)
        {
            WeightMatrix m = WeightMatrix.Create(new TensorView("test.weight", type, [columns, rows], p, bytes.Length));
            foreach (int n in new[] { 1, 3, 5, 17, 64 })
            {
                float[] x = QuantTestData.Random(n * columns, n * 31 + rows, 2f);
                var fast = new float[n * rows];
                var scalar = new float[n * rows];
                m.MatMulCore(x, n, fast, _pool, fast: true);
                m.MatMulCore(x, n, scalar, WorkerPool.Inline, fast: false);
                var single = new float[rows];
                for (int j = 0; j < n; j++)
                {
                    m.MatVec(x.AsSpan(j * columns, columns), single, _pool);
                    Assert.Equal(single, fast.AsSpan(j * rows, rows).ToArray());
                    for (int r = 0; r < rows; r++)
                    {
                        double magnitude = 0;
                        for (int c = 0; c < columns; c++) magnitude += Math.Abs((double)w[r * columns + c] * x[j * columns + c]);
                        float f = fast[j * rows + r], s = scalar[j * rows + r];
                        Assert.True(Math.Abs(f - s) <= 2e-6 * magnitude + 1e-6, $"{type} {rows}x{columns} n {n} act {j} row {r}: fast {f} scalar {s}");
                    }
                }
            }
        }
        GC.KeepAlive(bytes);
    }
}
