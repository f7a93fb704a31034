using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;
using Edgewise.Server.Json;

namespace Edgewise.Server.Mapping;

/// <summary>Tools, tool choice and response formats, in the shapes of Chat Completions, Responses and Ollama.</summary>
internal static class ToolMapping
{
    public static List<ToolDefinition> Tools(List<ToolDto?>? tools, string param = "tools")
    {
        var result = new List<ToolDefinition>();
        if (tools is null)
            return result;
        for (var i = 0; i < tools.Count; i++)
        {
            var at = $"{param}[{i}]";
            var tool = tools[i] ?? throw ApiException.WrongType(at, "an object");
            if (tool.Type is not null and not "function")
                throw ApiException.Invalid($"{at}.type", $"Unsupported tool type '{tool.Type}': only 'function' tools are supported.", "invalid_value");
            var function = tool.Function ?? throw ApiException.Missing($"{at}.function");
            result.Add(Function(function.Name, function.Description, function.Parameters, function.Strict, $"{at}.function", result));
        }

        return result;
    }

    public static List<ToolDefinition> Tools(List<FunctionDefinitionDto?> functions, string param)
    {
        var result = new List<ToolDefinition>();
        for (var i = 0; i < functions.Count; i++)
        {
            var function = functions[i] ?? throw ApiException.WrongType($"{param}[{i}]", "an object");
            result.Add(Function(function.Name, function.Description, function.Parameters, function.Strict, $"{param}[{i}]", result));
        }

        return result;
    }

    public static List<ToolDefinition> ResponsesTools(List<ResponsesToolDto?>? tools)
    {
        var result = new List<ToolDefinition>();
        if (tools is null)
            return result;
        for (var i = 0; i < tools.Count; i++)
        {
            var at = $"tools[{i}]";
            var tool = tools[i] ?? throw ApiException.WrongType(at, "an object");
            if (tool.Type is not "function")
                throw ApiException.Invalid($"{at}.type", $"Unsupported tool type '{tool.Type}': only 'function' tools are supported.", "invalid_value");
            result.Add(Function(tool.Name, tool.Description, tool.Parameters, tool.Strict, at, result));
        }

        return result;
    }

    public static ToolDefinition Function(string? name, string? description, JsonElement? parameters, bool? strict, string at, List<ToolDefinition> earlier)
    {
        if (string.IsNullOrEmpty(name))
            throw ApiException.Missing($"{at}.name");
        if (!IsValidName(name))
            throw ApiException.Invalid($"{at}.name", $"Invalid function name '{name}': use 1-64 characters from a-z, A-Z, 0-9, '_' and '-'.", "invalid_value");
        if (earlier.Any(t => t.Name == name))
            throw ApiException.Invalid($"{at}.name", $"Duplicate function name '{name}'.", "invalid_value");
        JsonElement? schema = parameters is { ValueKind: not JsonValueKind.Null } p ? p : null;
        if (schema is { } s)
            SchemaChecker.Check(s, $"{at}.parameters");
        return new ToolDefinition(name, description, schema, strict ?? false);
    }

    /// <summary>Chat Completions <c>tool_choice</c>; may narrow <paramref name="tools"/> (<c>allowed_tools</c>).</summary>
    public static ToolChoice Choice(JsonElement? choice, List<ToolDefinition> tools, string param = "tool_choice")
    {
        if (choice is not { } element || element.ValueKind == JsonValueKind.Null)
            return tools.Count > 0 ? ToolChoice.Auto : ToolChoice.None;
        ToolChoice result;
        if (element.ValueKind == JsonValueKind.String)
        {
            result = Mode(element.GetString()!, param);
        }
        else if (element.ValueKind == JsonValueKind.Object)
        {
            var type = String(element, "type", param);
            if (type == "function")
            {
                // Chat Completions nests the name under "function"; Responses puts it beside "type".
                var name = element.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                    ? String(function, "name", $"{param}.function")
                    : String(element, "name", param);
                result = new ToolChoice(ToolChoiceMode.Function, name);
            }
            else if (type == "allowed_tools")
            {
                result = AllowedTools(element, tools, param);
            }
            else
            {
                throw ApiException.Invalid($"{param}.type", $"Invalid value for '{param}.type': expected 'function' or 'allowed_tools', found '{type}'.", "invalid_value");
            }
        }
        else
        {
            throw ApiException.WrongType(param, "a string ('none', 'auto', 'required') or an object");
        }

        if (result.Mode is ToolChoiceMode.Required or ToolChoiceMode.Function && tools.Count == 0)
            throw ApiException.Invalid(param, $"'{param}' asks for a tool call, but no tools were given.", "invalid_value");
        if (result.Mode == ToolChoiceMode.Function && !tools.Any(t => t.Name == result.FunctionName))
            throw ApiException.Invalid(param, $"'{param}' names the function '{result.FunctionName}', which is not among the tools.", "invalid_value");
        return result;
    }

