using Edgewise.Core.Kernels;
using Edgewise.Core.Tests.Quantization;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public class OpsTests
{
    private static void Close(float expected, float actual, float relative, string what)
    {
        float tolerance = relative * Math.Max(1f, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected}, got {actual}");
    }

    private delegate void Kernel(float[] a, float[] b, float[] dst, bool fast);

    /// <summary>Runs <paramref name="kernel"/> fast and scalar on the same inputs, for every length 0..257.</summary>
    private static void FastMatchesScalar(Kernel kernel, float relative, float inputScale = 4f)
    {
        for (int n = 0; n <= 257; n++)
        {
            float[] a = QuantTestData.Random(n, n, inputScale);
            float[] b = QuantTestData.Random(n, n + 1000, inputScale);
            float[] fast = QuantTestData.Random(n, n + 2000);
            float[] scalar = (float[])fast.Clone();
            kernel(a, b, fast, true);
            kernel(a, b, scalar, false);
            for (int i = 0; i < n; i++) Close(scalar[i], fast[i], relative, $"length {n} index {i}");
        }
    }

    [Fact] public void AddFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.Add(a, b, d, f), 0);
    [Fact] public void MultiplyFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.Multiply(a, b, d, f), 0);
    [Fact] public void ScaleFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.Scale(a, 0.37f, d, f), 0);
    [Fact] public void AddScaledFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.AddScaled(a, -1.7f, d, f), 1e-6f);
    [Fact] public void GeluTanhFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.GeluTanh(a, d, f), 2e-6f);
    [Fact] public void GeGluFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.GeGlu(a, b, d, f), 2e-6f);
    [Fact] public void RmsNormFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.RmsNorm(a, b, 1e-6f, d, f), 1e-5f);
    [Fact] public void RmsNormWithoutWeightFastMatchesScalar() => FastMatchesScalar((a, b, d, f) => Ops.RmsNorm(a, [], 1e-6f, d, f), 1e-5f);

    [Fact]
    public void SoftcapFastMatchesScalar() => FastMatchesScalar((a, b, d, f) =>
    {
        a.CopyTo(d, 0);
        Ops.Softcap(d, 30f, f);
    }, 1e-5f, inputScale: 100f);

    [Fact]
    public void SoftmaxFastMatchesScalar() => FastMatchesScalar((a, b, d, f) =>
    {
        a.CopyTo(d, 0);
        Ops.Softmax(d, f);
    }, 1e-5f, inputScale: 20f);

    /// <summary>The vector maximum is the scalar fold's, exactly: every length, a NaN anywhere, and −0 beside +0.</summary>
    [Fact]
    public void MaxIsTheScalarFoldForEveryLength()
    {
        for (int n = 0; n <= 70; n++)
        {
            float[] x = QuantTestData.Random(n, n, 10f);
            float fold = float.NegativeInfinity;
            foreach (float v in x) fold = MathF.Max(fold, v);
            Assert.Equal(fold, Ops.Max(x));
            if (n == 0) continue;
            x[n / 2] = float.NaN;
            Assert.True(float.IsNaN(Ops.Max(x)), $"length {n}: a NaN at {n / 2} was lost");
            Array.Fill(x, -0f);
            x[n - 1] = 0f;
            Assert.True(float.IsPositive(Ops.Max(x)), $"length {n}: +0 is larger than -0");
        }
    }

    [Fact]
    public void ExpShiftedFastMatchesScalarAndReturnsTheSum()
    {
        for (int n = 0; n <= 97; n++)
        {
            float[] fast = QuantTestData.Random(n, n, 10f);
            float[] scalar = (float[])fast.Clone();
            float max = n == 0 ? 0 : fast.Max();
            float fastSum = Ops.ExpShifted(fast, max, fast: true), scalarSum = Ops.ExpShifted(scalar, max, fast: false);
            for (int i = 0; i < n; i++) Close(scalar[i], fast[i], 1e-6f, $"length {n} index {i}");
            Close(scalarSum, fastSum, 1e-5f, $"sum of {n}");
            Close((float)scalar.Sum(v => (double)v), scalarSum, 1e-5f, $"sum of {n} against the values");
        }
    }

    /// <summary>
    /// Attention's weighted sum of value rows, at head widths around the 64-wide register slice and its 8-wide tail,
    /// rows scattered (a ring's wrap-around): fast equals the scalar twin bit for bit (one fma per row, in row
    /// order), and both equal the double-precision sum within rounding.
    /// </summary>
    [Fact]
    public void AddWeightedRowsFastEqualsScalarAndTheDefinition()
    {
        foreach (int d in new[] { 1, 7, 8, 64, 72, 256, 259 })
        {
            foreach (int rows in new[] { 0, 1, 5, 64 })
            {
                float[] values = QuantTestData.Random(80 * d, d + rows, 3f);
                int[] offsets = Enumerable.Range(0, rows).Select(j => (j * 37 % 80) * d).ToArray();
                float[] weights = QuantTestData.Random(rows, rows + 7);
                float[] start = QuantTestData.Random(d, d);
                float[] fast = (float[])start.Clone(), scalar = (float[])start.Clone();
                Ops.AddWeightedRows(values, offsets, weights, fast, fast: true);
                Ops.AddWeightedRows(values, offsets, weights, scalar, fast: false);
                Assert.Equal(scalar, fast);
                for (int i = 0; i < d; i++)
                {
                    double expected = start[i], magnitude = Math.Abs(start[i]);
                    for (int j = 0; j < rows; j++)
                    {
                        expected += (double)weights[j] * values[offsets[j] + i];
                        magnitude += Math.Abs((double)weights[j] * values[offsets[j] + i]);
                    }
                    Assert.True(Math.Abs(fast[i] - expected) <= 1e-6 * (magnitude + 1), $"d {d} rows {rows} index {i}: {fast[i]} vs {expected}");
                }
            }
        }
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.AddWeightedRows(new float[10], [4], [1f], new float[8]));
        Assert.Contains("leaves the 10 values", outside.Message);
    }

    [Fact]
    public void DotFastMatchesScalar()
    {
        for (int n = 0; n <= 257; n++)
        {
            float[] a = QuantTestData.Random(n, n);
            float[] b = QuantTestData.Random(n, n + 1);
            Close(Ops.Dot(a, b, fast: false), Ops.Dot(a, b, fast: true), 1e-5f, $"length {n}");
        }
    }

    [Fact]
    public void RopeFastMatchesScalar()
    {
        foreach ((int headDim, int rotary) in new[] { (2, 2), (8, 8), (34, 34), (256, 256), (512, 128), (512, 512), (18, 6) })
        {
            float[] inv = new float[headDim / 2];
            Ops.RopeFrequencies(headDim, 10000f, rotary / 2, [], inv);
            float[] fast = QuantTestData.Random(headDim * 3, headDim);
            float[] scalar = (float[])fast.Clone();
            Ops.RopeRotateHalf(fast, headDim, rotary, inv, 77, fast: true);
            Ops.RopeRotateHalf(scalar, headDim, rotary, inv, 77, fast: false);
            for (int i = 0; i < fast.Length; i++) Close(scalar[i], fast[i], 1e-6f, $"head {headDim} index {i}");
        }
    }

    [Fact]
    public void GeluTanhMatchesKnownValues()
    {
        // gelu_tanh reference values (PyTorch gelu(approximate="tanh")).
        float[] x = [-3f, -1f, 0f, 0.5f, 1f, 2f, 10f, -10f, 20f, -20f, 0f, 0f, 0f, 0f, 0f, 0f];
        float[] expected = [-0.0036373932f, -0.15880801f, 0f, 0.34571401f, 0.84119199f, 1.9545977f, 10f, 0f, 20f, 0f, 0, 0, 0, 0, 0, 0];
        var y = new float[x.Length];
        Ops.GeluTanh(x, y);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(expected[i] - y[i]) < 2e-6f, $"gelu({x[i]}) = {y[i]}, expected {expected[i]}");
    }

    [Fact]
    public void RmsNormAndSoftmaxMatchDefinitions()
    {
        float[] x = [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f];
        float[] w = [1f, 2f, 1f, 2f, 1f, 2f, 1f, 2f, 1f];
        var y = new float[9];
        Ops.RmsNorm(x, w, 1e-6f, y);
        float rms = MathF.Sqrt((1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81) / 9f + 1e-6f);
        for (int i = 0; i < 9; i++) Close(x[i] / rms * w[i], y[i], 1e-6f, $"rmsnorm {i}");

        float[] logits = [1000f, 1001f, 1002f, 0f, 0f, 0f, 0f, 0f, -1000f];
        Ops.Softmax(logits);
        float denominator = 1 + MathF.Exp(-1) + MathF.Exp(-2);
        Close(1 / denominator, logits[2], 1e-6f, "softmax max");
        Close(MathF.Exp(-2) / denominator, logits[0], 1e-6f, "softmax first");
        Assert.Equal(0f, logits[8]);
    }

    [Fact]
    public void SoftcapSaturatesAtTheCap()
    {
        float[] x = [1e6f, -1e6f, 0f, 15f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f];
        Ops.Softcap(x, 30f);
        Assert.Equal(30f, x[0]);
        Assert.Equal(-30f, x[1]);
        Assert.Equal(0f, x[2], 5);
        Close(30f * MathF.Tanh(0.5f), x[3], 1e-6f, "softcap(15)");
    }

    /// <summary>A vocabulary of logits softcapped over a pool gives exactly one call's result, odd tail included.</summary>
    [Fact]
    public void SoftcapOverAPoolEqualsOneCall()
    {
        using var pool = new WorkerPool(2) { MinRangeWork = 0 };
        float[] expected = QuantTestData.Random(262_144 + 37, 3);
        for (int i = 0; i < expected.Length; i++) expected[i] *= 100f;
        float[] actual = (float[])expected.Clone();
        Ops.Softcap(expected, 30f);
        Ops.Softcap(actual, 30f, pool);
        Assert.Equal(expected, actual);
        Assert.Contains(actual, v => v > 29f);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Softcap(actual, 0f, pool));
    }

    /// <summary>Spec §2.2: pairs (i, i + D/2); with proportional RoPE only the first 64 of 256 pairs turn.</summary>
    [Fact]
    public void RopeRotatesHalvesAndLeavesUnrotatedPairsAlone()
    {
        const int headDim = 512, position = 5;
        float[] inv = new float[headDim / 2];
        Ops.RopeFrequencies(headDim, 1_000_000f, 64, [], inv);
        Assert.Equal(0f, inv[64]);
        Assert.Equal((float)Math.Pow(1_000_000, -2.0 * 3 / 512), inv[3], 6);

        float[] head = QuantTestData.Random(headDim, 21);
        float[] original = (float[])head.Clone();
        Ops.RopeRotateHalf(head, headDim, headDim, inv, position);
        for (int i = 0; i < headDim / 2; i++)
        {
            float angle = position * inv[i];
            float a = original[i], b = original[i + 256];
            Close(a * MathF.Cos(angle) - b * MathF.Sin(angle), head[i], 1e-6f, $"x[{i}]");
            Close(b * MathF.Cos(angle) + a * MathF.Sin(angle), head[i + 256], 1e-6f, $"x[{i + 256}]");
            if (i >= 64)
            {
                Assert.Equal(original[i], head[i]);
                Assert.Equal(original[i + 256], head[i + 256]);
            }
        }

        // The same rotation expressed as 128 rotary dims, or with llama.cpp's rope_freqs factors (1e30 = unrotated).
        float[] partial = (float[])original.Clone();
        Ops.RopeRotateHalf(partial, headDim, 128, inv, position);
        Assert.Equal(head, partial);
        float[] factors = new float[256];
        for (int i = 0; i < 256; i++) factors[i] = i < 64 ? 1f : 1e30f;
        float[] llamaInv = new float[256];
        Ops.RopeFrequencies(headDim, 1_000_000f, 256, factors, llamaInv);
        float[] viaFactors = (float[])original.Clone();
        Ops.RopeRotateHalf(viaFactors, headDim, headDim, llamaInv, position);
        for (int i = 0; i < headDim; i++) Close(head[i], viaFactors[i], 1e-6f, $"factors {i}");
    }
}
