using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Edgewise.Text.Chat;

namespace Edgewise.Engine.Sessions;

/// <summary>What a turn may produce and how it is sampled. The defaults: the model's own sampling, no limits but the context.</summary>
public sealed record GenerationOptions
{
    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Completion-token cap; null generates until an end-of-turn token, a stop string or a full context.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Strings that end the output; the text before the first one found is kept, the stop string itself never shown.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    public ResponseFormat ResponseFormat { get; init; } = ResponseFormat.Text;

    /// <summary>Functions offered to the model (rendered into the prompt by the chat template).</summary>
    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];

    /// <summary>
    /// <c>auto</c> leaves the model free (calls are parsed from its output); <c>none</c>, <c>required</c> and a named
    /// function are enforced by a grammar over the tool-call syntax.
    /// </summary>
    public ToolChoice ToolChoice { get; init; } = ToolChoice.Auto;

    /// <summary>When false, at most one call per turn (enforced only where a grammar is active).</summary>
    public bool ParallelToolCalls { get; init; } = true;

    /// <summary>Renders the template with <c>enable_thinking</c>; thinking text streams as reasoning updates.</summary>
    public bool EnableThinking { get; init; }

    public ContextOverflowPolicy OverflowPolicy { get; init; } = ContextOverflowPolicy.Error;

    public static GenerationOptions Default { get; } = new();
}

public enum ResponseFormatKind
{
    Text,

    /// <summary>Any JSON object (OpenAI <c>json_object</c>).</summary>
    JsonObject,

    /// <summary>JSON following <see cref="ResponseFormat.Schema"/>.</summary>
    JsonSchema,
}

/// <summary>Output constraint: free text, any JSON object, or JSON following a schema (JSON text).</summary>
public sealed record ResponseFormat(ResponseFormatKind Kind, string? Schema = null)
{
    public static ResponseFormat Text { get; } = new(ResponseFormatKind.Text);

    public static ResponseFormat JsonObject { get; } = new(ResponseFormatKind.JsonObject);

    public static ResponseFormat ForSchema(string schemaJson) => new(ResponseFormatKind.JsonSchema, schemaJson ?? throw new ArgumentNullException(nameof(schemaJson)));
}

/// <summary>What happens when a rendered chat prompt does not fit the context.</summary>
public enum ContextOverflowPolicy
{
    /// <summary>Throw <see cref="ContextOverflowException"/> (the default: nothing is silently forgotten).</summary>
    Error,

    /// <summary>
    /// Drop the oldest messages after the leading system/developer messages, one at a time, until the prompt leaves
    /// room for at least one output token; the last message is never dropped. Raw prompts still throw.
    /// </summary>
    DropOldestMessages,
}

/// <summary>The prompt does not leave room for a single output token.</summary>
public sealed class ContextOverflowException : Exception
{
    public ContextOverflowException(int promptTokens, int contextLength)
        : base($"The prompt has {promptTokens} tokens but the context holds {contextLength}: expected at most {contextLength - 1} prompt tokens " +
               "so one can be generated. Shorten the conversation, raise the context length, or use ContextOverflowPolicy.DropOldestMessages.")
    {
        PromptTokens = promptTokens;
        ContextLength = contextLength;
    }

    public ContextOverflowException() : base("The prompt does not fit the context.") { }

    public ContextOverflowException(string message) : base(message) { }

    public ContextOverflowException(string message, Exception inner) : base(message, inner) { }

    public int PromptTokens { get; }

    public int ContextLength { get; }
}
