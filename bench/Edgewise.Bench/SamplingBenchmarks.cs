using BenchmarkDotNet.Attributes;
using Edgewise.Engine.Sampling;

namespace Edgewise.Bench;

/// <summary>
/// One sampling step on a 262,144-token vocabulary. Logits look like a language model's: a broad N(0, 2)-ish body
/// plus a few dozen tokens 8-18 above it. Sampling works in place; penalties only touch the 64-token window.
/// </summary>
[MemoryDiagnoser]
public class SamplingBenchmarks
{
    private const int Vocabulary = 262_144;
    private float[] _logits = [];
    private int[] _history = [];
    private Sampler _greedy = null!, _topKTopP = null!, _topPOnly = null!, _penalties = null!, _logProbs = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Xoshiro256StarStar(1234);
        _logits = new float[Vocabulary];
        for (int i = 0; i < Vocabulary; i++)
        {
            // Sum of three uniforms: a cheap bell curve, std ~2.
            double u = random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5;
            _logits[i] = (float)(u * 4);
        }
        for (int i = 0; i < 40; i++)
            _logits[(int)(random.NextUInt64() % Vocabulary)] = 8f + (float)(random.NextDouble() * 10);
        _history = new int[256];
        for (int i = 0; i < _history.Length; i++)
            _history[i] = (int)(random.NextUInt64() % Vocabulary);

        _greedy = new Sampler(Vocabulary, SamplingOptions.Greedy);
        _topKTopP = new Sampler(Vocabulary, new SamplingOptions { Seed = 1, Temperature = 0.8f, TopK = 40, TopP = 0.95f });
        _topPOnly = new Sampler(Vocabulary, new SamplingOptions { Seed = 1, Temperature = 1f, TopP = 0.9f, MinP = 0.05f });
        _penalties = new Sampler(Vocabulary, new SamplingOptions
        {
            Seed = 1, Temperature = 0.8f, TopK = 40, TopP = 0.95f, RepetitionPenalty = 1.1f, PresencePenalty = 0.5f, FrequencyPenalty = 0.5f, PenaltyWindow = 64,
        });
        _logProbs = new Sampler(Vocabulary, new SamplingOptions { Seed = 1, Temperature = 0.8f, TopK = 40, TopP = 0.95f, LogProbs = true, TopLogProbs = 5 });
    }

    [Benchmark(Baseline = true)]
    public int Greedy() => _greedy.Sample(_logits, _history).Id;

    [Benchmark]
    public int TopK40_TopP095_Temperature08() => _topKTopP.Sample(_logits, _history).Id;

    [Benchmark]
    public int TopP09_MinP_NoTopK() => _topPOnly.Sample(_logits, _history).Id;

    [Benchmark]
    public int TopKTopP_WithPenalties() => _penalties.Sample(_logits, _history).Id;

    [Benchmark]
    public int TopKTopP_WithTop5LogProbs() => _logProbs.Sample(_logits, _history).Id;
}
