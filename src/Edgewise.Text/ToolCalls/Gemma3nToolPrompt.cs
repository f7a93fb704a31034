using System.Text;
using System.Text.Json;
using Edgewise.Text.Chat;

namespace Edgewise.Text.ToolCalls;

/// <summary>
/// Tool use for models without tool tokens (Gemma 3n, Gemma 3): describes the tools in the system prompt, and
/// rewrites tool calls and results in the history as fenced JSON blocks in ordinary user/model turns, so the
/// official template (strict user/model alternation) renders them. Format: docs/gemma3n-tool-format.md.
/// </summary>
public static class Gemma3nToolPrompt
{
    /// <summary>The system-prompt block that teaches the call format and lists the tools as JSON.</summary>
    public static string SystemBlock(IReadOnlyList<ToolDefinition> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var sb = new StringBuilder();
        sb.Append("You can call these tools. To call one, reply with a block exactly like this and nothing after it:\n");
        sb.Append("```tool_call\n{\"name\": \"<tool name>\", \"arguments\": {<arguments as JSON>}}\n```\n");
        sb.Append("Put several calls one after another, one block each. Each result comes back in a ```tool_result block.\n");
        sb.Append("Tools (name, description, JSON Schema of the arguments):\n");
        foreach (var tool in tools)
        {
            sb.Append("{\"name\": ").Append(JsonSerializer.Serialize(tool.Name));
            if (tool.Description is not null) sb.Append(", \"description\": ").Append(JsonSerializer.Serialize(tool.Description));
            if (tool.ParametersSchema is not null)
            {
                using var schema = JsonDocument.Parse(tool.ParametersSchema);
                sb.Append(", \"parameters\": ").Append(JsonSerializer.Serialize(schema.RootElement));
            }

            sb.Append("}\n");
        }

        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>
    /// Returns messages the Gemma 3n template can render: the tool block joined to the system message, assistant
    /// tool calls as <c>```tool_call</c> blocks, and tool results folded into user turns as <c>```tool_result</c> blocks.
    /// </summary>
    public static List<ChatMessage> Rewrite(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition>? tools)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var result = new List<ChatMessage>(messages.Count + 1);
        var start = 0;
        var system = tools is { Count: > 0 } ? SystemBlock(tools) : null;
        if (messages.Count > 0 && messages[0].Role is ChatRole.System or ChatRole.Developer)
        {
            var text = TextOf(messages[0]);
            system = system is null ? text : text.Trim() + "\n\n" + system;
            start = 1;
        }

        if (system is not null) result.Add(ChatMessage.System(system));
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            switch (m.Role)
            {
                case ChatRole.Assistant when m.ToolCalls is { Count: > 0 }:
                    var sb = new StringBuilder(m.Content?.Trim() ?? "");
                    foreach (var call in m.ToolCalls)
                    {
                        callNames[call.Id] = call.Name;
                        if (sb.Length > 0) sb.Append('\n');
                        sb.Append(FenceCall(call));
                    }

                    Append(result, ChatRole.Assistant, sb.ToString());
                    break;
                case ChatRole.Tool:
                    var name = m.Name ?? (m.ToolCallId is not null && callNames.TryGetValue(m.ToolCallId, out var n) ? n : "unknown");
                    var content = TextOf(m);
                    object? body = content;
                    try
                    {
                        body = JsonSerializer.Deserialize<JsonElement>(content);
                    }
                    catch (JsonException)
                    {
                        // plain-text result: keep as a JSON string
                    }

                    var block = "```tool_result\n" + JsonSerializer.Serialize(new Dictionary<string, object?> { ["name"] = name, ["content"] = body }) + "\n```";
                    Append(result, ChatRole.User, block);
                    break;
                default:
                    if (m.Parts is not null && m.Role == ChatRole.User)
                    {
                        result.Add(m);
                    }
                    else
                    {
                        Append(result, m.Role == ChatRole.Developer ? ChatRole.User : m.Role, TextOf(m));
                    }

                    break;
            }
        }

        return result;
    }

    /// <summary>One call as the model is taught to write it.</summary>
    public static string FenceCall(ToolCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        string arguments;
        try
        {
            using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(call.ArgumentsJson) ? "{}" : call.ArgumentsJson);
            arguments = JsonSerializer.Serialize(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"tool call '{call.Name}' ({call.Id}): arguments are not JSON: {e.Message}", e);
        }

        return "```tool_call\n{\"name\": " + JsonSerializer.Serialize(call.Name) + ", \"arguments\": " + arguments + "}\n```";
    }

    /// <summary>Adds a text turn, merging it into the previous turn of the same role so roles keep alternating.</summary>
    private static void Append(List<ChatMessage> result, ChatRole role, string text)
    {
        if (result.Count > 0 && result[^1].Role == role && result[^1].Parts is null)
        {
            result[^1] = result[^1] with { Content = (result[^1].Content ?? "").TrimEnd() + "\n\n" + text.Trim() };
            return;
        }

        result.Add(new ChatMessage(role, text));
    }

    private static string TextOf(ChatMessage m)
    {
        if (m.Parts is null) return m.Content ?? "";
        var sb = new StringBuilder();
        foreach (var part in m.Parts)
        {
            if (part.Kind == ContentPartKind.Text) sb.Append(part.Text);
        }

        return sb.ToString();
    }
}
