using Edgewise.Engine.Sampling;
using Xunit;

namespace Edgewise.Engine.Tests.Sampling;

/// <summary>Every SIMD pass against its scalar twin, over every length 0..257 (head, body and tail of the vector loop).</summary>
public sealed class LogitScanTests
{
    private static float[] Values(int length, ulong seed)
    {
        var random = new Xoshiro256StarStar(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)Math.Round(random.NextDouble() * 20 - 10, 1); // coarse, so ties happen
        return values;
    }

    [Fact]
    public void MaxAndArgMax_MatchScalar()
    {
        for (int length = 0; length <= 257; length++)
        {
            var values = Values(length, (ulong)length);
            Assert.Equal(LogitScan.MaxScalar(values), LogitScan.Max(values));
            Assert.Equal(LogitScan.ArgMaxScalar(values), LogitScan.ArgMax(values));
        }
    }

    [Fact]
    public void CollectAtLeast_MatchesScalar()
    {
        for (int length = 0; length <= 257; length++)
        {
            var values = Values(length, 1000 + (ulong)length);
            foreach (float threshold in new[] { -11f, 0f, 5.5f, 9.9f, 11f })
            {
                var fast = new int[length];
                var slow = new int[length];
                int n = LogitScan.CollectAtLeast(values, threshold, fast);
                Assert.Equal(LogitScan.CollectAtLeastScalar(values, threshold, slow), n);
                Assert.Equal(slow.AsSpan(0, n).ToArray(), fast.AsSpan(0, n).ToArray());
            }
        }
    }

    [Fact]
    public void SumExp_MatchesScalar_WithBlockSums()
    {
        foreach (int length in new[] { 0, 1, 7, 8, 9, 255, 256, 257, 1000 })
        {
            var values = Values(length, 2000 + (ulong)length);
            if (length > 3)
                values[3] = float.NegativeInfinity; // masked tokens contribute nothing
            float max = LogitScan.MaxScalar(values);
            int blocks = (length + LogitScan.ExpBlock - 1) / LogitScan.ExpBlock;
            var fast = new float[blocks];
            var slow = new float[blocks];
            double f = LogitScan.SumExp(values, max, 0.7f, fast);
            double s = LogitScan.SumExpScalar(values, max, 0.7f, slow);
            Assert.Equal(s, f, s * 1e-5);
            for (int b = 0; b < blocks; b++)
                Assert.Equal(slow[b], fast[b], slow[b] * 1e-5);
            double exact = values.Sum(v => Math.Exp((v - (double)max) * 0.7));
            Assert.Equal(exact, s, Math.Max(exact, 1) * 1e-5);
        }
    }

    [Fact]
    public void NaN_NeverWins()
    {
        var values = new float[40];
        Array.Fill(values, float.NaN);
        values[33] = -5f;
        Assert.Equal(-5f, LogitScan.Max(values));
        Assert.Equal(33, LogitScan.ArgMax(values));
        Assert.Equal(33, LogitScan.ArgMaxScalar(values));
    }

    [Fact]
    public void ApplyMask_ClearsExactlyTheUnsetBits()
    {
        var logits = Enumerable.Range(0, 130).Select(i => (float)i).ToArray();
        var mask = new ulong[3];
        mask[0] = ulong.MaxValue;
        mask[1] = 0b1010;
        LogitScan.ApplyMask(logits, mask);
        for (int i = 0; i < 130; i++)
        {
            bool allowed = i < 64 || i == 65 || i == 67;
            Assert.Equal(allowed ? i : float.NegativeInfinity, logits[i]);
        }
    }
}
