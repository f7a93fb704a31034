using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>
/// The decode products that share one input (<see cref="WeightMatrix.MatVecShared"/>, <see cref="WeightMatrix.GeGluMatVec"/>)
/// give exactly what one <see cref="WeightMatrix.MatVec"/> per matrix gives: same kernel per row, only the hand-off differs.
/// </summary>
public sealed class SharedMatVecTests : IDisposable
{
    private const int Columns = 512;
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<GgmlType> Types()
    {
        var data = new TheoryData<GgmlType>();
        foreach (GgmlType t in QuantTestData.MatrixTypes) data.Add(t);
        return data;
    }

    private static float[] Separate(WeightMatrix m, float[] x, WorkerPool pool)
    {
        var y = new float[m.Rows];
        m.MatVec(x, y, pool);
        return y;
    }

    /// <summary>Three matrices of different heights (q, k, v-like) in one pass, every format.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void ThreeMatricesInOnePassEqualThreeMatVecs(GgmlType type)
    {
        (WeightMatrix a, byte[] ka, _) = WeightMatrixTests.Build(type, 72, Columns, seed: 1);
        (WeightMatrix b, byte[] kb, _) = WeightMatrixTests.Build(type, 24, Columns, seed: 2);
        (WeightMatrix c, byte[] kc, _) = WeightMatrixTests.Build(type, 8, Columns, seed: 3);
        float[] x = QuantTestData.Random(Columns, 4);
        float[] ya = new float[72], yb = new float[24], yc = new float[8];
        WeightMatrix.MatVecShared(x, _pool, a, ya, b, yb, c, yc);
        Assert.Equal(Separate(a, x, _pool), ya);
        Assert.Equal(Separate(b, x, _pool), yb);
        Assert.Equal(Separate(c, x, _pool), yc);
        GC.KeepAlive(ka);
        GC.KeepAlive(kb);
        GC.KeepAlive(kc);
    }

    /// <summary>
    /// Four matrices (q, k, v and LAuReL's left matrix of a Gemma 3n decode row), and the fourth without a third,
    /// interleaved and plain: each output is its MatVec's.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.Q4_0, false)]
    [InlineData(GgmlType.Q8_0, true)]
    public void FourMatricesAndAFourthWithoutAThirdEqualTheirMatVecs(GgmlType type, bool interleave)
    {
        (WeightMatrix a, byte[] ka, _) = WeightMatrixTests.Build(type, 64, Columns, seed: 21);
        (WeightMatrix b, byte[] kb, _) = WeightMatrixTests.Build(type, 32, Columns, seed: 22);
        (WeightMatrix c, byte[] kc, _) = WeightMatrixTests.Build(type, 32, Columns, seed: 23);
        (WeightMatrix d, byte[] kd, _) = WeightMatrixTests.Build(type, 16, Columns, seed: 24);
        if (interleave) (a, d) = (a.Interleave(), d.Interleave());
        float[] x = QuantTestData.Random(Columns, 25);
        float[] ya = new float[64], yb = new float[32], yc = new float[32], yd = new float[16];
        WeightMatrix.MatVecShared(x, _pool, a, ya, b, yb, c, yc, d, yd);
        Assert.Equal(Separate(a, x, _pool), ya);
        Assert.Equal(Separate(b, x, _pool), yb);
        Assert.Equal(Separate(c, x, _pool), yc);
        Assert.Equal(Separate(d, x, _pool), yd);
        Array.Clear(ya);
        Array.Clear(yd);
        WeightMatrix.MatVecShared(x, _pool, a, ya, b, yb, d: d, yd: yd);
        Assert.Equal(Separate(a, x, _pool), ya);
        Assert.Equal(Separate(d, x, _pool), yd);
        GC.KeepAlive(ka);
        GC.KeepAlive(kb);
        GC.KeepAlive(kc);
        GC.KeepAlive(kd);
    }

