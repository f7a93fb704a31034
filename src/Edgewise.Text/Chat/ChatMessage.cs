namespace Edgewise.Text.Chat;

/// <summary>Who wrote a message. Templates see the lower-case name; Gemma templates map assistant to "model".</summary>
public enum ChatRole
{
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// <summary>The kind of one content part of a multimodal message.</summary>
public enum ContentPartKind
{
    Text,
    Image,
    Audio,
    Video,
}

/// <summary>
/// One part of a message: text, or a placeholder for media the processor expands into soft tokens
/// (the template prints e.g. <c>&lt;|image|&gt;</c>; the pixels travel separately).
/// </summary>
public sealed record ContentPart(ContentPartKind Kind, string? Text = null)
{
    public static ContentPart FromText(string text) => new(ContentPartKind.Text, text);

    public static ContentPart Image() => new(ContentPartKind.Image);

    public static ContentPart Audio() => new(ContentPartKind.Audio);

    public static ContentPart Video() => new(ContentPartKind.Video);
}

/// <summary>A function call the assistant made; <paramref name="ArgumentsJson"/> is a JSON object text.</summary>
public sealed record ToolCall(string Id, string Name, string ArgumentsJson);

/// <summary>
/// One chat message in the OpenAI shape: either <see cref="Content"/> text or <see cref="Parts"/>, plus assistant
/// <see cref="ToolCalls"/> and <see cref="ReasoningContent"/>, or a tool result (<see cref="ToolCallId"/>, <see cref="Name"/>).
/// </summary>
public sealed record ChatMessage(ChatRole Role, string? Content = null)
{
    public IReadOnlyList<ContentPart>? Parts { get; init; }

    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }

    /// <summary>For <see cref="ChatRole.Tool"/>: the id of the call this message answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For <see cref="ChatRole.Tool"/>: the function name (used when the id does not resolve).</summary>
    public string? Name { get; init; }

    /// <summary>The assistant's thinking text (rendered back by templates that keep reasoning in history).</summary>
    public string? ReasoningContent { get; init; }

    public static ChatMessage System(string text) => new(ChatRole.System, text);

    public static ChatMessage Developer(string text) => new(ChatRole.Developer, text);

    public static ChatMessage User(string text) => new(ChatRole.User, text);

    public static ChatMessage User(params ContentPart[] parts) => new(ChatRole.User) { Parts = parts };

    public static ChatMessage Assistant(string? text, params ToolCall[] toolCalls) =>
        new(ChatRole.Assistant, text) { ToolCalls = toolCalls.Length == 0 ? null : toolCalls };

    public static ChatMessage ToolResult(string toolCallId, string content, string? name = null) =>
        new(ChatRole.Tool, content) { ToolCallId = toolCallId, Name = name };
}
