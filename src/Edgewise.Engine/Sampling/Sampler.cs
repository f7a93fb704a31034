namespace Edgewise.Engine.Sampling;

/// <summary>
/// Turns one step's logits into a token, following <see cref="SamplingOptions"/>. One sampler per sequence: it owns
/// its random generator and every scratch buffer, so <see cref="Sample"/> allocates nothing. Not thread-safe.
/// </summary>
/// <remarks>
/// Cost on a 262,144-token vocabulary is a few whole-vocabulary SIMD passes (max, threshold filter) plus work on the
/// candidates: without top-k only tokens within <see cref="CandidateBound"/> nats (times the temperature) of the best
/// one are considered, which loses at most a 1e-6 share of the probability mass and never sorts the vocabulary.
/// </remarks>
public sealed class Sampler
{
    private readonly int _vocabularySize;
    private readonly int[] _biasIds;
    private readonly float[] _biasValues;
    private readonly int[] _counts;          // [vocab] occurrences in the penalty window, zero between calls
    private readonly int[] _seen;            // [window] distinct ids with a non-zero count
    private readonly int[] _candidates;      // [vocab] candidate ids
    private readonly float[] _weights;       // [vocab] exp((logit - max) / T) of each candidate
    private readonly float[] _sortKeys;      // [vocab] scratch for sorting candidates by weight, descending
    private readonly int[] _heapIds;         // [max(TopK, TopLogProbs)]
    private readonly float[] _heapValues;
    private readonly TokenLogProb[] _topLogProbs;
    private int _topLogProbCount;
    private Xoshiro256StarStar _random;

    /// <summary>Candidates below max - bound·T carry at most V·e^-bound of the mass; ln(V) + 14 makes that &lt; 1e-6.</summary>
    public float CandidateBound { get; }

    public Sampler(int vocabularySize, SamplingOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(vocabularySize);
        _vocabularySize = vocabularySize;
        Options = options;
        CandidateBound = MathF.Log(vocabularySize) + 14f;

        int biasCount = options.LogitBias?.Count ?? 0;
        _biasIds = new int[biasCount];
        _biasValues = new float[biasCount];
        if (options.LogitBias is not null)
        {
            int i = 0;
            foreach (var (id, bias) in options.LogitBias.OrderBy(kv => kv.Key))
            {
                _biasIds[i] = id;
                _biasValues[i++] = bias;
            }
        }

        _counts = options.HasPenalties ? new int[vocabularySize] : [];
        _seen = options.HasPenalties ? new int[options.PenaltyWindow] : [];
        _candidates = new int[vocabularySize];
        _weights = new float[vocabularySize];
        _sortKeys = new float[vocabularySize];
        int heap = Math.Max(Math.Min(options.TopK, vocabularySize), options.TopLogProbs);
        _heapIds = new int[heap];
        _heapValues = new float[heap];
        _topLogProbs = new TokenLogProb[options.TopLogProbs];
        _random = new Xoshiro256StarStar(options.Seed ?? (ulong)Random.Shared.NextInt64());
    }

    public SamplingOptions Options { get; }

    public int VocabularySize => _vocabularySize;

    /// <summary>The alternatives reported with the last sampled token, most likely first (empty unless TopLogProbs &gt; 0).</summary>
    public ReadOnlySpan<TokenLogProb> TopLogProbs => _topLogProbs.AsSpan(0, _topLogProbCount);

    /// <summary>Restarts the random sequence, as if the sampler had been made with this seed.</summary>
    public void Reseed(ulong seed) => _random = new Xoshiro256StarStar(seed);