    private static ToolChoice Mode(string mode, string param) => mode switch
    {
        "auto" => ToolChoice.Auto,
        "none" => ToolChoice.None,
        "required" or "any" => ToolChoice.Required,
        _ => throw ApiException.OutOfRange(param, "'none', 'auto' or 'required'", $"'{mode}'"),
    };

    // {"type":"allowed_tools","allowed_tools":{"mode":"auto"|"required","tools":[{"type":"function","function":{"name":..}}|{"type":"function","name":..}]}}
    private static ToolChoice AllowedTools(JsonElement element, List<ToolDefinition> tools, string param)
    {
        if (!element.TryGetProperty("allowed_tools", out var allowed) || allowed.ValueKind != JsonValueKind.Object)
            throw ApiException.Missing($"{param}.allowed_tools");
        var mode = allowed.TryGetProperty("mode", out var m) && m.ValueKind == JsonValueKind.String ? Mode(m.GetString()!, $"{param}.allowed_tools.mode") : ToolChoice.Auto;
        if (!allowed.TryGetProperty("tools", out var list) || list.ValueKind != JsonValueKind.Array)
            throw ApiException.Missing($"{param}.allowed_tools.tools");
        var names = new HashSet<string>();
        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var at = $"{param}.allowed_tools.tools[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw ApiException.WrongType(at, "an object");
            var name = item.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? String(f, "name", $"{at}.function") : String(item, "name", at);
            if (!tools.Any(t => t.Name == name))
                throw ApiException.Invalid(at, $"Allowed tool '{name}' is not among the tools.", "invalid_value");
            names.Add(name);
        }

        tools.RemoveAll(t => !names.Contains(t.Name));
        return mode;
    }

    public static ResponseFormat Format(ResponseFormatDto? format)
    {
        if (format is null)
            return ResponseFormat.Text;
        switch (format.Type)
        {
            case null:
                throw ApiException.Missing("response_format.type");
            case "text":
                return ResponseFormat.Text;
            case "json_object":
                return ResponseFormat.JsonObject;
            case "json_schema":
                var spec = format.JsonSchema;
                var schema = spec?.Schema ?? format.Schema;
                var param = spec?.Schema is not null ? "response_format.json_schema.schema" : "response_format.schema";
                if (schema is not { ValueKind: not JsonValueKind.Null } s)
                    throw ApiException.Missing(spec is null ? "response_format.json_schema" : "response_format.json_schema.schema");
                if (spec?.Name is { } name && !IsValidName(name))
                    throw ApiException.Invalid("response_format.json_schema.name", $"Invalid schema name '{name}': use 1-64 characters from a-z, A-Z, 0-9, '_' and '-'.", "invalid_value");
                SchemaChecker.Check(s, param);
                return new ResponseFormat(ResponseFormatKind.JsonSchema, spec?.Name, s, spec?.Strict ?? false);
            default:
                throw ApiException.OutOfRange("response_format.type", "'text', 'json_object' or 'json_schema'", $"'{format.Type}'");
        }
    }

    public static ResponseFormat ResponsesFormat(ResponsesTextDto? text)
    {
        var format = text?.Format;
        if (format is null)
            return ResponseFormat.Text;
        return format.Type switch
        {
            "text" => ResponseFormat.Text,
            "json_object" => ResponseFormat.JsonObject,
            "json_schema" when format.Schema is { ValueKind: not JsonValueKind.Null } s => CheckedSchema(s, format.Name, format.Strict, "text.format.schema"),
            "json_schema" => throw ApiException.Missing("text.format.schema"),
            null => throw ApiException.Missing("text.format.type"),
            _ => throw ApiException.OutOfRange("text.format.type", "'text', 'json_object' or 'json_schema'", $"'{format.Type}'"),
        };
    }

    /// <summary>Ollama <c>format</c>: <c>"json"</c> or a schema object.</summary>
    public static ResponseFormat OllamaFormat(JsonElement? format) => format switch
    {
        null or { ValueKind: JsonValueKind.Null } => ResponseFormat.Text,
        { ValueKind: JsonValueKind.String } s when s.GetString() == "json" => ResponseFormat.JsonObject,
        { ValueKind: JsonValueKind.String } s when s.GetString()!.Length == 0 => ResponseFormat.Text,
        { ValueKind: JsonValueKind.Object } o => CheckedSchema(o, null, true, "format"),
        _ => throw ApiException.WrongType("format", "\"json\" or a JSON Schema object"),
    };

    private static ResponseFormat CheckedSchema(JsonElement schema, string? name, bool? strict, string param)
    {
        SchemaChecker.Check(schema, param);
        return new ResponseFormat(ResponseFormatKind.JsonSchema, name, schema, strict ?? false);
    }

    private static string String(JsonElement obj, string property, string param)
    {
        if (!obj.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
            throw ApiException.Missing($"{param}.{property}");
        if (value.ValueKind != JsonValueKind.String)
            throw ApiException.WrongType($"{param}.{property}", "a string");
        return value.GetString()!;
    }

    private static bool IsValidName(string name)
    {
        if (name.Length is 0 or > 64)
            return false;
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                return false;
        }

        return true;
    }
}
