using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edgewise.Server.Json;

// Wire shapes of the stateless POST /v1/responses. Output items and stream events are polymorphic
// on "type" in OpenAI's schema; here each is one flat record whose unused fields stay null (omitted).

public sealed class ResponsesRequestDto
{
    public string? Model { get; set; }

    /// <summary>A string (one user turn) or an array of input items.</summary>
    public JsonElement? Input { get; set; }

    public string? Instructions { get; set; }
    public List<ResponsesToolDto?>? Tools { get; set; }
    public JsonElement? ToolChoice { get; set; }
    public bool? ParallelToolCalls { get; set; }
    public bool? Stream { get; set; }
    public int? MaxOutputTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopLogprobs { get; set; }
    public ResponsesTextDto? Text { get; set; }
    public ReasoningDto? Reasoning { get; set; }
    public string? PreviousResponseId { get; set; }
    public bool? Store { get; set; }
    public bool? Background { get; set; }
}

public sealed class ResponsesToolDto
{
    public string? Type { get; set; }
    public string? Name { get; set; }
    public string? Description { get; set; }
    public JsonElement? Parameters { get; set; }
    public bool? Strict { get; set; }
}

public sealed class ResponsesTextDto
{
    public ResponsesFormatDto? Format { get; set; }
}

public sealed class ResponsesFormatDto
{
    public string? Type { get; set; }
    public string? Name { get; set; }
    public JsonElement? Schema { get; set; }
    public bool? Strict { get; set; }
}

public sealed class ReasoningDto
{
    public string? Effort { get; set; }
}

/// <summary>Input item: a message (<c>role</c> + <c>content</c>), a replayed <c>function_call</c>, or a <c>function_call_output</c>.</summary>
public sealed class ResponsesInputItemDto
{
    public string? Type { get; set; }
    public string? Role { get; set; }
    public JsonElement? Content { get; set; }
    public string? CallId { get; set; }
    public string? Name { get; set; }
    public string? Arguments { get; set; }
    public JsonElement? Output { get; set; }
}

public sealed record ResponseObjectDto(
    string Id,
    long CreatedAt,
    string Status,
    string Model,
    IReadOnlyList<ResponseItemDto> Output,
    ResponsesUsageDto? Usage,
    IncompleteDetailsDto? IncompleteDetails,
    bool ParallelToolCalls,
    string? Instructions,
    int? MaxOutputTokens,
    float? Temperature,
    float? TopP)
{
    public string Object => "response";

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ErrorDto? Error => null;
}

public sealed record IncompleteDetailsDto(string Reason);

/// <summary><c>message</c> (role, content), <c>function_call</c> (call_id, name, arguments) or <c>reasoning</c> (summary, content).</summary>
public sealed record ResponseItemDto(string Type, string Id, string Status)
{
    public string? Role { get; init; }
    public IReadOnlyList<ResponseContentDto>? Content { get; init; }
    public string? CallId { get; init; }
    public string? Name { get; init; }
    public string? Arguments { get; init; }
    public IReadOnlyList<ResponseContentDto>? Summary { get; init; }
}

/// <summary><c>output_text</c> (text, annotations) or <c>reasoning_text</c> (text).</summary>
public sealed record ResponseContentDto(string Type, string Text)
{
    public IReadOnlyList<string>? Annotations { get; init; }

    /// <summary>The text's tokens with their log-probabilities, when <c>top_logprobs</c> asked for them.</summary>
    public IReadOnlyList<LogprobEntryDto>? Logprobs { get; init; }
}

public sealed record ResponsesUsageDto(
    int InputTokens,
    int OutputTokens,
    int TotalTokens,
    InputTokensDetailsDto InputTokensDetails,
    OutputTokensDetailsDto OutputTokensDetails);

public sealed record InputTokensDetailsDto(int CachedTokens);

public sealed record OutputTokensDetailsDto(int ReasoningTokens);

/// <summary>One server-sent event of a streamed response; <see cref="Type"/> is also the SSE event name.</summary>
public sealed record ResponseStreamEventDto(string Type, int SequenceNumber)
{
    public ResponseObjectDto? Response { get; init; }
    public int? OutputIndex { get; init; }
    public string? ItemId { get; init; }
    public int? ContentIndex { get; init; }
    public ResponseItemDto? Item { get; init; }
    public ResponseContentDto? Part { get; init; }
    public string? Delta { get; init; }

    /// <summary>On <c>response.output_text.delta</c>: the delta's tokens, when asked for.</summary>
    public IReadOnlyList<LogprobEntryDto>? Logprobs { get; init; }
    public string? Text { get; init; }
    public string? Arguments { get; init; }
    public string? Code { get; init; }
    public string? Message { get; init; }
}
