using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edgewise.Server.Json;

// Wire shapes of the legacy POST /v1/completions (raw prompt, no chat template).

public sealed class CompletionRequestDto
{
    public string? Model { get; set; }

    /// <summary>A string, or an array holding one string.</summary>
    public JsonElement? Prompt { get; set; }

    public string? Suffix { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public int? N { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }

    /// <summary>Legacy form: the number of alternatives per token (0..5), not a boolean.</summary>
    public int? Logprobs { get; set; }

    public bool? Echo { get; set; }
    public JsonElement? Stop { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? RepetitionPenalty { get; set; }
    public long? Seed { get; set; }
    public Dictionary<string, float>? LogitBias { get; set; }
}

public sealed record CompletionDto(string Id, long Created, string Model, IReadOnlyList<CompletionChoiceDto> Choices, UsageDto? Usage)
{
    public string Object => "text_completion";
    public string SystemFingerprint => ServerInfo.SystemFingerprint;
}

public sealed record CompletionChoiceDto(
    string Text,
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>> TopLogprobs,
    IReadOnlyList<int> TextOffset);
