using System.Text.Json;

namespace Edgewise.Text.Chat;

/// <summary>Reads OpenAI-shaped chat messages (as the server receives them) into <see cref="ChatMessage"/>.</summary>
public static class ChatJson
{
    public static List<ChatMessage> ParseMessages(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new FormatException($"messages: expected an array, found {messages.ValueKind}");
        var result = new List<ChatMessage>(messages.GetArrayLength());
        var index = 0;
        foreach (var m in messages.EnumerateArray()) result.Add(ParseMessage(m, index++));
        return result;
    }

    public static ChatMessage ParseMessage(JsonElement m, int index = 0)
    {
        var roleText = m.TryGetProperty("role", out var r) ? r.GetString() : null;
        var role = roleText switch
        {
            "system" => ChatRole.System,
            "developer" => ChatRole.Developer,
            "user" => ChatRole.User,
            "assistant" or "model" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            _ => throw new FormatException($"messages[{index}].role: expected system, developer, user, assistant or tool, found '{roleText}'"),
        };

        string? content = null;
        List<ContentPart>? parts = null;
        if (m.TryGetProperty("content", out var c))
        {
            if (c.ValueKind == JsonValueKind.String) content = c.GetString();
            else if (c.ValueKind == JsonValueKind.Array) parts = ParseParts(c, index);
            else if (c.ValueKind != JsonValueKind.Null) throw new FormatException($"messages[{index}].content: expected a string or an array, found {c.ValueKind}");
        }

        List<ToolCall>? calls = null;
        if (m.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array)
        {
            calls = [];
            var n = 0;
            foreach (var call in tc.EnumerateArray())
            {
                if (!call.TryGetProperty("function", out var function) || !function.TryGetProperty("name", out var fname) || fname.ValueKind != JsonValueKind.String)
                {
                    throw new FormatException($"messages[{index}].tool_calls[{n}]: expected {{\"function\": {{\"name\": string, ...}}}}, found {call.GetRawText()}");
                }

                var arguments = function.TryGetProperty("arguments", out var a)
                    ? a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText()
                    : "{}";
                var id = call.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : $"call_{n}";
                calls.Add(new ToolCall(id, fname.GetString()!, arguments));
                n++;
            }
        }

        return new ChatMessage(role, content)
        {
            Parts = parts,
            ToolCalls = calls,
            ToolCallId = OptionalString(m, "tool_call_id"),
            Name = OptionalString(m, "name"),
            ReasoningContent = OptionalString(m, "reasoning_content"),
        };
    }

    private static List<ContentPart> ParseParts(JsonElement array, int index)
    {
        var parts = new List<ContentPart>();
        foreach (var part in array.EnumerateArray())
        {
            var type = part.TryGetProperty("type", out var t) ? t.GetString() : null;
            parts.Add(type switch
            {
                "text" => ContentPart.FromText(OptionalString(part, "text") ?? ""),
                "image" or "image_url" => ContentPart.Image(),
                "audio" or "input_audio" => ContentPart.Audio(),
                "video" => ContentPart.Video(),
                _ => throw new FormatException($"messages[{index}].content: unknown part type '{type}'"),
            });
        }

        return parts;
    }

    private static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
