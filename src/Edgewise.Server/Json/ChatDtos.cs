using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edgewise.Server.Json;

// Wire shapes of POST /v1/chat/completions. Fields OpenAI clients send in more than one shape
// (content, stop, tool_choice, arguments) are JsonElement here and resolved by ChatRequestMapper,
// which names the offending field when a shape is wrong.

public sealed class ChatCompletionRequestDto
{
    public string? Model { get; set; }
    public List<ChatMessageDto?>? Messages { get; set; }
    public List<ToolDto?>? Tools { get; set; }
    public JsonElement? ToolChoice { get; set; }
    public bool? ParallelToolCalls { get; set; }
    public ResponseFormatDto? ResponseFormat { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
    public JsonElement? Stop { get; set; }
    public long? Seed { get; set; }
    public int? MaxTokens { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? RepetitionPenalty { get; set; }
    public int? N { get; set; }
    public Dictionary<string, float>? LogitBias { get; set; }

    /// <summary>Thinking switch (Edgewise, also vLLM/SGLang spelling at top level).</summary>
    public bool? EnableThinking { get; set; }

    /// <summary>OpenAI reasoning models' knob: any effort other than <c>none</c>/<c>minimal</c> turns thinking on.</summary>
    public string? ReasoningEffort { get; set; }

    /// <summary>llama.cpp / vLLM pass-through to the template; <c>enable_thinking</c> is honoured.</summary>
    public Dictionary<string, JsonElement>? ChatTemplateKwargs { get; set; }

    /// <summary>Deprecated OpenAI function calling, mapped onto <see cref="Tools"/>.</summary>
    public List<FunctionDefinitionDto?>? Functions { get; set; }

    public JsonElement? FunctionCall { get; set; }
}

public sealed class ChatMessageDto
{
    public string? Role { get; set; }
    public JsonElement? Content { get; set; }
    public string? Name { get; set; }
    public List<ToolCallDto?>? ToolCalls { get; set; }
    public string? ToolCallId { get; set; }
    public string? ReasoningContent { get; set; }
}

public sealed class ToolCallDto
{
    public string? Id { get; set; }
    public string? Type { get; set; }
    public FunctionCallDto? Function { get; set; }
}

public sealed class FunctionCallDto
{
    public string? Name { get; set; }

    /// <summary>A JSON-encoded string per OpenAI; some clients send the object itself.</summary>
    public JsonElement? Arguments { get; set; }
}

public sealed class ToolDto
{
    public string? Type { get; set; }
    public FunctionDefinitionDto? Function { get; set; }
}

public sealed class FunctionDefinitionDto
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public JsonElement? Parameters { get; set; }
    public bool? Strict { get; set; }
}

public sealed class ResponseFormatDto
{
    public string? Type { get; set; }
    public JsonSchemaFormatDto? JsonSchema { get; set; }

    /// <summary>Schema at the top level (llama.cpp / older client shape).</summary>
    public JsonElement? Schema { get; set; }
}

public sealed class JsonSchemaFormatDto
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public JsonElement? Schema { get; set; }
    public bool? Strict { get; set; }
}

public sealed class StreamOptionsDto
{
    public bool? IncludeUsage { get; set; }
}

// ---- responses ----

public sealed record ChatCompletionDto(
    string Id,
    long Created,
    string Model,
    IReadOnlyList<ChatChoiceDto> Choices,
    UsageDto Usage)
{
    public string Object => "chat.completion";
    public string SystemFingerprint => ServerInfo.SystemFingerprint;
}

public sealed record ChatChoiceDto(
    int Index,
    AssistantMessageDto Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] LogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record AssistantMessageDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content,
    string? ReasoningContent,
    IReadOnlyList<ToolCallOutDto>? ToolCalls)
{
    public string Role => "assistant";
}

public sealed record ToolCallOutDto(string Id, FunctionOutDto Function)
{
    public string Type => "function";
}

public sealed record FunctionOutDto(string Name, string Arguments);

public sealed record ChatChunkDto(
    string Id,
    long Created,
    string Model,
    IReadOnlyList<ChunkChoiceDto> Choices,
    UsageDto? Usage)
{
    public string Object => "chat.completion.chunk";
    public string SystemFingerprint => ServerInfo.SystemFingerprint;
}

public sealed record ChunkChoiceDto(
    int Index,
    DeltaDto Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] LogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record DeltaDto(
    string? Role = null,
    string? Content = null,
    string? ReasoningContent = null,
    IReadOnlyList<ToolCallDeltaDto>? ToolCalls = null);

/// <summary>First fragment of a call: index, id, type, name, empty arguments; later ones: index and arguments only.</summary>
public sealed record ToolCallDeltaDto(int Index, string? Id, string? Type, FunctionDeltaDto Function);

public sealed record FunctionDeltaDto(string? Name, string? Arguments);

public sealed record UsageDto(
    int PromptTokens,
    int CompletionTokens,
    int TotalTokens,
    PromptTokensDetailsDto PromptTokensDetails,
    CompletionTokensDetailsDto CompletionTokensDetails);

public sealed record PromptTokensDetailsDto(int CachedTokens);

public sealed record CompletionTokensDetailsDto(int ReasoningTokens);

public sealed record LogprobsDto(IReadOnlyList<LogprobEntryDto> Content);

public sealed record LogprobEntryDto(string Token, float Logprob, int[] Bytes, IReadOnlyList<TopLogprobDto> TopLogprobs);

public sealed record TopLogprobDto(string Token, float Logprob, int[] Bytes);
