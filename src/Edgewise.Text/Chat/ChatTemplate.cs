using System.Text.Json;
using Edgewise.Text.Templates;

namespace Edgewise.Text.Chat;

/// <summary>
/// A model's chat template (from GGUF <c>tokenizer.chat_template</c> or <c>tokenizer_config.json</c>), rendering
/// typed messages into the exact prompt string transformers' <c>apply_chat_template</c> would produce.
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate _template;

    public ChatTemplate(string source, string bosToken = "<bos>", string eosToken = "<eos>")
    {
        _template = JinjaTemplate.Parse(source);
        BosToken = bosToken;
        EosToken = eosToken;
    }

    public string Source => _template.Source;

    public string BosToken { get; }

    public string EosToken { get; }

    /// <summary>
    /// Reads <c>chat_template</c> from a <c>tokenizer_config.json</c>: a string, or a list of
    /// <c>{name, template}</c> entries (picks <paramref name="name"/>, else "default"). Takes bos/eos tokens from the same file.
    /// </summary>
    public static ChatTemplate FromTokenizerConfig(string tokenizerConfigJson, string? name = null)
    {
        using var doc = JsonDocument.Parse(tokenizerConfigJson);
        var root = doc.RootElement;
        if (!root.TryGetProperty("chat_template", out var templates)) throw new FormatException("tokenizer_config.json: no 'chat_template' field");
        string? source = null;
        if (templates.ValueKind == JsonValueKind.String)
        {
            source = templates.GetString();
        }
        else if (templates.ValueKind == JsonValueKind.Array)
        {
            var wanted = name ?? "default";
            foreach (var entry in templates.EnumerateArray())
            {
                if (entry.GetProperty("name").GetString() == wanted) source = entry.GetProperty("template").GetString();
            }

            if (source is null) throw new FormatException($"tokenizer_config.json: 'chat_template' has no template named '{wanted}'");
        }

        if (source is null) throw new FormatException($"tokenizer_config.json: 'chat_template' must be a string or a list, found {templates.ValueKind}");
        return new ChatTemplate(source, TokenText(root, "bos_token") ?? "<bos>", TokenText(root, "eos_token") ?? "<eos>");
    }

    private static string? TokenText(JsonElement root, string field) =>
        !root.TryGetProperty(field, out var token) ? null
        : token.ValueKind == JsonValueKind.String ? token.GetString()
        : token.ValueKind == JsonValueKind.Object && token.TryGetProperty("content", out var content) ? content.GetString()
        : null;

    /// <summary>
    /// Renders a prompt. <paramref name="enableThinking"/> null leaves <c>enable_thinking</c> undefined (the template's
    /// default). <paramref name="extraVariables"/> are passed through (template values, see <see cref="JinjaDict"/>).
    /// </summary>
    public string Render(
        IReadOnlyList<ChatMessage> messages,
        IReadOnlyList<ToolDefinition>? tools = null,
        bool addGenerationPrompt = true,
        bool? enableThinking = null,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<object?>(messages.Count);
        foreach (var message in messages) list.Add(ChatTemplateValues.Message(message));
        List<object?>? toolList = null;
        if (tools is { Count: > 0 })
        {
            toolList = new List<object?>(tools.Count);
            foreach (var tool in tools) toolList.Add(ChatTemplateValues.Tool(tool));
        }

        return RenderValues(list, toolList, addGenerationPrompt, enableThinking, extraVariables);
    }

    /// <summary>Renders OpenAI-shaped JSON messages and tools as given (no typed round trip).</summary>
    public string RenderJson(JsonElement messages, JsonElement? tools = null, bool addGenerationPrompt = true, bool? enableThinking = null)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new FormatException($"messages: expected a JSON array, found {messages.ValueKind}");
        if (tools is { } t && t.ValueKind is not (JsonValueKind.Array or JsonValueKind.Null))
        {
            throw new FormatException($"tools: expected a JSON array, found {t.ValueKind}");
        }

        var toolList = tools is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() > 0 ? (List<object?>)JinjaValues.FromJson(list)! : null;
        return RenderValues((List<object?>)JinjaValues.FromJson(messages)!, toolList, addGenerationPrompt, enableThinking, null);
    }

    private string RenderValues(List<object?> messages, List<object?>? tools, bool addGenerationPrompt, bool? enableThinking, IReadOnlyDictionary<string, object?>? extra)
    {
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = BosToken,
            ["eos_token"] = EosToken,
        };
        if (tools is not null) variables["tools"] = tools;
        if (enableThinking is { } thinking) variables["enable_thinking"] = thinking;
        if (extra is not null)
        {
            foreach (var (key, value) in extra) variables[key] = value;
        }

        return _template.Render(variables);
    }
}
