namespace Edgewise.Engine.Sessions;

public enum GenerationUpdateKind
{
    /// <summary>Visible answer text; <see cref="GenerationUpdate.Text"/> is the delta.</summary>
    Text,

    /// <summary>Thinking-channel text; <see cref="GenerationUpdate.Text"/> is the delta.</summary>
    Reasoning,

    /// <summary>A tool call begins: <see cref="GenerationUpdate.Text"/> is the function name, <see cref="GenerationUpdate.ToolCallId"/> its id.</summary>
    ToolCallStart,

    /// <summary>A fragment of the call's JSON arguments; fragments of one call concatenate to a JSON object.</summary>
    ToolCallArguments,

    /// <summary>The call's arguments are complete.</summary>
    ToolCallEnd,

    /// <summary>The last update of a turn: <see cref="GenerationUpdate.Usage"/> is set.</summary>
    Finished,

    /// <summary>
    /// A token was sampled (only when <see cref="Sampling.SamplingOptions.LogProbs"/> or <c>TopLogProbs</c> asks):
    /// <see cref="GenerationUpdate.Logprobs"/> is set. It comes before the text updates the token leads to; the text
    /// may be held back a few tokens (a stop string or call syntax might begin), and end-of-turn tokens get none.
    /// </summary>
    Logprobs,
}

/// <summary>
/// One step of a streamed turn. A value type so a stream of deltas costs only its text.
/// <see cref="ToolCallIndex"/> numbers the calls of one turn from 0.
/// </summary>
public readonly record struct GenerationUpdate(GenerationUpdateKind Kind, string Text, int ToolCallIndex = -1, string? ToolCallId = null, GenerationUsage? Usage = null,
    SampledTokenLogprobs? Logprobs = null)
{
    public static GenerationUpdate Finished(GenerationUsage usage) => new(GenerationUpdateKind.Finished, "", Usage: usage);
}

/// <summary>
/// A sampled token's log-probability under the model (log-softmax of its logits, before penalties, grammar mask and
/// temperature) and the most likely tokens at that position, most likely first.
/// </summary>
public sealed record SampledTokenLogprobs(int TokenId, float LogProb, IReadOnlyList<Sampling.TokenLogProb> Top);

public enum FinishReason
{
    /// <summary>An end-of-turn token, a stop string, or a complete constrained output.</summary>
    Stop,

    /// <summary>The completion-token cap or the context was reached.</summary>
    Length,

    /// <summary>The turn ended after one or more tool calls.</summary>
    ToolCalls,
}

/// <param name="PromptTokens">Tokens of the rendered prompt, <paramref name="CachedTokens"/> included.</param>
/// <param name="CachedTokens">Prompt tokens already in the session's KV cache (prefix reuse): not recomputed.</param>
/// <param name="CompletionTokens">Tokens sampled, the end-of-turn token included.</param>
/// <param name="StopSequence">The stop string that ended the turn, if one did.</param>
/// <param name="TimeToFirstToken">From the start of the turn to the first sampled token (prefill included).</param>
/// <param name="ReasoningTokens">Completion tokens spent in the thought channel (its markup included).</param>
public sealed record GenerationUsage(
    int PromptTokens,
    int CachedTokens,
    int CompletionTokens,
    TimeSpan PrefillTime,
    TimeSpan DecodeTime,
    FinishReason FinishReason,
    string? StopSequence = null,
    TimeSpan TimeToFirstToken = default,
    int ReasoningTokens = 0)
{
    /// <summary>Prompt tokens actually run through the model.</summary>
    public int PrefilledTokens => PromptTokens - CachedTokens;

    public double PrefillTokensPerSecond => PrefillTime > TimeSpan.Zero ? PrefilledTokens / PrefillTime.TotalSeconds : 0;

    /// <summary>Decode speed over the tokens after the first (the first one's logits come from prefill).</summary>
    public double DecodeTokensPerSecond => DecodeTime > TimeSpan.Zero && CompletionTokens > 1 ? (CompletionTokens - 1) / DecodeTime.TotalSeconds : 0;
}
