namespace Edgewise.Text.ToolCalls;

/// <summary>Picks the tool-call dialect for a model: native tokens for Gemma 4, prompted JSON blocks otherwise.</summary>
public static class ToolCallParsers
{
    /// <summary>By GGUF <c>general.architecture</c> / HF <c>model_type</c>.</summary>
    public static IToolCallParser ForArchitecture(string architecture) => architecture switch
    {
        "gemma4" or "gemma4_text" => new Gemma4ToolCallParser(),
        "gemma3n" or "gemma3n_text" or "gemma3" or "gemma3_text" => new JsonFenceToolCallParser(),
        _ => throw new NotSupportedException($"no tool-call dialect for architecture '{architecture}' (expected gemma4, gemma3n or gemma3)"),
    };

    /// <summary>By the chat template text: templates that emit <c>&lt;|tool_call&gt;</c> use the native dialect.</summary>
    public static IToolCallParser ForTemplate(string chatTemplate)
    {
        ArgumentNullException.ThrowIfNull(chatTemplate);
        return chatTemplate.Contains("<|tool_call>", StringComparison.Ordinal) ? new Gemma4ToolCallParser() : new JsonFenceToolCallParser();
    }
}
