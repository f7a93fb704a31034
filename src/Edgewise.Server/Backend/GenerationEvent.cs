namespace Edgewise.Server.Backend;

/// <summary>
/// One step of a generation stream. <see cref="Choice"/> is the choice index (0..n-1); events of
/// different choices may interleave.
/// </summary>
public abstract record GenerationEvent(int Choice);

/// <summary>Visible answer text. <see cref="Logprobs"/> holds one entry per token in the delta when requested.</summary>
public sealed record TextDeltaEvent(int Choice, string Text, IReadOnlyList<TokenLogprob>? Logprobs = null) : GenerationEvent(Choice);

/// <summary>Thinking text (Gemma 4 thought channel), streamed as <c>reasoning_content</c>.</summary>
public sealed record ReasoningDeltaEvent(int Choice, string Text) : GenerationEvent(Choice);

/// <summary>A tool call begins. <see cref="Index"/> is its position in the choice's call list (0, 1, ...).</summary>
public sealed record ToolCallStartEvent(int Choice, int Index, string Id, string Name) : GenerationEvent(Choice);

/// <summary>A piece of the call's arguments JSON text; pieces concatenate to the full arguments object.</summary>
public sealed record ToolCallArgumentsEvent(int Choice, int Index, string Fragment) : GenerationEvent(Choice);

public sealed record ToolCallEndEvent(int Choice, int Index) : GenerationEvent(Choice);

public sealed record FinishedEvent(int Choice, FinishReason Reason) : GenerationEvent(Choice);

/// <summary>Final event of the stream: token counts over all choices and where the time went.</summary>
public sealed record UsageEvent(GenerationUsage Usage) : GenerationEvent(0);

public enum FinishReason
{
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// <param name="PromptTokens">Prompt tokens, including <paramref name="CachedPromptTokens"/>.</param>
/// <param name="CachedPromptTokens">Prompt tokens served from the prefix cache (not recomputed).</param>
/// <param name="ReasoningTokens">Completion tokens spent in the thought channel.</param>
public sealed record GenerationUsage(
    int PromptTokens,
    int CompletionTokens,
    int CachedPromptTokens = 0,
    int ReasoningTokens = 0,
    TimeSpan PrefillTime = default,
    TimeSpan DecodeTime = default)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A sampled token's log-probability and the most likely alternatives at that position.</summary>
public sealed record TokenLogprob(string Token, float Logprob, byte[] Bytes, IReadOnlyList<TopLogprob> Top);

public sealed record TopLogprob(string Token, float Logprob, byte[] Bytes);
