namespace Edgewise.Models.Tests.Support;

/// <summary>Differences between two engines' logits over every position.</summary>
internal sealed record LogitComparison(double MaxAbs, double MeanAbs, int ArgmaxMismatches, int TrueNearTies, string Worst)
{
    /// <param name="tieMargin">A reference top-2 margin below this counts as a true near-tie.</param>
    public static LogitComparison Compare(float[][] reference, float[][] actual, double tieMargin)
    {
        double max = 0, sum = 0;
        long count = 0;
        int mismatches = 0, ties = 0;
        string worst = "";
        for (int p = 0; p < reference.Length; p++)
        {
            float[] r = reference[p], a = actual[p];
            if (r.Length != a.Length) throw new InvalidOperationException($"Position {p}: vocab {r.Length} vs {a.Length}.");
            for (int v = 0; v < r.Length; v++)
            {
                double d = Math.Abs(r[v] - a[v]);
                if (double.IsNaN(d)) d = double.PositiveInfinity;
                sum += d;
                count++;
                if (d > max)
                {
                    max = d;
                    worst = $"position {p} token {v}: reference {r[v]} vs {a[v]}";
                }
            }
            int ra = ArgMax(r), aa = ArgMax(a);
            if (ra != aa)
            {
                if (Top2Margin(r) < tieMargin) ties++;
                else mismatches++;
            }
        }
        return new LogitComparison(max, sum / count, mismatches, ties, worst);
    }

    public static int ArgMax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static double Top2Margin(float[] x)
    {
        float a = float.NegativeInfinity, b = float.NegativeInfinity;
        foreach (float v in x)
        {
            if (v > a) (a, b) = (v, a);
            else if (v > b) b = v;
        }
        return a - b;
    }

    public override string ToString() =>
        $"max |Δ| {MaxAbs:E3}, mean |Δ| {MeanAbs:E3}, argmax mismatches {ArgmaxMismatches} (+{TrueNearTies} near-ties); worst {Worst}";
}
