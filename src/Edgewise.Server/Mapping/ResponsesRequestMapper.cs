using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;
using Edgewise.Server.Json;

namespace Edgewise.Server.Mapping;

/// <summary>A validated Responses request and the echo fields the response object repeats.</summary>
internal sealed record ResponsesCall(GenerationRequest Request, ModelDescriptor Model, bool Stream, ResponsesRequestDto Dto);

/// <summary>Validates a stateless <c>/v1/responses</c> body: input items become conversation messages.</summary>
internal static class ResponsesRequestMapper
{
    public static ResponsesCall Map(ResponsesRequestDto dto, IChatBackend backend)
    {
        var model = RequestValidation.ResolveModel(backend, dto.Model);
        if (dto.PreviousResponseId is not null)
            throw ApiException.Invalid("previous_response_id", "This server is stateless: send the whole conversation in 'input' instead of 'previous_response_id'.", "unsupported_value");
        if (dto.Background == true)
            throw ApiException.Invalid("background", "Background responses are not supported; use 'stream' instead.", "unsupported_value");
        var tools = ToolMapping.ResponsesTools(dto.Tools);
        if (tools.Count > 0 && !model.SupportsTools)
            throw ApiException.Invalid("tools", $"The model '{model.Id}' does not support tools.", "unsupported_value");
        var request = new GenerationRequest
        {
            Model = model.Id,
            Messages = Messages(dto.Input, dto.Instructions),
            Tools = tools,
            ToolChoice = ToolMapping.Choice(dto.ToolChoice, tools),
            ParallelToolCalls = dto.ParallelToolCalls ?? true,
            ResponseFormat = ToolMapping.ResponsesFormat(dto.Text),
            Sampling = RequestValidation.Sampling(dto.Temperature, dto.TopP, null, null, null, null, null, null, null),
            MaxTokens = RequestValidation.MaxTokens(dto.MaxOutputTokens, "max_output_tokens", model),
            Logprobs = dto.TopLogprobs is > 0,
            TopLogprobs = RequestValidation.Range(dto.TopLogprobs, "top_logprobs", 0, RequestValidation.MaxTopLogprobs) ?? 0,
            EnableThinking = RequestValidation.Thinking(model, null, dto.Reasoning?.Effort, null),
        };
        return new ResponsesCall(request, model, dto.Stream ?? false, dto);
    }

    private static List<ConversationMessage> Messages(JsonElement? input, string? instructions)
    {
        var messages = new List<ConversationMessage>();
        if (!string.IsNullOrEmpty(instructions))
            messages.Add(ConversationMessage.FromText(MessageRole.System, instructions));
        switch (input)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                throw ApiException.Missing("input");
            case { ValueKind: JsonValueKind.String } text:
                messages.Add(ConversationMessage.FromText(MessageRole.User, text.GetString()!));
                return messages;
            case { ValueKind: JsonValueKind.Array } items:
                if (items.GetArrayLength() == 0)
                    throw ApiException.Invalid("input", "'input' must contain at least one item.", "empty_array");
                AddItems(items, messages);
                return messages;
            default:
                throw ApiException.WrongType("input", "a string or an array of input items");
        }
    }

    private static void AddItems(JsonElement items, List<ConversationMessage> messages)
    {
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var element in items.EnumerateArray())
        {
            var at = $"input[{i++}]";
            if (element.ValueKind != JsonValueKind.Object)
                throw ApiException.WrongType(at, "an input item object");
            var item = element.Deserialize(ServerJsonContext.Default.ResponsesInputItemDto)!;
            switch (item.Type)
            {
                case null or "message":
                    var role = item.Role switch
                    {
                        null => throw ApiException.Missing($"{at}.role"),
                        "user" => MessageRole.User,
                        "system" => MessageRole.System,
                        "developer" => MessageRole.Developer,
                        "assistant" => MessageRole.Assistant,
                        _ => throw ApiException.OutOfRange($"{at}.role", "'user', 'system', 'developer' or 'assistant'", $"'{item.Role}'"),
                    };
                    messages.Add(new ConversationMessage(role, ContentParts.Parse(item.Content, $"{at}.content", allowMissing: false)));
                    break;
                case "function_call":
                    if (string.IsNullOrEmpty(item.Name))
                        throw ApiException.Missing($"{at}.name");
                    var callId = string.IsNullOrEmpty(item.CallId) ? throw ApiException.Missing($"{at}.call_id") : item.CallId;
                    callNames[callId] = item.Name;
                    var call = new ToolCall(callId, item.Name, string.IsNullOrEmpty(item.Arguments) ? "{}" : item.Arguments);
                    // Consecutive calls belong to one assistant turn.
                    if (messages.Count > 0 && messages[^1] is { Role: MessageRole.Assistant, ToolCalls.Count: > 0 } last)
                        messages[^1] = last with { ToolCalls = [.. last.ToolCalls, call] };
                    else
                        messages.Add(new ConversationMessage(MessageRole.Assistant, []) { ToolCalls = [call] });
                    break;
                case "function_call_output":
                    var answered = string.IsNullOrEmpty(item.CallId) ? throw ApiException.Missing($"{at}.call_id") : item.CallId;
                    var output = ContentParts.Parse(item.Output, $"{at}.output", allowMissing: false);
                    messages.Add(new ConversationMessage(MessageRole.Tool, output)
                    {
                        ToolCallId = answered,
                        ToolName = callNames.GetValueOrDefault(answered),
                    });
                    break;
                case "reasoning":
                    break; // earlier thoughts are not replayed to the model
                default:
                    throw ApiException.OutOfRange($"{at}.type", "'message', 'function_call', 'function_call_output' or 'reasoning'", $"'{item.Type}'");
            }
        }
    }
}
