using System.Text.Json;
using Edgewise.Text.Templates;

namespace Edgewise.Text.Chat;

/// <summary>The typed chat model as the dicts transformers hands to templates (only the keys that are set).</summary>
internal static class ChatTemplateValues
{
    public static JinjaDict Message(ChatMessage message)
    {
        var dict = new JinjaDict { ["role"] = RoleName(message.Role) };
        if (message.Parts is not null)
        {
            var parts = new List<object?>(message.Parts.Count);
            foreach (var part in message.Parts)
            {
                var p = new JinjaDict { ["type"] = PartType(part.Kind) };
                if (part.Kind == ContentPartKind.Text) p["text"] = part.Text ?? "";
                parts.Add(p);
            }

            dict["content"] = parts;
        }
        else if (message.Content is not null)
        {
            dict["content"] = message.Content;
        }

        if (message.ReasoningContent is not null) dict["reasoning_content"] = message.ReasoningContent;
        if (message.ToolCalls is { Count: > 0 } calls)
        {
            var list = new List<object?>(calls.Count);
            foreach (var call in calls)
            {
                list.Add(new JinjaDict
                {
                    ["id"] = call.Id,
                    ["type"] = "function",
                    ["function"] = new JinjaDict { ["name"] = call.Name, ["arguments"] = Arguments(call) },
                });
            }

            dict["tool_calls"] = list;
        }

        if (message.ToolCallId is not null) dict["tool_call_id"] = message.ToolCallId;
        if (message.Name is not null) dict["name"] = message.Name;
        return dict;
    }

    /// <summary>OpenAI sends arguments as JSON text; Gemma templates iterate them as a mapping, as transformers does after parsing.</summary>
    private static object? Arguments(ToolCall call)
    {
        if (string.IsNullOrWhiteSpace(call.ArgumentsJson)) return new JinjaDict();
        try
        {
            return JinjaValues.ParseJson(call.ArgumentsJson);
        }
        catch (JsonException)
        {
            // Leave malformed JSON as text; the template decides (Gemma 4's raises a clear error).
            return call.ArgumentsJson;
        }
    }

    public static JinjaDict Tool(ToolDefinition tool)
    {
        var function = new JinjaDict { ["name"] = tool.Name };
        if (tool.Description is not null) function["description"] = tool.Description;
        if (tool.ParametersSchema is not null) function["parameters"] = JinjaValues.ParseJson(tool.ParametersSchema);
        return new JinjaDict { ["type"] = "function", ["function"] = function };
    }

    private static string RoleName(ChatRole role) => role switch
    {
        ChatRole.System => "system",
        ChatRole.Developer => "developer",
        ChatRole.User => "user",
        ChatRole.Assistant => "assistant",
        ChatRole.Tool => "tool",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown chat role"),
    };

    private static string PartType(ContentPartKind kind) => kind switch
    {
        ContentPartKind.Text => "text",
        ContentPartKind.Image => "image",
        ContentPartKind.Audio => "audio",
        ContentPartKind.Video => "video",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown content part"),
    };
}
