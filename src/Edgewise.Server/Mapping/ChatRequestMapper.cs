using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;
using Edgewise.Server.Json;

namespace Edgewise.Server.Mapping;

/// <summary>A validated chat request plus the transport switches that stay in the HTTP layer.</summary>
internal sealed record ChatCall(GenerationRequest Request, ModelDescriptor Model, bool Stream, bool IncludeUsage);

/// <summary>Validates a Chat Completions body and turns it into a <see cref="GenerationRequest"/>.</summary>
internal static class ChatRequestMapper
{
    public static ChatCall Map(ChatCompletionRequestDto dto, IChatBackend backend)
    {
        var model = RequestValidation.ResolveModel(backend, dto.Model);
        var stream = dto.Stream ?? false;
        if (dto.StreamOptions is not null && !stream)
            throw ApiException.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.", "invalid_value");

        var tools = dto.Tools is not null ? ToolMapping.Tools(dto.Tools)
            : dto.Functions is not null ? ToolMapping.Tools(dto.Functions, "functions")
            : [];
        if (tools.Count > 0 && !model.SupportsTools)
            throw ApiException.Invalid("tools", $"The model '{model.Id}' does not support tools.", "unsupported_value");
        var toolChoice = dto.ToolChoice is not null || dto.FunctionCall is null
            ? ToolMapping.Choice(dto.ToolChoice, tools)
            : ToolMapping.Choice(LegacyFunctionCall(dto.FunctionCall.Value), tools, "function_call");

        if (dto.TopLogprobs is not null && dto.Logprobs != true)
            throw ApiException.Invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.", "invalid_value");

        var request = new GenerationRequest
        {
            Model = model.Id,
            Messages = Messages(dto.Messages),
            Tools = tools,
            ToolChoice = toolChoice,
            ParallelToolCalls = dto.ParallelToolCalls ?? true,
            ResponseFormat = ToolMapping.Format(dto.ResponseFormat),
            Sampling = RequestValidation.Sampling(dto.Temperature, dto.TopP, dto.TopK, dto.MinP, dto.PresencePenalty,
                dto.FrequencyPenalty, dto.RepetitionPenalty, dto.Seed, dto.LogitBias),
            Stop = RequestValidation.Stop(dto.Stop),
            MaxTokens = dto.MaxCompletionTokens is not null
                ? RequestValidation.MaxTokens(dto.MaxCompletionTokens, "max_completion_tokens", model)
                : RequestValidation.MaxTokens(dto.MaxTokens, "max_tokens", model),
            ChoiceCount = RequestValidation.Range(dto.N, "n", 1, RequestValidation.MaxChoices) ?? 1,
            Logprobs = dto.Logprobs ?? false,
            TopLogprobs = RequestValidation.Range(dto.TopLogprobs, "top_logprobs", 0, RequestValidation.MaxTopLogprobs) ?? 0,
            EnableThinking = RequestValidation.Thinking(model, dto.EnableThinking, dto.ReasoningEffort, dto.ChatTemplateKwargs),
        };
        return new ChatCall(request, model, stream, dto.StreamOptions?.IncludeUsage ?? false);
    }

    // Deprecated "function_call": "none" | "auto" | {"name": ...}; same meaning as tool_choice.
    private static JsonElement LegacyFunctionCall(JsonElement call)
    {
        if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
        {
            var json = "{\"type\":\"function\",\"function\":{\"name\":" + JsonSerializer.Serialize(name.GetString(), ServerJsonContext.Default.String) + "}}";
            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }

        return call;
    }

    public static List<ConversationMessage> Messages(List<ChatMessageDto?>? messages)
    {
        if (messages is null)
            throw ApiException.Missing("messages");
        if (messages.Count == 0)
            throw ApiException.Invalid("messages", "'messages' must contain at least one message.", "empty_array");

        var result = new List<ConversationMessage>(messages.Count);
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < messages.Count; i++)
        {
            var at = $"messages[{i}]";
            var message = messages[i] ?? throw ApiException.WrongType(at, "an object");
            var role = message.Role switch
            {
                null => throw ApiException.Missing($"{at}.role"),
                "system" => MessageRole.System,
                "developer" => MessageRole.Developer,
                "user" => MessageRole.User,
                "assistant" => MessageRole.Assistant,
                "tool" or "function" => MessageRole.Tool,
                _ => throw ApiException.OutOfRange($"{at}.role", "one of 'system', 'developer', 'user', 'assistant', 'tool'", $"'{message.Role}'"),
            };

            var calls = role == MessageRole.Assistant ? ToolCalls(message.ToolCalls, at, callNames) : [];
            var content = ContentParts.Parse(message.Content, $"{at}.content",
                allowMissing: role == MessageRole.Assistant);
            var converted = new ConversationMessage(role, content)
            {
                ToolCalls = calls,
                Reasoning = role == MessageRole.Assistant ? message.ReasoningContent : null,
            };
            if (role == MessageRole.Tool)
            {
                // "function" role (deprecated) names the function instead of a call id.
                var id = message.ToolCallId;
                if (id is null && message.Role == "tool")
                    throw ApiException.Missing($"{at}.tool_call_id");
                var name = id is not null && callNames.TryGetValue(id, out var known) ? known : message.Name;
                converted = converted with { ToolCallId = id, ToolName = name };
            }

            result.Add(converted);
        }

        return result;
    }

    private static List<ToolCall> ToolCalls(List<ToolCallDto?>? calls, string at, Dictionary<string, string> callNames)
    {
        var result = new List<ToolCall>();
        if (calls is null)
            return result;
        for (var j = 0; j < calls.Count; j++)
        {
            var where = $"{at}.tool_calls[{j}]";
            var call = calls[j] ?? throw ApiException.WrongType(where, "an object");
            var function = call.Function ?? throw ApiException.Missing($"{where}.function");
            if (string.IsNullOrEmpty(function.Name))
                throw ApiException.Missing($"{where}.function.name");
            var arguments = ArgumentsJson(function.Arguments, $"{where}.function.arguments");
            var id = string.IsNullOrEmpty(call.Id) ? Ids.ToolCall() : call.Id;
            callNames[id] = function.Name;
            result.Add(new ToolCall(id, function.Name, arguments));
        }

        return result;
    }

    /// <summary>Arguments as JSON text: OpenAI sends a JSON-encoded string, some clients the object itself.</summary>
    public static string ArgumentsJson(JsonElement? arguments, string param) => arguments switch
    {
        null or { ValueKind: JsonValueKind.Null } => "{}",
        { ValueKind: JsonValueKind.String } s => s.GetString()!.Length == 0 ? "{}" : s.GetString()!,
        { ValueKind: JsonValueKind.Object } o => o.GetRawText(),
        _ => throw ApiException.WrongType(param, "a JSON-encoded string or an object"),
    };
}
