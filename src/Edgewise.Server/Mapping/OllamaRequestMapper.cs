using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;
using Edgewise.Server.Json;

namespace Edgewise.Server.Mapping;

/// <summary>Validates Ollama's native <c>/api/chat</c> and <c>/api/generate</c> bodies.</summary>
internal static class OllamaRequestMapper
{
    public static GenerationRequest Chat(OllamaChatRequestDto dto, ModelDescriptor model)
    {
        var tools = ToolMapping.Tools(dto.Tools);
        if (tools.Count > 0 && !model.SupportsTools)
            throw ApiException.Invalid("tools", $"{model.Id} does not support tools", "unsupported_value");
        return Common(dto, model) with
        {
            Messages = Messages(dto.Messages!),
            Tools = tools,
            ToolChoice = tools.Count > 0 ? ToolChoice.Auto : ToolChoice.None,
        };
    }

    public static GenerationRequest Generate(OllamaGenerateRequestDto dto, ModelDescriptor model)
    {
        if (!string.IsNullOrEmpty(dto.Suffix))
            throw ApiException.Invalid("suffix", $"{model.Id} does not support insert (suffix)", "unsupported_value");
        var request = Common(dto, model);
        if (dto.Raw == true)
            return request with { Prompt = dto.Prompt ?? "" };
        var messages = new List<ConversationMessage>();
        if (!string.IsNullOrEmpty(dto.System))
            messages.Add(ConversationMessage.FromText(MessageRole.System, dto.System));
        messages.Add(new ConversationMessage(MessageRole.User, Parts(dto.Prompt, dto.Images)));
        return request with { Messages = messages };
    }

    private static GenerationRequest Common(OllamaRequestDto dto, ModelDescriptor model)
    {
        var options = dto.Options;
        var numPredict = options?.NumPredict;
        if (dto.TopLogprobs is > 0 && dto.Logprobs != true)
            throw ApiException.Invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.", "invalid_value");
        return new GenerationRequest
        {
            Model = model.Id,
            ResponseFormat = ToolMapping.OllamaFormat(dto.Format),
            Sampling = RequestValidation.Sampling(options?.Temperature, options?.TopP, options?.TopK, options?.MinP,
                options?.PresencePenalty, options?.FrequencyPenalty, options?.RepeatPenalty, options?.Seed, null),
            Stop = RequestValidation.Stop(options?.Stop, "options.stop"),
            // -1 (infinite) and -2 (fill the context) both mean "no cap".
            MaxTokens = numPredict is > 0 ? RequestValidation.MaxTokens(numPredict, "options.num_predict", model) : null,
            EnableThinking = Think(dto.Think) && model.SupportsThinking,
            Logprobs = dto.Logprobs ?? false,
            TopLogprobs = RequestValidation.Range(dto.TopLogprobs, "top_logprobs", 0, RequestValidation.MaxTopLogprobs) ?? 0,
        };
    }

    private static bool Think(JsonElement? think) => think switch
    {
        null or { ValueKind: JsonValueKind.Null or JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.String } s => s.GetString() switch
        {
            "low" or "medium" or "high" => true,
            var other => throw ApiException.OutOfRange("think", "true, false, 'low', 'medium' or 'high'", $"'{other}'"),
        },
        _ => throw ApiException.WrongType("think", "a boolean or a level string"),
    };

    private static List<ConversationMessage> Messages(List<OllamaMessageDto?> messages)
    {
        var result = new List<ConversationMessage>(messages.Count);
        // Ollama has no call ids: a tool result answers the latest call of the same name.
        var idsByName = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < messages.Count; i++)
        {
            var at = $"messages[{i}]";
            var message = messages[i] ?? throw ApiException.WrongType(at, "an object");
            var role = message.Role switch
            {
                null => throw ApiException.Missing($"{at}.role"),
                "system" => MessageRole.System,
                "user" => MessageRole.User,
                "assistant" => MessageRole.Assistant,
                "tool" => MessageRole.Tool,
                _ => throw ApiException.OutOfRange($"{at}.role", "'system', 'user', 'assistant' or 'tool'", $"'{message.Role}'"),
            };
            var converted = new ConversationMessage(role, Parts(message.Content, message.Images))
            {
                Reasoning = role == MessageRole.Assistant ? message.Thinking : null,
            };
            if (role == MessageRole.Assistant && message.ToolCalls is { Count: > 0 } calls)
            {
                var list = new List<ToolCall>(calls.Count);
                for (var j = 0; j < calls.Count; j++)
                {
                    var function = calls[j]?.Function ?? throw ApiException.Missing($"{at}.tool_calls[{j}].function");
                    if (string.IsNullOrEmpty(function.Name))
                        throw ApiException.Missing($"{at}.tool_calls[{j}].function.name");
                    var id = Ids.ToolCall();
                    idsByName[function.Name] = id;
                    list.Add(new ToolCall(id, function.Name, ChatRequestMapper.ArgumentsJson(function.Arguments, $"{at}.tool_calls[{j}].function.arguments")));
                }

                converted = converted with { ToolCalls = list };
            }
            else if (role == MessageRole.Tool)
            {
                var name = message.ToolName;
                converted = converted with { ToolName = name, ToolCallId = name is not null ? idsByName.GetValueOrDefault(name) : null };
            }

            result.Add(converted);
        }

        return result;
    }

    private static List<ContentPart> Parts(string? text, List<string>? images)
    {
        var parts = new List<ContentPart>();
        if (images is not null)
        {
            foreach (var image in images)
                parts.Add(new ContentPart(ContentPartKind.Image, Url: $"data:{ImageMime(image)};base64,{image}"));
        }

        parts.Add(ContentPart.FromText(text ?? ""));
        return parts;
    }

    // Ollama sends bare base64; the first bytes of PNG and JPEG have fixed base64 spellings.
    private static string ImageMime(string base64) =>
        base64.StartsWith("iVBOR", StringComparison.Ordinal) ? "image/png"
        : base64.StartsWith("/9j/", StringComparison.Ordinal) ? "image/jpeg"
        : base64.StartsWith("UklGR", StringComparison.Ordinal) ? "image/webp"
        : "application/octet-stream";
}