    /// <summary>
    /// Picks the next token. <paramref name="logits"/> ([vocab]) is modified in place (penalties, bias, mask).
    /// <paramref name="history"/> holds the tokens so far (prompt and output; the penalty window looks at its tail).
    /// <paramref name="allowed"/>, when not empty, is a bit set of allowed ids (bit i of word i/64), e.g. from a
    /// grammar; a masked token is never chosen, whatever its logit bias.
    /// </summary>
    public SampledToken Sample(Span<float> logits, ReadOnlySpan<int> history, ReadOnlySpan<ulong> allowed = default)
    {
        if (logits.Length != _vocabularySize)
            throw new ArgumentException($"expected {_vocabularySize} logits, found {logits.Length}", nameof(logits));

        if (Options.HasPenalties)
            ApplyPenalties(logits, history);
        for (int i = 0; i < _biasIds.Length; i++)
            logits[_biasIds[i]] += _biasValues[i];
        if (!allowed.IsEmpty)
            LogitScan.ApplyMask(logits, allowed);

        float max = LogitScan.Max(logits);
        if (float.IsNegativeInfinity(max))
            throw new InvalidOperationException("no token can be sampled: every logit is masked, -infinity or NaN");

        int chosen = Options.IsGreedy ? LogitScan.ArgMax(logits) : SampleStochastic(logits, max);

        float logProb = float.NaN;
        _topLogProbCount = 0;
        if (Options.LogProbs || Options.TopLogProbs > 0)
        {
            float logZ = LogSumExp(logits, max);
            logProb = logits[chosen] - logZ;
            if (Options.TopLogProbs > 0)
                FillTopLogProbs(logits, logZ);
        }
        return new SampledToken(chosen, logProb);
    }

    private void ApplyPenalties(Span<float> logits, ReadOnlySpan<int> history)
    {
        var window = history.Length > Options.PenaltyWindow ? history[^Options.PenaltyWindow..] : history;
        int distinct = 0;
        foreach (int id in window)
        {
            if ((uint)id >= (uint)_vocabularySize)
                throw new ArgumentOutOfRangeException(nameof(history), id, $"token id outside the vocabulary of {_vocabularySize}");
            if (_counts[id]++ == 0)
                _seen[distinct++] = id;
        }
        float repetition = Options.RepetitionPenalty;
        for (int i = 0; i < distinct; i++)
        {
            int id = _seen[i];
            float logit = logits[id];
            if (repetition != 1f)
                logit = logit > 0f ? logit / repetition : logit * repetition;
            logits[id] = logit - Options.PresencePenalty - _counts[id] * Options.FrequencyPenalty;
            _counts[id] = 0;
        }
    }

    private int SampleStochastic(Span<float> logits, float max)
    {
        float temperature = Options.Temperature;
        float invT = 1f / temperature;
        int count;
        bool sorted;
        if (Options.TopK > 0 && Options.TopK < _vocabularySize)
        {
            count = SelectTop(logits, Options.TopK, _candidates);
            sorted = true;
        }
        else
        {
            float threshold = max - CandidateBound * temperature;
            // min-p only prunes before the nucleus is measured when there is no nucleus: HF applies top-p first.
            if (Options.MinP > 0f && Options.TopP >= 1f)
                threshold = MathF.Max(threshold, max + temperature * MathF.Log(Options.MinP));
            count = LogitScan.CollectAtLeast(logits, threshold, _candidates);
            sorted = false;
        }

        var ids = _candidates.AsSpan(0, count);
        var weights = _weights.AsSpan(0, count);
        for (int i = 0; i < count; i++)
            weights[i] = MathF.Exp((logits[ids[i]] - max) * invT);

        if (Options.TopP < 1f || (Options.MinP > 0f && sorted))
        {
            if (!sorted)
            {
                SortByWeightDescending(ids, weights);
                sorted = true;
            }
            if (Options.TopP < 1f)
                count = NucleusLength(weights, Options.TopP);
            if (Options.MinP > 0f)
                count = MinPLength(weights[..count], Options.MinP);
        }

        double total = 0;
        for (int i = 0; i < count; i++)
            total += weights[i];
        double u = _random.NextDouble() * total;
        double cumulative = 0;
        int lastPositive = 0;
        for (int i = 0; i < count; i++)
        {
            if (weights[i] <= 0f)
                continue; // a masked (-infinity) token that top-k had to keep
            cumulative += weights[i];
            lastPositive = i;
            if (u < cumulative)
                return ids[i];
        }
        return ids[lastPositive]; // rounding left u at the very top
    }

