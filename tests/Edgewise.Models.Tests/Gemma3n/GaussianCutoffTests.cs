using Edgewise.Models.Gemma3n;
using Xunit;

namespace Edgewise.Models.Tests.Gemma3n;

/// <summary>The sparse FFN's Gaussian top-k cutoff (HF <c>_gaussian_topk</c>): mean + σ·multiplier over one row of gates.</summary>
public sealed class GaussianCutoffTests
{
    /// <summary>
    /// The vector sums give the two-pass definition (a scalar double loop here) to float precision, for widths with and
    /// without a tail past the last eight values, with the population and the sample σ, and for rows far off zero
    /// (where a one-pass Σx² − n·mean² would lose digits).
    /// </summary>
    [Theory]
    [InlineData(8192, false, 0f)]
    [InlineData(8192, true, 0f)]
    [InlineData(8195, false, 0f)]
    [InlineData(13, true, 0f)]
    [InlineData(7, false, 0f)]
    [InlineData(8192, false, 1000f)]
    public void CutoffIsTheTwoPassDefinition(int width, bool sampleStd, float offset)
    {
        var rng = new Random(width);
        float[] gate = new float[width];
        for (int i = 0; i < width; i++) gate[i] = offset + (float)(rng.NextDouble() * 4 - 2);
        const float multiplier = 1.6448536f;   // Φ⁻¹(0.95): Gemma 3n's sparse layers
        double mean = 0;
        foreach (float g in gate) mean += g;
        mean /= width;
        double sq = 0;
        foreach (float g in gate) sq += (g - mean) * (g - mean);
        float expected = (float)(mean + Math.Sqrt(sq / (sampleStd ? width - 1 : width)) * multiplier);
        float actual = Gemma3nState.GaussianCutoff(gate, multiplier, sampleStd);
        Assert.True(Math.Abs(actual - expected) <= 1e-6f * Math.Max(1f, Math.Abs(expected)), $"{actual} vs {expected}");
    }
}
