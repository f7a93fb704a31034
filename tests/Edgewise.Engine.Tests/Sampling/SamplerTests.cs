using Edgewise.Engine.Sampling;
using Xunit;

namespace Edgewise.Engine.Tests.Sampling;

public sealed class SamplerTests
{
    private static float[] LogitsFromProbabilities(params double[] p) => [.. p.Select(x => (float)Math.Log(x))];

    private static Dictionary<int, int> Histogram(Sampler sampler, float[] logits, int draws)
    {
        var counts = new Dictionary<int, int>();
        var scratch = new float[logits.Length];
        for (int i = 0; i < draws; i++)
        {
            logits.CopyTo(scratch, 0);
            int id = sampler.Sample(scratch, []).Id;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }
        return counts;
    }

    [Fact]
    public void Greedy_PicksTheFirstLargestLogit()
    {
        var sampler = new Sampler(6, SamplingOptions.Greedy);
        Assert.Equal(2, sampler.Sample(new float[] { 1, 3, 5, 5, -1, 0 }, []).Id);
        Assert.Equal(5, sampler.Sample(new float[] { 1, 3, 5, 5, -1, 9 }, []).Id);
    }

    [Fact]
    public void SameSeed_GivesTheSameTokens_DifferentSeed_DoesNot()
    {
        var logits = Enumerable.Range(0, 500).Select(i => (float)Math.Sin(i * 0.37) * 2).ToArray();
        int[] Run(ulong seed)
        {
            var sampler = new Sampler(logits.Length, new SamplingOptions { Seed = seed, Temperature = 1.3f, TopP = 0.95f, TopK = 200 });
            var ids = new int[300];
            var scratch = new float[logits.Length];
            for (int i = 0; i < ids.Length; i++)
            {
                logits.CopyTo(scratch, 0);
                ids[i] = sampler.Sample(scratch, ids.AsSpan(0, i)).Id;
            }
            return ids;
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Fact]
    public void Temperature_One_DrawsInProportionToSoftmax()
    {
        var logits = LogitsFromProbabilities(0.5, 0.25, 0.125, 0.125);
        var counts = Histogram(new Sampler(4, new SamplingOptions { Seed = 1 }), logits, 40_000);
        Assert.InRange(counts[0] / 40_000.0, 0.49, 0.51);
        Assert.InRange(counts[1] / 40_000.0, 0.24, 0.26);
        Assert.InRange(counts[2] / 40_000.0, 0.115, 0.135);
    }

    [Fact]
    public void LowTemperature_Sharpens_HighTemperature_Flattens()
    {
        var logits = LogitsFromProbabilities(0.6, 0.4);
        // p0 at temperature T is 0.6^(1/T) / (0.6^(1/T) + 0.4^(1/T)).
        double Expected(double t) => Math.Pow(0.6, 1 / t) / (Math.Pow(0.6, 1 / t) + Math.Pow(0.4, 1 / t));
        foreach (float t in new[] { 0.5f, 2f })
        {
            var counts = Histogram(new Sampler(2, new SamplingOptions { Seed = 5, Temperature = t }), logits, 20_000);
            Assert.InRange(counts[0] / 20_000.0, Expected(t) - 0.015, Expected(t) + 0.015);
        }
    }

    [Fact]
    public void TopK_OnlyEverDrawsTheKBest()
    {
        var logits = new float[] { 0.1f, 2f, 1.9f, -1f, 1.8f, 0f, 1.7f, 0.5f };
        var counts = Histogram(new Sampler(8, new SamplingOptions { Seed = 3, TopK = 3 }), logits, 3000);
        Assert.Equal(new[] { 1, 2, 4 }, counts.Keys.Order().ToArray());
    }

    [Theory]
    [InlineData(0.75f, new[] { 0, 1 })]        // 0.5 + 0.3 reaches 0.75
    [InlineData(0.81f, new[] { 0, 1, 2 })]     // needs the 0.15 token too
    [InlineData(0.4f, new[] { 0 })]            // the top token alone
    public void TopP_KeepsExactlyTheNucleus(float p, int[] nucleus)
    {
        var logits = LogitsFromProbabilities(0.5, 0.3, 0.15, 0.05);
        var counts = Histogram(new Sampler(4, new SamplingOptions { Seed = 11, TopP = p }), logits, 4000);
        Assert.Equal(nucleus, counts.Keys.Order().ToArray());
    }

    [Fact]
    public void TopP_RenormalisesInsideTheNucleus()
    {
        var logits = LogitsFromProbabilities(0.5, 0.3, 0.15, 0.05);
        var counts = Histogram(new Sampler(4, new SamplingOptions { Seed = 12, TopP = 0.75f }), logits, 40_000);
        Assert.InRange(counts[0] / 40_000.0, 0.625 - 0.01, 0.625 + 0.01); // 0.5 / 0.8
    }

    [Fact]
    public void MinP_DropsTokensBelowTheThresholdRelativeToTheBest()
    {
        // minP 0.3 of p_max 0.5 keeps p >= 0.15: ids 0, 1, 2 (0.15 exactly is kept).
        var logits = LogitsFromProbabilities(0.5, 0.2, 0.16, 0.1, 0.04);
        var counts = Histogram(new Sampler(5, new SamplingOptions { Seed = 13, MinP = 0.3f }), logits, 4000);
        Assert.Equal(new[] { 0, 1, 2 }, counts.Keys.Order().ToArray());
        var withTopK = Histogram(new Sampler(5, new SamplingOptions { Seed = 13, MinP = 0.3f, TopK = 4 }), logits, 4000);
        Assert.Equal(new[] { 0, 1, 2 }, withTopK.Keys.Order().ToArray());
    }

    [Fact]
    public void Penalties_ChangeTheCountedTokensByTheRightAmounts()
    {
        var options = new SamplingOptions
        {
            Temperature = 0f, RepetitionPenalty = 2f, PresencePenalty = 0.5f, FrequencyPenalty = 0.25f, PenaltyWindow = 4,
        };
        var sampler = new Sampler(6, options);
        var logits = new float[] { 4f, -2f, 3f, 1f, 0.5f, 10f };
        // Window = last 4 tokens: 0, 1, 1, 3 (the leading 2 and 5 fall outside it).
        sampler.Sample(logits, [2, 5, 0, 1, 1, 3]);
        Assert.Equal(4f / 2 - 0.5f - 0.25f, logits[0]);
        Assert.Equal(-2f * 2 - 0.5f - 2 * 0.25f, logits[1]);
        Assert.Equal(3f, logits[2]);
        Assert.Equal(1f / 2 - 0.5f - 0.25f, logits[3]);
        Assert.Equal(0.5f, logits[4]);
        Assert.Equal(10f, logits[5]);
    }

    [Fact]
    public void LogitBias_IsAdded_ButNeverOverridesTheMask()
    {
        var bias = new Dictionary<int, float> { [3] = 100f, [4] = 1000f };
        var sampler = new Sampler(70, new SamplingOptions { Seed = 9, LogitBias = bias });
        var allowed = new ulong[2];
        allowed[0] = 1UL << 3 | 1UL << 7;
        for (int i = 0; i < 50; i++)
        {
            var logits = new float[70];
            Assert.Equal(3, sampler.Sample(logits, [], allowed).Id);
        }
        allowed[0] = 1UL << 7 | 1UL << 8;
        allowed[1] = 1UL << (65 - 64);
        for (int i = 0; i < 200; i++)
        {
            var logits = new float[70];
            Assert.Contains(sampler.Sample(logits, [], allowed).Id, new[] { 7, 8, 65 });
        }
    }

    [Fact]
    public void EmptyMask_Throws()
    {
        var sampler = new Sampler(10, new SamplingOptions { Seed = 1 });
        Assert.Throws<InvalidOperationException>(() => sampler.Sample(new float[10], [], new ulong[1]));
    }

    [Fact]
    public void LogProbs_AreTheLogSoftmaxBeforeTemperatureAndTruncation()
    {
        var logits = new float[] { 2f, 1f, 0.5f, -1f, 3f, 0f };
        double z = logits.Sum(l => Math.Exp(l));
        var sampler = new Sampler(6, new SamplingOptions { Seed = 4, Temperature = 0.3f, TopK = 2, LogProbs = true, TopLogProbs = 3 });
        var token = sampler.Sample((float[])logits.Clone(), []);
        Assert.Equal(Math.Log(Math.Exp(logits[token.Id]) / z), token.LogProb, 5);
        var top = sampler.TopLogProbs.ToArray();
        Assert.Equal(new[] { 4, 0, 1 }, top.Select(t => t.Id).ToArray());
        for (int i = 0; i < top.Length; i++)
            Assert.Equal(logits[top[i].Id] - Math.Log(z), top[i].LogProb, 5);
        // Over a full distribution the reported probabilities sum to one.
        var all = new Sampler(6, new SamplingOptions { Temperature = 0f, TopLogProbs = 6 });
        all.Sample((float[])logits.Clone(), []);
        Assert.Equal(1.0, all.TopLogProbs.ToArray().Sum(t => Math.Exp(t.LogProb)), 5);
    }

    [Fact]
    public void LogProbs_DescribeTheModel_NotThePenaltiesBiasOrMask()
    {
        var logits = new float[] { 2f, 1f, 0.5f, -1f, 3f, 0f };
        double z = logits.Sum(l => Math.Exp(l));
        var sampler = new Sampler(6, new SamplingOptions
        {
            Temperature = 0f, RepetitionPenalty = 2f, LogitBias = new Dictionary<int, float> { [3] = 50f }, LogProbs = true, TopLogProbs = 2,
        });
        // Bias makes 3 the pick, penalty hits 4, the mask forbids 0: none of it shows in the reported values.
        var token = sampler.Sample((float[])logits.Clone(), [4], [0b111110UL]);
        Assert.Equal(3, token.Id);
        Assert.Equal(logits[3] - Math.Log(z), token.LogProb, 5);
        Assert.Equal(new[] { 4, 0 }, sampler.TopLogProbs.ToArray().Select(t => t.Id));
        Assert.Equal(logits[4] - Math.Log(z), sampler.TopLogProbs[0].LogProb, 5);
    }

    [Fact]
    public void LargeVocabulary_SamplingAllocatesNothing_AndStaysInTheNucleus()
    {
        const int vocabulary = 262_144;
        var random = new Xoshiro256StarStar(17);
        var logits = new float[vocabulary];
        for (int i = 0; i < vocabulary; i++)
            logits[i] = (float)(random.NextDouble() * 6 - 3);
        for (int i = 0; i < 40; i++)
            logits[(int)(random.NextUInt64() % vocabulary)] = 15f + i * 0.1f;
        var sampler = new Sampler(vocabulary, new SamplingOptions
        {
            Seed = 1, Temperature = 0.8f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.1f, FrequencyPenalty = 0.1f, LogProbs = true, TopLogProbs = 5,
        });
        var scratch = new float[vocabulary];
        var history = new int[64];
        // Warm up past tiered compilation's call-count threshold (30) so one-time runtime and BCL
        // initialisation (tier-up, lazily created sort helpers) is not counted as per-token allocation.
        for (int i = 0; i < 40; i++)
        {
            logits.CopyTo(scratch, 0);
            sampler.Sample(scratch, history);
        }
        var chosen = new int[20];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < chosen.Length; i++)
        {
            logits.CopyTo(scratch, 0);
            chosen[i] = sampler.Sample(scratch, history).Id;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        foreach (int id in chosen)
            Assert.True(logits[id] >= 15f, $"token {id} with logit {logits[id]} is outside the top 40");
    }

    [Fact]
    public void TopPWithoutTopK_OnAFlatVocabulary_MatchesAnExactNucleus()
    {
        const int vocabulary = 5000;
        var random = new Xoshiro256StarStar(23);
        var logits = new float[vocabulary];
        for (int i = 0; i < vocabulary; i++)
            logits[i] = (float)(random.NextDouble() * 8);
        // Exact nucleus by a full sort in double precision.
        var order = Enumerable.Range(0, vocabulary).OrderByDescending(i => logits[i]).ToArray();
        double z = logits.Sum(l => Math.Exp(l - 8));
        double cumulative = 0;
        var nucleus = new HashSet<int>();
        foreach (int id in order)
        {
            nucleus.Add(id);
            cumulative += Math.Exp(logits[id] - 8) / z;
            if (cumulative >= 0.5)
                break;
        }
        var sampler = new Sampler(vocabulary, new SamplingOptions { Seed = 2, TopP = 0.5f });
        var scratch = new float[vocabulary];
        for (int i = 0; i < 300; i++)
        {
            logits.CopyTo(scratch, 0);
            Assert.Contains(sampler.Sample(scratch, []).Id, nucleus);
        }
    }

    [Fact]
    public void InvalidOptions_AreRejectedWithTheOptionName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(10, new SamplingOptions { TopP = 0f }));
        Assert.Equal("TopP", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(10, new SamplingOptions { LogitBias = new Dictionary<int, float> { [10] = 1 } }));
        Assert.Equal("LogitBias", e.ParamName);
    }
}