    /// <summary>Smallest prefix (weights sorted descending) whose mass reaches p of the total; at least one token.</summary>
    internal static int NucleusLength(ReadOnlySpan<float> weights, float p)
    {
        double total = 0;
        foreach (float w in weights)
            total += w;
        double target = p * total;
        double cumulative = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += weights[i];
            if (cumulative >= target)
                return i + 1;
        }
        return weights.Length;
    }

    private static int MinPLength(ReadOnlySpan<float> weights, float minP)
    {
        float cut = weights[0] * minP;
        int n = 1;
        while (n < weights.Length && weights[n] >= cut)
            n++;
        return n;
    }

    private void SortByWeightDescending(Span<int> ids, Span<float> weights)
    {
        var keys = _sortKeys.AsSpan(0, ids.Length);
        for (int i = 0; i < keys.Length; i++)
            keys[i] = -weights[i];
        keys.Sort(ids);
        for (int i = 0; i < keys.Length; i++)
            weights[i] = -keys[i];
    }

    /// <summary>
    /// Writes the <paramref name="k"/> largest logits' ids to <paramref name="destination"/>, largest first (ties:
    /// lower id first), with a size-k min-heap: one comparison per token for almost every token.
    /// </summary>
    private int SelectTop(ReadOnlySpan<float> logits, int k, Span<int> destination)
    {
        var heapIds = _heapIds.AsSpan(0, k);
        var heapValues = _heapValues.AsSpan(0, k);
        int size = 0;
        for (int id = 0; id < logits.Length; id++)
        {
            float v = logits[id];
            if (float.IsNaN(v))
                continue;
            if (size < k)
            {
                heapIds[size] = id;
                heapValues[size] = v;
                SiftUp(heapIds, heapValues, size++);
            }
            else if (v > heapValues[0])
            {
                heapIds[0] = id;
                heapValues[0] = v;
                SiftDown(heapIds[..size], heapValues[..size], 0);
            }
        }
        // Pop smallest-first into the back of the destination so it ends up largest-first.
        int n = size;
        while (size > 0)
        {
            destination[size - 1] = heapIds[0];
            size--;
            heapIds[0] = heapIds[size];
            heapValues[0] = heapValues[size];
            SiftDown(heapIds[..size], heapValues[..size], 0);
        }
        return n;
    }

    // Heap order: the root is the "worst" entry: smallest value, and among equal values the highest id.
    private static bool Worse(float va, int ia, float vb, int ib) => va < vb || (va == vb && ia > ib);

    private static void SiftUp(Span<int> ids, Span<float> values, int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!Worse(values[i], ids[i], values[parent], ids[parent]))
                break;
            (ids[i], ids[parent]) = (ids[parent], ids[i]);
            (values[i], values[parent]) = (values[parent], values[i]);
            i = parent;
        }
    }

    private static void SiftDown(Span<int> ids, Span<float> values, int i)
    {
        while (true)
        {
            int left = 2 * i + 1;
            if (left >= ids.Length)
                return;
            int worst = left;
            int right = left + 1;
            if (right < ids.Length && Worse(values[right], ids[right], values[left], ids[left]))
                worst = right;
            if (!Worse(values[worst], ids[worst], values[i], ids[i]))
                return;
            (ids[i], ids[worst]) = (ids[worst], ids[i]);
            (values[i], values[worst]) = (values[worst], values[i]);
            i = worst;
        }
    }

    /// <summary>log Σ exp(logit), over the tokens within the candidate bound of the max (the rest is below 1e-6 of the mass).</summary>
    private float LogSumExp(ReadOnlySpan<float> logits, float max)
    {
        int count = LogitScan.CollectAtLeast(logits, max - CandidateBound, _candidates);
        double sum = 0;
        for (int i = 0; i < count; i++)
            sum += Math.Exp(logits[_candidates[i]] - max);
        return max + (float)Math.Log(sum);
    }

    private void FillTopLogProbs(ReadOnlySpan<float> logits, float logZ)
    {
        int n = SelectTop(logits, Math.Min(Options.TopLogProbs, _vocabularySize), _candidates);
        for (int i = 0; i < n; i++)
        {
            int id = _candidates[i];
            _topLogProbs[i] = new TokenLogProb(id, logits[id] - logZ);
        }
        _topLogProbCount = n;
    }
}
