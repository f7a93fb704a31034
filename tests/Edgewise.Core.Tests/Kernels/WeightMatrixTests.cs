using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public sealed unsafe class WeightMatrixTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    /// <summary>A quantized matrix in pinned memory, kept alive by the returned array.</summary>
    internal static (WeightMatrix Matrix, byte[] Bytes, float[] Dequantized) Build(GgmlType type, int rows, int columns, int seed)
    {
        float[] values = QuantTestData.Random(rows * columns, seed);
        byte[] bytes = GC.AllocateArray<byte>((int)Quantizer.QuantizedBytes(type, values.Length), pinned: true);
        Quantizer.Quantize(type, values, bytes);
        fixed (byte* p = bytes)
        {
            var view = new TensorView("test.weight", type, [columns, rows], p, bytes.Length);
            var matrix = WeightMatrix.Create(view);
            float[] dequantized = QuantTestData.Dequantize(type, bytes, values.Length);
            return (matrix, bytes, dequantized);
        }
    }

    public static TheoryData<GgmlType> Types()
    {
        var data = new TheoryData<GgmlType>();
        foreach (GgmlType t in QuantTestData.MatrixTypes) data.Add(t);
        return data;
    }

    /// <summary>Block counts 1..40 and around 64/128/256, every format: the fast kernel equals its scalar twin.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void FastMatVecMatchesScalarTwinForEveryLength(GgmlType type)
    {
        int blockSize = GgmlTypeInfo.BlockSize(type) == 1 ? 1 : GgmlTypeInfo.BlockSize(type);
        var blockCounts = new List<int>();
        if (blockSize == 1)
        {
            for (int n = 1; n <= 257; n++) blockCounts.Add(n);
        }
        else if (blockSize == 32)
        {
            for (int n = 1; n <= 20; n++) blockCounts.Add(n);
            blockCounts.AddRange([31, 32, 33, 63, 64, 65, 127, 128, 129, 257]);
        }
        else
        {
            // 256-value super-blocks: a 257-block row is 65792 values; the reference quantizer makes that slow for little gain.
            for (int n = 1; n <= 9; n++) blockCounts.Add(n);
            blockCounts.AddRange([16, 17, 33, 48]);
        }
        const int rows = 3;
        foreach (int blocks in blockCounts)
        {
            int columns = blocks * blockSize;
            (WeightMatrix m, byte[] keep, float[] w) = Build(type, rows, columns, seed: columns);
            float[] x = QuantTestData.Random(columns, columns + 1, 2f);
            var fast = new float[rows];
            var scalar = new float[rows];
            m.MatMulCore(x, 1, fast, _pool, fast: true);
            m.MatMulCore(x, 1, scalar, WorkerPool.Inline, fast: false);
            for (int r = 0; r < rows; r++)
            {
                double magnitude = 0;
                for (int c = 0; c < columns; c++) magnitude += Math.Abs(w[r * columns + c] * x[c]);
                Assert.True(Math.Abs(fast[r] - scalar[r]) <= 2e-6 * magnitude + 1e-6, $"{type} columns {columns} row {r}: fast {fast[r]} scalar {scalar[r]}");
            }
            GC.KeepAlive(keep);
        }
    }

    /// <summary>Against float math on the dequantized weights: only the activation quantization separates them.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void MatVecMatchesDequantizedFloatProduct(GgmlType type)
    {
        const int rows = 37;
        // 17 blocks for 32-value formats: an odd count exercises the unpaired last block of Q4_0's activation layout.
        int columns = GgmlTypeInfo.BlockSize(type) == 256 ? 512 : 544;
        (WeightMatrix m, byte[] keep, float[] w) = Build(type, rows, columns, seed: 7);
        float[] x = QuantTestData.Random(columns, 8, 3f);
        var y = new float[rows];
        m.MatVec(x, y, _pool);
        bool quantizedActivations = type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);
        for (int r = 0; r < rows; r++)
        {
            double expected = 0, magnitude = 0;
            for (int c = 0; c < columns; c++)
            {
                expected += (double)w[r * columns + c] * x[c];
                magnitude += Math.Abs((double)w[r * columns + c] * x[c]);
            }
            double tolerance = quantizedActivations ? 1e-2 * magnitude : 1e-5 * magnitude;
            Assert.True(Math.Abs(y[r] - expected) <= tolerance, $"{type} row {r}: {y[r]} vs {expected}");
        }
        GC.KeepAlive(keep);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatMulEqualsOneMatVecPerRow(GgmlType type)
    {
        const int rows = 70, columns = 256, n = 5;
        (WeightMatrix m, byte[] keep, _) = Build(type, rows, columns, seed: 9);
        float[] x = QuantTestData.Random(n * columns, 10);
        var batched = new float[n * rows];
        m.MatMul(x, n, batched, _pool);
        var single = new float[rows];
        for (int j = 0; j < n; j++)
        {
            m.MatVec(x.AsSpan(j * columns, columns), single, _pool);
            Assert.Equal(single, batched.AsSpan(j * rows, rows).ToArray());
        }
        GC.KeepAlive(keep);
    }

    /// <summary>
    /// A batch whose activation rows are quantized across the pool (every split allowed) computes what one matvec per
    /// row computes, plain and (Q4_0) interleaved.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void MatMulWithRowsQuantizedOnThePoolEqualsOneMatVecPerRow(GgmlType type)
    {
        const int rows = 64, columns = 256, n = 9;
        using var pool = new WorkerPool(2) { MinRangeWork = 0 };
        (WeightMatrix plain, byte[] keep, _) = Build(type, rows, columns, seed: 19);
        WeightMatrix[] matrices = type == GgmlType.Q4_0 ? [plain, plain.Interleave()] : [plain];
        float[] x = QuantTestData.Random(n * columns, 20);
        foreach (WeightMatrix m in matrices)
        {
            var batched = new float[n * rows];
            m.MatMul(x, n, batched, pool);
            var single = new float[rows];
            for (int j = 0; j < n; j++)
            {
                m.MatVec(x.AsSpan(j * columns, columns), single, WorkerPool.Inline);
                Assert.Equal(single, batched.AsSpan(j * rows, rows).ToArray());
            }
        }
        GC.KeepAlive(keep);
    }

    /// <summary>
    /// A plain Q4_0 matrix that interleaves its batches computes prompt-sized batches exactly as the interleaved copy
    /// does (the same kernel on the same groups), smaller batches and single rows as the plain matrix does, and its
    /// bytes stay plain.
    /// </summary>
    [Fact]
    public void InterleavedBatchesOfAPlainMatrixEqualTheInterleavedCopy()
    {
        const int rows = 48, columns = 320;
        (WeightMatrix plain, byte[] keep, _) = Build(GgmlType.Q4_0, rows, columns, seed: 23);
        byte[] before = (byte[])keep.Clone();
        WeightMatrix batched = plain.WithInterleavedBatches(), interleaved = plain.Interleave();
        Assert.True(batched.InterleavesBatches);
        Assert.False(batched.IsInterleaved);
        foreach (int n in new[] { WeightMatrix.InterleavedBatchRows, 21, WeightMatrix.InterleavedBatchRows - 1 })
        {
            float[] x = QuantTestData.Random(n * columns, 24 + n);
            var actual = new float[n * rows];
            var expected = new float[n * rows];
            batched.MatMul(x, n, actual, _pool);
            (n >= WeightMatrix.InterleavedBatchRows ? interleaved : plain).MatMul(x, n, expected, _pool);
            Assert.Equal(expected, actual);
        }
        Assert.Equal(before, keep);
        Assert.Same(interleaved, interleaved.WithInterleavedBatches());
        (WeightMatrix q8, byte[] keep8, _) = Build(GgmlType.Q8_0, rows, columns, seed: 25);
        Assert.Same(q8, q8.WithInterleavedBatches());
        GC.KeepAlive(keep8);
    }

    [Fact]
    public void SliceRowsAndGatherRowSeeTheRightBytes()
    {
        (WeightMatrix m, byte[] keep, float[] w) = Build(GgmlType.Q4_K, 12, 512, seed: 12);
        WeightMatrix slice = m.SliceRows(4, 3);
        Assert.Equal(3, slice.Rows);
        Assert.Equal(512, slice.Columns);
        var row = new float[512];
        slice.GatherRow(1, row);
        Assert.Equal(w.AsSpan(5 * 512, 512).ToArray(), row);
        var x = QuantTestData.Random(512, 13);
        var full = new float[12];
        var part = new float[3];
        m.MatVec(x, full, _pool);
        slice.MatVec(x, part, _pool);
        Assert.Equal(full.AsSpan(4, 3).ToArray(), part);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.SliceRows(10, 3));
        GC.KeepAlive(keep);
    }

    [Fact]
    public void HugePageCopyComputesTheSameAsTheView()
    {
        (WeightMatrix view, byte[] keep, _) = Build(GgmlType.Q8_0, 40, 256, seed: 16);
        WeightMatrix copy;
        fixed (byte* p = keep)
        {
            copy = WeightMatrix.Create(new TensorView("copy", GgmlType.Q8_0, [256, 40], p, keep.Length), inHugePages: true);
        }
        Array.Clear(keep); // the copy must not depend on the source bytes any more
        Assert.True(copy.OwnsMemory);
        float[] x = QuantTestData.Random(256, 17);
        var fromCopy = new float[3];
        copy.SliceRows(10, 3).MatVec(x, fromCopy, _pool);
        var reference = new float[3];
        (WeightMatrix again, byte[] keep2, _) = Build(GgmlType.Q8_0, 40, 256, seed: 16);
        again.SliceRows(10, 3).MatVec(x, reference, _pool);
        Assert.Equal(reference, fromCopy);
        Assert.False(view.OwnsMemory);
        GC.KeepAlive(keep2);
    }

    [Fact]
    public void CreateRejectsShortViewsAndUnknownFormatsByName()
    {
        byte[] bytes = GC.AllocateArray<byte>(100, pinned: true);
        fixed (byte* p = bytes)
        {
            var shortView = new TensorView("blk.0.ffn_up.weight", GgmlType.Q8_0, [64, 4], p, bytes.Length);
            var ex = Assert.Throws<ArgumentException>(() => WeightMatrix.Create(shortView));
            Assert.Contains("blk.0.ffn_up.weight", ex.Message);
            Assert.Contains("272", ex.Message);
            var iq = new TensorView("iq.weight", GgmlType.IQ2_XXS, [256, 1], p, bytes.Length);
            Assert.Throws<NotSupportedException>(() => WeightMatrix.Create(iq));
        }
    }

    /// <summary>The activation format is ggml's CPU one: fp16 scale, ties to even (quantize_row_q8_0 on x86).</summary>
    [Fact]
    public void ActivationQuantizationRoundsTiesToEven()
    {
        var x = new float[32];
        x[0] = 127f; // amax: id = 1 exactly
        x[1] = 2.5f;
        x[2] = 3.5f;
        x[3] = -2.5f;
        var qs = new sbyte[32];
        var scales = new float[1];
        var sums = new int[1];
        fixed (float* xp = x)
        fixed (sbyte* qp = qs)
        fixed (float* sp = scales)
        fixed (int* sump = sums)
        {
            ActivationQuantizer.QuantizeQ8_0(xp, qp, sp, sump, 32);
        }
        Assert.Equal([127, 2, 4, -2], qs[..4]);
        Assert.Equal(1f, scales[0]);
        Assert.Equal(127 + 2 + 4 - 2, sums[0]);
    }

    [Fact]
    public void MatVecAllocatesNothingOnceWarm()
    {
        (WeightMatrix m, byte[] keep, _) = Build(GgmlType.Q4_0, 256, 1024, seed: 14);
        float[] x = QuantTestData.Random(1024, 15);
        var y = new float[256];
        // Warm means past tiered compilation too: a method's 30th call queues its tier-1 recompile, and the calling
        // thread allocates that request. Whether that call lands inside the measured loop depends on how many calls
        // earlier tests made, so call often enough, with pauses for the call-counting delay, before measuring.
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 50; i++) m.MatVec(x, y, _pool);
            Thread.Sleep(150);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) m.MatVec(x, y, _pool);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        GC.KeepAlive(keep);
    }
}
