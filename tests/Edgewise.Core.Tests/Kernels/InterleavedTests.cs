using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>Q4_0 and Q8_0 with rows interleaved sixteen at a time (<see cref="WeightMatrix.Interleave"/>) against the plain layout and the scalar twin.</summary>
public sealed unsafe class InterleavedTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    private static (WeightMatrix Plain, WeightMatrix Interleaved, byte[] Keep) Build(int rows, int columns, int seed, GgmlType type = GgmlType.Q4_0)
    {
        float[] values = QuantTestData.Random(rows * columns, seed);
        byte[] bytes = GC.AllocateArray<byte>((int)Quantizer.QuantizedBytes(type, values.Length), pinned: true);
        Quantizer.Quantize(type, values, bytes);
        fixed (byte* p = bytes)
        {
            WeightMatrix plain = WeightMatrix.Create(new TensorView("blk.0.ffn_up.weight", type, [columns, rows], p, bytes.Length));
            return (plain, plain.Interleave(), bytes);
        }
    }

    public static TheoryData<GgmlType> Formats() => new() { GgmlType.Q4_0, GgmlType.Q8_0 };

    private static readonly KernelWidths Widths = new(() => Q4_0x16.Wide, wide => Q4_0x16.Wide = wide);

    private static double Magnitude(WeightMatrix m, float[] x, int j, int r)
    {
        var w = new float[m.Columns];
        m.DequantizeRow(r, w);
        double sum = 0;
        for (int c = 0; c < m.Columns; c++) sum += Math.Abs((double)w[c] * x[j * m.Columns + c]);
        return sum;
    }

    /// <summary>
    /// Batch sizes around the four-row tile (1, 3, 5, 17, 64), odd block counts (the unpaired last activation
    /// block) and row counts that are not a multiple of the work-item size: fast kernel == scalar twin per element.
    /// </summary>
    [Theory]
    [InlineData(16, 1, GgmlType.Q4_0)]
    [InlineData(48, 3, GgmlType.Q4_0)]
    [InlineData(80, 17, GgmlType.Q4_0)]
    [InlineData(144, 48, GgmlType.Q4_0)]
    [InlineData(272, 5, GgmlType.Q4_0)]
    [InlineData(16, 1, GgmlType.Q8_0)]
    [InlineData(48, 3, GgmlType.Q8_0)]
    [InlineData(80, 17, GgmlType.Q8_0)]
    [InlineData(144, 48, GgmlType.Q8_0)]
    public void FastEqualsScalarTwinForOddShapes(int rows, int blocks, GgmlType type)
    {
        int columns = blocks * 32;
        (_, WeightMatrix m, byte[] keep) = Build(rows, columns, seed: rows + blocks, type);
        Assert.True(m.IsInterleaved);
        foreach (bool wide in Widths.All)
        {
            Widths.At(wide, () => FastEqualsScalarTwin(m, rows, blocks));
        }
        GC.KeepAlive(keep);
    }

    private void FastEqualsScalarTwin(WeightMatrix m, int rows, int blocks)
    {
        int columns = blocks * 32;
        foreach (int n in new[] { 1, 3, 5, 17, 64 })
        {
            float[] x = QuantTestData.Random(n * columns, n + blocks, 2f);
            var fast = new float[n * rows];
            var scalar = new float[n * rows];
            m.MatMulCore(x, n, fast, _pool, fast: true);
            m.MatMulCore(x, n, scalar, WorkerPool.Inline, fast: false);
            for (int j = 0; j < n; j++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float f = fast[j * rows + r], s = scalar[j * rows + r];
                    Assert.True(Math.Abs(f - s) <= 2e-6 * Magnitude(m, x, j, r) + 1e-6, $"wide {Q4_0x16.Wide} rows {rows} blocks {blocks} n {n} act {j} row {r}: fast {f} scalar {s}");
                }
            }
        }
    }

    /// <summary>
    /// The 512-bit kernels and the 256-bit ones (two 8-row halves per group) do the same operations per row in the
    /// same order: a machine without AVX-512 computes the same logits bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void BothKernelWidthsGiveTheSameBits(GgmlType type)
    {
        const int rows = 96, columns = 13 * 32;
        (_, WeightMatrix m, byte[] keep) = Build(rows, columns, seed: 21, type);
        foreach (int n in new[] { 1, 6 })
        {
            float[] x = QuantTestData.Random(n * columns, 22 + n, 2f);
            var results = new List<float[]>();
            foreach (bool wide in Widths.All)
            {
                var y = new float[n * rows];
                Widths.At(wide, () => m.MatMul(x, n, y, _pool));
                results.Add(y);
            }
            foreach (float[] y in results) Assert.Equal(results[0], y);
        }
        GC.KeepAlive(keep);
    }

    /// <summary>The layout changes the order of float sums only: products equal the plain layout's within rounding.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void InterleavedMatchesThePlainLayout(GgmlType type)
    {
        const int rows = 48, columns = 17 * 32, n = 6;
        (WeightMatrix plain, WeightMatrix m, byte[] keep) = Build(rows, columns, seed: 3, type);
        float[] x = QuantTestData.Random(n * columns, 4, 2f);
        var expected = new float[n * rows];
        var actual = new float[n * rows];
        plain.MatMul(x, n, expected, _pool);
        m.MatMul(x, n, actual, _pool);
        for (int j = 0; j < n; j++)
        {
            for (int r = 0; r < rows; r++)
            {
                Assert.True(Math.Abs(expected[j * rows + r] - actual[j * rows + r]) <= 2e-6 * Magnitude(plain, x, j, r) + 1e-6, $"act {j} row {r}");
            }
        }
        GC.KeepAlive(keep);
    }

    /// <summary>Prefill must equal token-by-token decode: a batch gives bit-identical results to one matvec per row.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void BatchEqualsOneMatVecPerRowExactly(GgmlType type)
    {
        const int rows = 64, columns = 9 * 32, n = 7;
        (_, WeightMatrix m, byte[] keep) = Build(rows, columns, seed: 5, type);
        float[] x = QuantTestData.Random(n * columns, 6);
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
    /// The output head's product with the softcap applied inside its work items equals the product followed by the
    /// pooled softcap, bit for bit: one row (decode) and a batch (prompt logits), on interleaved rows, on plain rows, and
    /// on plain rows whose prompt batches are interleaved group by group on the fly.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 1, "interleaved")]
    [InlineData(GgmlType.Q4_0, 5, "interleaved")]
    [InlineData(GgmlType.Q8_0, 1, "interleaved")]
    [InlineData(GgmlType.Q8_0, 3, "interleaved")]
    [InlineData(GgmlType.Q4_0, 3, "plain")]
    [InlineData(GgmlType.Q4_0, 17, "interleaved batches")]
    public void SoftcappedProductEqualsProductThenSoftcap(GgmlType type, int n, string layout)
    {
        const int rows = 1040, columns = 3 * 32;   // 65 groups: runs of claims end mid-matrix
        const float cap = 3f;                       // small against the products, so the cap bends most outputs
        (WeightMatrix plain, WeightMatrix inter, byte[] keep) = Build(rows, columns, seed: 11, type);
        WeightMatrix m = layout switch
        {
            "interleaved" => inter,
            "plain" => plain,
            _ => plain.WithInterleavedBatches(),
        };
        Assert.Equal(layout == "interleaved", m.IsInterleaved);
        Assert.Equal(layout == "interleaved batches", m.InterleavesBatches);
        float[] x = QuantTestData.Random(n * columns, 12);
        var expected = new float[n * rows + 1];
        var actual = new float[n * rows + 1];
        expected[^1] = actual[^1] = 42f;   // past the outputs: left alone
        m.MatMul(x, n, expected, _pool);
        float[] uncapped = (float[])expected.Clone();
        Ops.Softcap(expected.AsSpan(0, n * rows), cap, _pool);
        m.MatMulSoftcapped(x, n, actual, _pool, cap);
        Assert.Equal(expected, actual);
        Assert.Contains(Enumerable.Range(0, n * rows), i => Math.Abs(uncapped[i]) > 2 * cap);   // the cap did bend values
        Assert.Equal(42f, actual[^1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.MatMulSoftcapped(x, n, actual, _pool, 0f));
        GC.KeepAlive(keep);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void RowsDequantizeAndSliceAsInThePlainLayout(GgmlType type)
    {
        const int rows = 48, columns = 96;
        (WeightMatrix plain, WeightMatrix m, byte[] keep) = Build(rows, columns, seed: 8, type);
        var a = new float[columns];
        var b = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            plain.DequantizeRow(r, a);
            m.DequantizeRow(r, b);
            Assert.Equal(a, b);
        }
        WeightMatrix slice = m.SliceRows(16, 16);
        Assert.True(slice.IsInterleaved);
        slice.GatherRow(3, b);
        plain.GatherRow(19, a);
        Assert.Equal(a, b);
        float[] x = QuantTestData.Random(columns, 9);
        var full = new float[rows];
        var part = new float[16];
        m.MatVec(x, full, _pool);
        slice.MatVec(x, part, _pool);
        Assert.Equal(full.AsSpan(16, 16).ToArray(), part);

        var misaligned = Assert.Throws<NotSupportedException>(() => m.SliceRows(8, 16));
        Assert.Contains("blk.0.ffn_up.weight", misaligned.Message);
        Assert.Throws<NotSupportedException>(() => m.MatVecRows(x, [1, 2], new float[2], _pool));
        Assert.Throws<NotSupportedException>(() => m.SumRows([1], [1f], new float[columns], _pool));
        GC.KeepAlive(keep);
    }

    [Fact]
    public void OnlyQ4_0AndQ8_0WithWholeGroupsAreInterleaved()
    {
        (WeightMatrix plain, _, byte[] keep) = Build(24, 64, seed: 10);   // 24 rows: not a multiple of 16
        Assert.Same(plain, plain.Interleave());
        (WeightMatrix q8, WeightMatrix q8x16, byte[] keep8) = Build(16, 64, seed: 11, GgmlType.Q8_0);
        Assert.True(q8.CanInterleave);
        Assert.True(q8x16.IsInterleaved);
        Assert.Equal(GgmlType.Q8_0, q8x16.Type);
        Assert.Same(q8, q8.WithInterleavedBatches());   // on-the-fly batch repacking is Q4_0's alone
        float[] values = QuantTestData.Random(16 * 256, 11);
        byte[] q4k = QuantTestData.Quantize(GgmlType.Q4_K, values);
        fixed (byte* p = q4k)
        {
            WeightMatrix m = WeightMatrix.Create(new TensorView("q4k", GgmlType.Q4_K, [256, 16], p, q4k.Length));
            Assert.False(m.CanInterleave);
            Assert.Same(m, m.Interleave());
        }
        GC.KeepAlive(keep);
        GC.KeepAlive(keep8);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void InterleavedMatVecAllocatesNothingOnceWarm(GgmlType type)
    {
        (_, WeightMatrix m, byte[] keep) = Build(256, 1024, seed: 12, type);
        float[] x = QuantTestData.Random(4 * 1024, 13);
        var y = new float[4 * 256];
        // Warm past tiered compilation (see WeightMatrixTests.MatVecAllocatesNothingOnceWarm): a method's 30th call
        // queues its tier-1 recompile and the calling thread allocates the request.
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 50; i++)
            {
                m.MatMul(x, 4, y, _pool);
                m.MatVec(x.AsSpan(0, 1024), y, _pool);
            }
            Thread.Sleep(150);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            m.MatVec(x.AsSpan(0, 1024), y, _pool);
            m.MatMul(x, 4, y, _pool);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        GC.KeepAlive(keep);
    }

    /// <summary>
    /// Q8_0 quants at the extremes (−128 and 127, which the nibble split turns into 0 and 255) against activations at
    /// full scale: the int16 sums of nibble products must not overflow, at either kernel width.
    /// </summary>
    [Fact]
    public void Q8_0ExtremeQuantsMatchTheScalarTwin()
    {
        const int rows = 32, blocks = 8, columns = blocks * 32;
        byte[] bytes = GC.AllocateArray<byte>(rows * blocks * 34, pinned: true);
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                int at = (r * blocks + b) * 34;
                BitConverter.TryWriteBytes(bytes.AsSpan(at), BitConverter.HalfToUInt16Bits((Half)(0.5f + r % 3)));
                for (int i = 0; i < 32; i++) bytes[at + 2 + i] = (byte)((r % 2 == 0) == (i % 2 == 0) ? 0x80 : 0x7F);
            }
        }
        float[] x = new float[2 * columns];
        for (int i = 0; i < x.Length; i++) x[i] = i % 2 == 0 ? -3f : 3f;
        fixed (byte* p = bytes)
        {
            WeightMatrix plain = WeightMatrix.Create(new TensorView("q8", GgmlType.Q8_0, [columns, rows], p, bytes.Length));
            WeightMatrix m = plain.Interleave();
            var expected = new float[2 * rows];
            plain.MatMulCore(x, 2, expected, WorkerPool.Inline, fast: false);
            Assert.Contains(expected, v => Math.Abs(v) > 1000);
            foreach (bool wide in Widths.All)
            {
                Widths.At(wide, () =>
                {
                    var actual = new float[2 * rows];
                    m.MatMul(x, 2, actual, _pool);
                    for (int i = 0; i < actual.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Abs(expected[i]) + 1e-3, $"wide {wide} [{i}]: {actual[i]} vs {expected[i]}");
                });
            }
        }
    }

    /// <summary>The SSE2 transpose used at load writes exactly the bytes of the scalar repack.</summary>
    [Fact]
    public void VectorRepackWritesTheScalarRepackBytes()
    {
        const int rows = 48, blocks = 5;
        var random = new Random(14);
        byte[] original = new byte[rows * blocks * 18];
        random.NextBytes(original);
        byte[] vector = (byte[])original.Clone(), scalar = (byte[])original.Clone();
        fixed (byte* v = vector)
        fixed (byte* s = scalar)
        {
            Q4_0x16.Interleave(v, rows, blocks, vector: System.Runtime.Intrinsics.X86.Sse2.IsSupported);
            Q4_0x16.Interleave(s, rows, blocks, vector: false);
        }
        Assert.Equal(scalar, vector);
        Assert.NotEqual(original, scalar);
    }
}
