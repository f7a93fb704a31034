using System.Text.Json;

namespace Edgewise.Server.Backend;

/// <summary>
/// One generation request in neutral terms, already validated by the HTTP layer: roles are known,
/// tool names are unique, schemas are structurally sound, numbers are in range.
/// Either <see cref="Messages"/> (chat mode, rendered by the model's template) or <see cref="Prompt"/>
/// (raw mode: <c>/v1/completions</c>, <c>/api/generate</c> with <c>raw</c>) is set, never both.
/// </summary>
public sealed record GenerationRequest
{
    public required string Model { get; init; }

    public IReadOnlyList<ConversationMessage> Messages { get; init; } = [];

    /// <summary>Raw prompt text, tokenized as is (special tokens parsed) with no chat template.</summary>
    public string? Prompt { get; init; }

    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];

    public ToolChoice ToolChoice { get; init; } = ToolChoice.Auto;

    /// <summary>When false, at most one tool call per turn.</summary>
    public bool ParallelToolCalls { get; init; } = true;

    public ResponseFormat ResponseFormat { get; init; } = ResponseFormat.Text;

    public SamplingParameters Sampling { get; init; } = new();

    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Completion-token cap per choice; null means "until the context is full".</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Number of independent choices (OpenAI <c>n</c>).</summary>
    public int ChoiceCount { get; init; } = 1;

    public bool Logprobs { get; init; }

    /// <summary>Alternatives per sampled token, 0..20; only meaningful with <see cref="Logprobs"/>.</summary>
    public int TopLogprobs { get; init; }

    /// <summary>Gemma 4 thinking: render the template with thinking on and stream reasoning separately.</summary>
    public bool EnableThinking { get; init; }

    /// <summary>Echo the prompt before the completion (<c>/v1/completions</c> <c>echo</c>).</summary>
    public bool Echo { get; init; }
}

public enum MessageRole
{
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

public sealed record ConversationMessage(MessageRole Role, IReadOnlyList<ContentPart> Content)
{
    /// <summary>Calls an assistant turn made (replayed history).</summary>
    public IReadOnlyList<ToolCall> ToolCalls { get; init; } = [];

    /// <summary>For <see cref="MessageRole.Tool"/>: the call this result answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For <see cref="MessageRole.Tool"/>: the function name, resolved from the id by the server when the client omits it (Gemma 4 keys results by name).</summary>
    public string? ToolName { get; init; }

    /// <summary>Reasoning an assistant turn carried (replayed history; templates usually drop it).</summary>
    public string? Reasoning { get; init; }

    /// <summary>All text parts joined; images are skipped.</summary>
    public string Text => Content.Count == 1 && Content[0].Kind == ContentPartKind.Text
        ? Content[0].Text!
        : string.Concat(Content.Where(p => p.Kind == ContentPartKind.Text).Select(p => p.Text));

    public static ConversationMessage FromText(MessageRole role, string text) =>
        new(role, [ContentPart.FromText(text)]);
}

public enum ContentPartKind
{
    Text,
    Image,
    Audio,
}

/// <summary>A text part, or a media part given as a URL or <c>data:</c> URI (the engine rejects what it cannot see).</summary>
public sealed record ContentPart(ContentPartKind Kind, string? Text = null, string? Url = null)
{
    public static ContentPart FromText(string text) => new(ContentPartKind.Text, text);
}

/// <summary>A function call; <see cref="ArgumentsJson"/> is the JSON text of the arguments object.</summary>
public sealed record ToolCall(string Id, string Name, string ArgumentsJson);

/// <summary>A callable function; <see cref="Parameters"/> is a JSON Schema object (null: no arguments).</summary>
public sealed record ToolDefinition(string Name, string? Description, JsonElement? Parameters, bool Strict);

public enum ToolChoiceMode
{
    /// <summary>The model decides between text and calls.</summary>
    Auto,

    /// <summary>No calls: tools are shown to the model but the call syntax is forbidden.</summary>
    None,

    /// <summary>At least one call, of any declared tool.</summary>
    Required,

    /// <summary>Exactly the function named in <see cref="ToolChoice.FunctionName"/>.</summary>
    Function,
}

public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    public static readonly ToolChoice Auto = new(ToolChoiceMode.Auto);
    public static readonly ToolChoice None = new(ToolChoiceMode.None);
    public static readonly ToolChoice Required = new(ToolChoiceMode.Required);
}

public enum ResponseFormatKind
{
    Text,
    JsonObject,
    JsonSchema,
}

/// <summary>Output constraint; <see cref="Schema"/> is set only for <see cref="ResponseFormatKind.JsonSchema"/>.</summary>
public sealed record ResponseFormat(ResponseFormatKind Kind, string? Name = null, JsonElement? Schema = null, bool Strict = false)
{
    public static readonly ResponseFormat Text = new(ResponseFormatKind.Text);
    public static readonly ResponseFormat JsonObject = new(ResponseFormatKind.JsonObject);
}

/// <summary>Sampler settings; null means "the model's default" (generation_config or the engine's).</summary>
public sealed record SamplingParameters
{
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? RepetitionPenalty { get; init; }
    public long? Seed { get; init; }

    /// <summary>Token id → additive bias, as OpenAI's <c>logit_bias</c>.</summary>
    public IReadOnlyDictionary<int, float> LogitBias { get; init; } = new Dictionary<int, float>();
}
