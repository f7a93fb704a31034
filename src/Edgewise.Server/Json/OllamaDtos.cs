using System.Text.Json;

namespace Edgewise.Server.Json;

// Wire shapes of Ollama's native API (/api/chat, /api/generate, /api/tags, /api/show, /api/version).
// Ollama streams by default (NDJSON, one object per line) and sends tool calls whole, arguments as an object.

/// <summary>What <c>/api/chat</c> and <c>/api/generate</c> bodies share: model, sampling options, format, thinking, log-probs.</summary>
public abstract class OllamaRequestDto
{
    public string? Model { get; set; }

    /// <summary><c>"json"</c> or a JSON Schema object.</summary>
    public JsonElement? Format { get; set; }

    public OllamaOptionsDto? Options { get; set; }
    public bool? Stream { get; set; }

    /// <summary>true/false, or a level string (<c>"low"</c>, <c>"medium"</c>, <c>"high"</c>).</summary>
    public JsonElement? Think { get; set; }

    /// <summary>Return each output token's log-probability (Ollama 0.12.11+).</summary>
    public bool? Logprobs { get; set; }

    /// <summary>Alternatives per position, 0..20; needs <see cref="Logprobs"/>.</summary>
    public int? TopLogprobs { get; set; }

    public JsonElement? KeepAlive { get; set; }
}

public sealed class OllamaChatRequestDto : OllamaRequestDto
{
    public List<OllamaMessageDto?>? Messages { get; set; }
    public List<ToolDto?>? Tools { get; set; }
}

public sealed class OllamaGenerateRequestDto : OllamaRequestDto
{
    public string? Prompt { get; set; }
    public string? Suffix { get; set; }
    public string? System { get; set; }
    public bool? Raw { get; set; }
    public List<string>? Images { get; set; }
}

public sealed class OllamaMessageDto
{
    public string? Role { get; set; }
    public string? Content { get; set; }
    public string? Thinking { get; set; }
    public List<string>? Images { get; set; }
    public List<OllamaToolCallDto>? ToolCalls { get; set; }
    public string? ToolName { get; set; }
}

public sealed class OllamaToolCallDto
{
    public OllamaFunctionCallDto? Function { get; set; }
}

public sealed class OllamaFunctionCallDto
{
    public int? Index { get; set; }
    public string? Name { get; set; }

    /// <summary>An object (Ollama's shape); a JSON-encoded string is accepted too.</summary>
    public JsonElement? Arguments { get; set; }
}

public sealed class OllamaOptionsDto
{
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public int? NumPredict { get; set; }
    public List<string>? Stop { get; set; }
    public long? Seed { get; set; }
    public float? RepeatPenalty { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public int? NumCtx { get; set; }
}

public sealed class OllamaShowRequestDto
{
    public string? Model { get; set; }

    /// <summary>Older clients send <c>name</c>.</summary>
    public string? Name { get; set; }
}

public sealed record OllamaChatResponseDto(string Model, string CreatedAt, OllamaMessageOutDto Message, bool Done)
{
    /// <summary>The chunk's tokens (streaming) or every content token (not streaming), when asked.</summary>
    public IReadOnlyList<OllamaLogprobDto>? Logprobs { get; init; }
    public string? DoneReason { get; init; }
    public long? TotalDuration { get; init; }
    public long? LoadDuration { get; init; }
    public int? PromptEvalCount { get; init; }
    public long? PromptEvalDuration { get; init; }
    public int? EvalCount { get; init; }
    public long? EvalDuration { get; init; }
}

public sealed record OllamaMessageOutDto(string Role, string Content)
{
    public string? Thinking { get; init; }
    public IReadOnlyList<OllamaToolCallOutDto>? ToolCalls { get; init; }
}

public sealed record OllamaToolCallOutDto(OllamaFunctionOutDto Function)
{
    public string? Id { get; init; }
}

public sealed record OllamaFunctionOutDto(int Index, string Name, JsonElement Arguments);

public sealed record OllamaGenerateResponseDto(string Model, string CreatedAt, string Response, bool Done)
{
    public string? Thinking { get; init; }
    public IReadOnlyList<OllamaLogprobDto>? Logprobs { get; init; }
    public string? DoneReason { get; init; }
    public long? TotalDuration { get; init; }
    public long? LoadDuration { get; init; }
    public int? PromptEvalCount { get; init; }
    public long? PromptEvalDuration { get; init; }
    public int? EvalCount { get; init; }
    public long? EvalDuration { get; init; }
}

/// <summary>Ollama's <c>Logprob</c>: a token, its log-probability and bytes, and the most likely alternatives.</summary>
public sealed record OllamaLogprobDto(string Token, float Logprob, int[] Bytes, IReadOnlyList<OllamaTopLogprobDto>? TopLogprobs);

public sealed record OllamaTopLogprobDto(string Token, float Logprob, int[] Bytes);

public sealed record OllamaTagsDto(IReadOnlyList<OllamaModelDto> Models);

public sealed record OllamaModelDto(string Name, string Model, string ModifiedAt, long Size, string Digest, OllamaModelDetailsDto Details);

public sealed record OllamaModelDetailsDto(string ParentModel, string Format, string Family, IReadOnlyList<string> Families, string ParameterSize, string QuantizationLevel);

public sealed record OllamaVersionDto(string Version);

public sealed record OllamaShowDto(
    string Modelfile,
    string Parameters,
    string Template,
    OllamaModelDetailsDto Details,
    Dictionary<string, JsonElement> ModelInfo,
    IReadOnlyList<string> Capabilities,
    string ModifiedAt);
