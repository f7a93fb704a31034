using System.Text.Json;

namespace Edgewise.Text.Chat;

/// <summary>
/// A function the model may call: OpenAI's <c>{"type":"function","function":{name, description, parameters}}</c>,
/// with <paramref name="ParametersSchema"/> the JSON Schema object text (null when the function takes no arguments).
/// </summary>
public sealed record ToolDefinition(string Name, string? Description = null, string? ParametersSchema = null)
{
    /// <summary>Reads one OpenAI tool entry (<c>{"type":"function","function":{...}}</c>) or a bare function object.</summary>
    public static ToolDefinition FromOpenAiJson(JsonElement tool)
    {
        var function = tool.TryGetProperty("function", out var f) ? f : tool;
        if (!function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"tool definition: expected a string 'function.name', found {tool.GetRawText()}");
        }

        var description = function.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        var parameters = function.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object ? p.GetRawText() : null;
        return new ToolDefinition(name.GetString()!, description, parameters);
    }
}
