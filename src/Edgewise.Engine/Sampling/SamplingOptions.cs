namespace Edgewise.Engine.Sampling;

/// <summary>
/// How a <see cref="Sampler"/> turns logits into a token. Defaults are neutral (temperature 1, no truncation,
/// no penalties). The order of operations follows HF transformers' <c>generate</c>: penalties, logit bias,
/// grammar mask, temperature, top-k, top-p, min-p, then a seeded draw.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 (or less) means greedy argmax.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the K most likely tokens; 0 turns it off.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P (nucleus); 1 turns it off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below MinP times the most likely token's; 0 turns it off.</summary>
    public float MinP { get; init; }

    /// <summary>llama.cpp/CTRL style: a seen token's positive logit is divided by this, a negative one multiplied; 1 turns it off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI style: subtracted once from the logit of every token seen in the window.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI style: subtracted from a token's logit once per occurrence in the window.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>How many of the most recent tokens the penalties look at (llama.cpp's <c>penalty_last_n</c>).</summary>
    public int PenaltyWindow { get; init; } = 64;

    /// <summary>Added to the logit of each listed token id before masking (OpenAI <c>logit_bias</c>).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed of the sampler's own xoshiro256** generator; null draws a random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Report the chosen token's log-probability (the model's log-softmax: before penalties, bias, grammar mask, temperature and truncation, as OpenAI reports it).</summary>
    public bool LogProbs { get; init; }

    /// <summary>How many most likely alternatives to report with each token (OpenAI <c>top_logprobs</c>, 0..20).</summary>
    public int TopLogProbs { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    public bool IsGreedy => Temperature <= 0f;

    internal bool HasPenalties =>
        PenaltyWindow > 0 && (RepetitionPenalty != 1f || PresencePenalty != 0f || FrequencyPenalty != 0f);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option that is out of range.</summary>
    public void Validate(int vocabularySize)
    {
        if (float.IsNaN(Temperature) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "expected a finite temperature");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "expected TopK >= 0");
        if (!(TopP > 0f && TopP <= 1f))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "expected 0 < TopP <= 1");
        if (!(MinP >= 0f && MinP < 1f))
            throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "expected 0 <= MinP < 1");
        if (!(RepetitionPenalty > 0f) || float.IsInfinity(RepetitionPenalty))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "expected a finite RepetitionPenalty > 0");
        if (PenaltyWindow < 0)
            throw new ArgumentOutOfRangeException(nameof(PenaltyWindow), PenaltyWindow, "expected PenaltyWindow >= 0");
        if (TopLogProbs is < 0 or > 20)
            throw new ArgumentOutOfRangeException(nameof(TopLogProbs), TopLogProbs, "expected 0 <= TopLogProbs <= 20");
        if (LogitBias is not null)
        {
            foreach (var (id, bias) in LogitBias)
            {
                if ((uint)id >= (uint)vocabularySize)
                    throw new ArgumentOutOfRangeException(nameof(LogitBias), id, $"token id outside the vocabulary of {vocabularySize}");
                if (float.IsNaN(bias))
                    throw new ArgumentOutOfRangeException(nameof(LogitBias), bias, $"bias of token {id} is NaN");
            }
        }
    }
}

/// <summary>The token a <see cref="Sampler"/> chose; <see cref="LogProb"/> is NaN unless log-probs were requested.</summary>
public readonly record struct SampledToken(int Id, float LogProb);

/// <summary>One alternative reported with <see cref="SamplingOptions.TopLogProbs"/>.</summary>
public readonly record struct TokenLogProb(int Id, float LogProb);
