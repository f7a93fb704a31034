namespace Edgewise.Engine.Sampling;

/// <summary>
/// Turns one step's logits into a token, following <see cref="SamplingOptions"/>. One sampler per sequence: it owns
/// its random generator and every scratch buffer, so <see cref="Sample"/> allocates nothing. Not thread-safe.
/// </summary>
/// <remarks>
/// Exact, and never a sort of the whole vocabulary: top-k uses a size-k heap; top-p measures the full mass with one
/// vectorised exp pass, then sorts only a window of tokens near the top, widened until it holds the nucleus; plain
/// temperature sampling draws from per-block exp sums. Log-probs cost one more exp pass.
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
    private readonly int[] _topIds;            // [TopLogProbs]
    private readonly int[] _topKIds;           // [TopK]
    private readonly float[] _blockSums;       // [vocab / 256] exp sums per block
    private readonly float[] _raw;             // [vocab] the model's logits as given, kept only when log-probs are reported
    private int _topLogProbCount;
    private Xoshiro256StarStar _random;

    public Sampler(int vocabularySize, SamplingOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(vocabularySize);
        _vocabularySize = vocabularySize;
        Options = options;

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
        _topIds = new int[options.TopLogProbs];
        _topKIds = new int[Math.Min(options.TopK, vocabularySize)];
        _blockSums = new float[(vocabularySize + LogitScan.ExpBlock - 1) / LogitScan.ExpBlock];
        _raw = options.LogProbs || options.TopLogProbs > 0 ? new float[vocabularySize] : [];
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

        // Log-probs describe the model, as OpenAI reports them: log-softmax of the logits as given, before penalties,
        // bias, grammar mask, temperature and truncation.
        bool report = _raw.Length > 0;
        float rawLogZ = 0f;
        _topLogProbCount = 0;
        if (report)
        {
            logits.CopyTo(_raw);
            float rawMax = LogitScan.Max(_raw);
            rawLogZ = LogSumExp(_raw, rawMax);
            if (Options.TopLogProbs > 0)
                FillTopLogProbs(_raw, rawMax, rawLogZ);
        }

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

        return new SampledToken(chosen, report ? _raw[chosen] - rawLogZ : float.NaN);
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
        float minPThreshold = Options.MinP > 0f ? max + temperature * MathF.Log(Options.MinP) : float.NegativeInfinity;
        int count;
        if (Options.TopK > 0 && Options.TopK < _vocabularySize)
        {
            // HF order: top-k, then top-p and min-p inside the renormalised k.
            count = SelectTopK(logits, max, Options.TopK);
            FillWeights(logits, count, max, invT);
            var weights = _weights.AsSpan(0, count);
            if (Options.TopP < 1f)
                count = NucleusLength(weights, Options.TopP * Sum(weights));
            while (count > 1 && logits[_candidates[count - 1]] < minPThreshold)
                count--;
        }
        else if (Options.TopP < 1f)
        {
            // The nucleus is measured against the whole vocabulary's mass (one vectorised exp pass), then found among
            // the tokens near the top: the window widens until it holds p of that mass, so only it gets sorted.
            double total = Mass(logits, max, invT);
            double target = Options.TopP * total;
            for (float bound = 8f; ; bound *= 2f)
            {
                count = LogitScan.CollectAtLeast(logits, max - bound * temperature, _candidates);
                FillWeights(logits, count, max, invT);
                if (Sum(_weights.AsSpan(0, count)) >= target || count == _vocabularySize || bound > 4096f)
                    break;
            }
            SortByWeightDescending(_candidates.AsSpan(0, count), _weights.AsSpan(0, count));
            count = NucleusLength(_weights.AsSpan(0, count), target);
            while (count > 1 && logits[_candidates[count - 1]] < minPThreshold)
                count--;
        }
        else if (Options.MinP > 0f)
        {
            count = LogitScan.CollectAtLeast(logits, minPThreshold, _candidates);
            FillWeights(logits, count, max, invT);
        }
        else
        {
            return DrawFromWholeVocabulary(logits, max, invT);
        }
        return Draw(count);
    }

    /// <summary>
    /// The k best ids, best first, into the candidate buffer. A vectorised filter first narrows the heap's input to
    /// the tokens near the max (widening until at least k qualify), so the scalar heap rarely sees the whole vocabulary.
    /// </summary>
    private int SelectTopK(ReadOnlySpan<float> logits, float max, int k)
    {
        int near = 0;
        for (float bound = 4f; bound <= 64f; bound *= 2f)
        {
            near = LogitScan.CollectAtLeast(logits, max - bound, _candidates);
            if (near >= k)
                break;
        }
        if (near < k)
            return SelectTop(logits, [], k, _candidates);
        SelectTop(logits, _candidates.AsSpan(0, near), k, _topKIds);
        _topKIds.AsSpan(0, k).CopyTo(_candidates);
        return k;
    }

    /// <summary>
    /// Σ exp((logit - max)·invT) over the vocabulary. Tokens more than 30 nats (scaled) below the max carry under
    /// V·e^-30 (&lt; 3e-8 here) of it, so when few tokens are near the top only those get an exp; otherwise one
    /// vectorised pass over everything.
    /// </summary>
    private double Mass(ReadOnlySpan<float> logits, float max, float invT)
    {
        int near = LogitScan.CollectAtLeast(logits, max - 30f / invT, _candidates);
        if (near > _vocabularySize / 8)
            return LogitScan.SumExp(logits, max, invT, _blockSums);
        double total = 0;
        for (int i = 0; i < near; i++)
            total += MathF.Exp((logits[_candidates[i]] - max) * invT);
        return total;
    }

    private void FillWeights(ReadOnlySpan<float> logits, int count, float max, float invT)
    {
        for (int i = 0; i < count; i++)
            _weights[i] = MathF.Exp((logits[_candidates[i]] - max) * invT);
    }

    private static double Sum(ReadOnlySpan<float> weights)
    {
        double total = 0;
        foreach (float w in weights)
            total += w;
        return total;
    }

    /// <summary>Draws among the first <paramref name="count"/> candidates in proportion to their weights.</summary>
    private int Draw(int count)
    {
        var weights = _weights.AsSpan(0, count);
        double u = _random.NextDouble() * Sum(weights);
        double cumulative = 0;
        int lastPositive = 0;
        for (int i = 0; i < count; i++)
        {
            if (weights[i] <= 0f)
                continue; // a masked (-infinity) token that top-k had to keep
            cumulative += weights[i];
            lastPositive = i;
            if (u < cumulative)
                return _candidates[i];
        }
        return _candidates[lastPositive]; // rounding left u at the very top
    }

    /// <summary>Plain temperature sampling, exact over every token: block sums find the block, one block is walked.</summary>
    private int DrawFromWholeVocabulary(ReadOnlySpan<float> logits, float max, float invT)
    {
        double total = LogitScan.SumExp(logits, max, invT, _blockSums);
        double u = _random.NextDouble() * total;
        int blocks = (_vocabularySize + LogitScan.ExpBlock - 1) / LogitScan.ExpBlock;
        int block = 0;
        for (; block < blocks - 1; block++)
        {
            if (u < _blockSums[block])
                break;
            u -= _blockSums[block];
        }
        int begin = block * LogitScan.ExpBlock;
        int end = Math.Min(begin + LogitScan.ExpBlock, _vocabularySize);
        int lastPositive = -1;
        double cumulative = 0;
        for (int i = begin; i < end; i++)
        {
            float w = MathF.Exp((logits[i] - max) * invT);
            if (w <= 0f)
                continue;
            cumulative += w;
            lastPositive = i;
            if (u < cumulative)
                return i;
        }
        // Vector and scalar exp differ in the last bits: u can fall just past the block's scalar sum.
        return lastPositive >= 0 ? lastPositive : LogitScan.ArgMax(logits);
    }

    /// <summary>Smallest prefix (weights sorted descending) whose mass reaches <paramref name="target"/>; at least one token.</summary>
    internal static int NucleusLength(ReadOnlySpan<float> weights, double target)
    {
        double cumulative = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += weights[i];
            if (cumulative >= target)
                return i + 1;
        }
        return weights.Length;
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
    private int SelectTop(ReadOnlySpan<float> logits, ReadOnlySpan<int> subset, int k, Span<int> destination)
    {
        var heapIds = _heapIds.AsSpan(0, k);
        var heapValues = _heapValues.AsSpan(0, k);
        int size = 0;
        int n = subset.IsEmpty ? logits.Length : subset.Length;
        for (int i = 0; i < n; i++)
        {
            int id = subset.IsEmpty ? i : subset[i];
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
        int selected = size;
        while (size > 0)
        {
            destination[size - 1] = heapIds[0];
            size--;
            heapIds[0] = heapIds[size];
            heapValues[0] = heapValues[size];
            SiftDown(heapIds[..size], heapValues[..size], 0);
        }
        return selected;
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

    /// <summary>log Σ exp(logit) over the whole vocabulary.</summary>
    private float LogSumExp(ReadOnlySpan<float> logits, float max) => max + (float)Math.Log(Mass(logits, max, 1f));

    private void FillTopLogProbs(ReadOnlySpan<float> logits, float max, float logZ)
    {
        int k = Math.Min(Options.TopLogProbs, _vocabularySize);
        // Almost always the top few sit well above the rest: select among those, the whole vocabulary otherwise.
        int near = LogitScan.CollectAtLeast(logits, max - 16f, _candidates);
        int n = near >= k
            ? SelectTop(logits, _candidates.AsSpan(0, near), k, _topIds)
            : SelectTop(logits, [], k, _topIds);
        for (int i = 0; i < n; i++)
            _topLogProbs[i] = new TokenLogProb(_topIds[i], logits[_topIds[i]] - logZ);
        _topLogProbCount = n;
    }
}