    /// <summary>Interleaved Q4_0 beside plain Q4_0, two matrices, and on a pool of one thread.</summary>
    [Fact]
    public void InterleavedAndPlainMatricesShareOnePass()
    {
        (WeightMatrix plain, byte[] keep, _) = WeightMatrixTests.Build(GgmlType.Q4_0, 96, Columns, seed: 5);
        (WeightMatrix other, byte[] keep2, _) = WeightMatrixTests.Build(GgmlType.Q4_0, 48, Columns, seed: 6);
        WeightMatrix interleaved = plain.Interleave();
        Assert.True(interleaved.IsInterleaved);
        float[] x = QuantTestData.Random(Columns, 7);
        foreach (WorkerPool pool in new[] { _pool, WorkerPool.Inline })
        {
            float[] ya = new float[96], yb = new float[48];
            WeightMatrix.MatVecShared(x, pool, interleaved, ya, other, yb);
            Assert.Equal(Separate(interleaved, x, pool), ya);
            Assert.Equal(Separate(other, x, pool), yb);
        }
        GC.KeepAlive(keep);
        GC.KeepAlive(keep2);
    }

    /// <summary>Formats with different activation encodings (Q4_0 and Q4_K) cannot share one; they still give each MatVec's result.</summary>
    [Fact]
    public void MatricesOfDifferentEncodingsFallBackToSeparateProducts()
    {
        (WeightMatrix a, byte[] ka, _) = WeightMatrixTests.Build(GgmlType.Q4_0, 32, Columns, seed: 8);
        (WeightMatrix b, byte[] kb, _) = WeightMatrixTests.Build(GgmlType.Q4_K, 16, Columns, seed: 9);
        float[] x = QuantTestData.Random(Columns, 10);
        float[] ya = new float[32], yb = new float[16];
        WeightMatrix.MatVecShared(x, _pool, a, ya, b, yb);
        Assert.Equal(Separate(a, x, _pool), ya);
        Assert.Equal(Separate(b, x, _pool), yb);
        GC.KeepAlive(ka);
        GC.KeepAlive(kb);
    }

    /// <summary>
    /// Gate and up in one pass with the GeGLU applied per work item equal two MatVecs and one GeGlu over the whole
    /// width: interleaved and plain Q4_0, Q8_0, and a width that is not a multiple of 16 (which takes the separate path).
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 128, true)]
    [InlineData(GgmlType.Q4_0, 128, false)]
    [InlineData(GgmlType.Q8_0, 80, false)]
    [InlineData(GgmlType.Q6_K, 64, false)]
    [InlineData(GgmlType.Q8_0, 40, false)]
    public void GeGluPassEqualsTwoMatVecsAndTheActivation(GgmlType type, int rows, bool interleave)
    {
        (WeightMatrix gate, byte[] kg, _) = WeightMatrixTests.Build(type, rows, Columns, seed: 11);
        (WeightMatrix up, byte[] ku, _) = WeightMatrixTests.Build(type, rows, Columns, seed: 12);
        if (interleave)
        {
            gate = gate.Interleave();
            up = up.Interleave();
        }
        float[] x = QuantTestData.Random(Columns, 13);
        float[] expected = Separate(gate, x, _pool), expectedUp = Separate(up, x, _pool);
        Ops.GeGlu(expected, expectedUp, expected);
        float[] actual = new float[rows], actualUp = new float[rows];
        WeightMatrix.GeGluMatVec(x, _pool, gate, up, actual, actualUp);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedUp, actualUp);
        Assert.Contains(actual, v => v != 0);
        GC.KeepAlive(kg);
        GC.KeepAlive(ku);
    }

    [Fact]
    public void ShortOutputsAndInputsAreRefusedWithTheMatrixName()
    {
        (WeightMatrix a, byte[] ka, _) = WeightMatrixTests.Build(GgmlType.Q8_0, 32, Columns, seed: 14);
        (WeightMatrix b, byte[] kb, _) = WeightMatrixTests.Build(GgmlType.Q8_0, 32, Columns, seed: 15);
        float[] x = QuantTestData.Random(Columns, 16);
        var ex = Assert.Throws<ArgumentException>(() => WeightMatrix.MatVecShared(x, _pool, a, new float[32], b, new float[31]));
        Assert.Contains("test.weight", ex.Message);
        Assert.Throws<ArgumentException>(() => WeightMatrix.GeGluMatVec(x.AsSpan(0, Columns - 32), _pool, a, b, new float[32], new float[32]));
        GC.KeepAlive(ka);
        GC.KeepAlive(kb);
    }
}
