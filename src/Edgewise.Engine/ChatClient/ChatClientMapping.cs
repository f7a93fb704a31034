using System.Text.Json;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Microsoft.Extensions.AI;
using AI = Microsoft.Extensions.AI;
using EngineMessage = Edgewise.Text.Chat.ChatMessage;
using EngineRole = Edgewise.Text.Chat.ChatRole;
using EngineToolCall = Edgewise.Text.Chat.ToolCall;
using EngineToolChoice = Edgewise.Engine.Constraints.ToolChoice;
using ToolDefinition = Edgewise.Text.Chat.ToolDefinition;

namespace Edgewise.Engine.ChatClient;

/// <summary>Microsoft.Extensions.AI messages and options to the engine's, and the engine's usage back.</summary>
internal static class ChatClientMapping
{
    public static List<EngineMessage> ToEngineMessages(IEnumerable<AI.ChatMessage> messages, string? instructions)
    {
        var result = new List<EngineMessage>();
        if (!string.IsNullOrEmpty(instructions)) result.Add(EngineMessage.System(instructions));
        // Tool results carry only the call id; Gemma templates key results by function name.
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (AI.ChatMessage message in messages)
        {
            var text = new System.Text.StringBuilder();
            var reasoning = new System.Text.StringBuilder();
            var calls = new List<EngineToolCall>();
            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text);
                        break;
                    case TextReasoningContent r:
                        reasoning.Append(r.Text);
                        break;
                    case FunctionCallContent call:
                        callNames[call.CallId] = call.Name;
                        calls.Add(new EngineToolCall(call.CallId, call.Name, JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions)));
                        break;
                    case FunctionResultContent fr:
                        result.Add(EngineMessage.ToolResult(fr.CallId, ResultText(fr.Result), callNames.GetValueOrDefault(fr.CallId)));
                        break;
                }
            }
            EngineRole role = ToRole(message.Role);
            if (role == EngineRole.Tool) continue;                        // its results were added above
            if (text.Length == 0 && calls.Count == 0 && reasoning.Length == 0) continue;
            result.Add(new EngineMessage(role, text.ToString())
            {
                ToolCalls = calls.Count > 0 ? calls : null,
                ReasoningContent = reasoning.Length > 0 ? reasoning.ToString() : null,
            });
        }
        return result;
    }

    private static EngineRole ToRole(AI.ChatRole role) =>
        role == AI.ChatRole.System ? EngineRole.System
        : role == AI.ChatRole.Assistant ? EngineRole.Assistant
        : role == AI.ChatRole.Tool ? EngineRole.Tool
        : role.Value == "developer" ? EngineRole.Developer
        : EngineRole.User;

    /// <summary>A string result as is; anything else as JSON (what a hosted API would send the model).</summary>
    private static string ResultText(object? result) => result switch
    {
        null => "null",
        string s => s,
        JsonElement e => e.GetRawText(),
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
    };

    public static GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        if (options is null) return GenerationOptions.Default;
        var sampling = new SamplingOptions
        {
            Temperature = options.Temperature ?? 1f,
            TopP = options.TopP ?? 1f,
            TopK = options.TopK ?? 0,
            PresencePenalty = options.PresencePenalty ?? 0f,
            FrequencyPenalty = options.FrequencyPenalty ?? 0f,
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : null,
        };
        var tools = new List<ToolDefinition>();
        foreach (AITool tool in options.Tools ?? [])
        {
            if (tool is AIFunctionDeclaration f)
            {
                tools.Add(new ToolDefinition(f.Name, string.IsNullOrEmpty(f.Description) ? null : f.Description, f.JsonSchema.ValueKind == JsonValueKind.Object ? f.JsonSchema.GetRawText() : null));
            }
        }
        EngineToolChoice choice = options.ToolMode switch
        {
            NoneChatToolMode => EngineToolChoice.None,
            RequiredChatToolMode { RequiredFunctionName: string name } => EngineToolChoice.Function(name),
            RequiredChatToolMode => EngineToolChoice.Required,
            _ => EngineToolChoice.Auto,
        };
        Sessions.ResponseFormat format = options.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: JsonElement schema } => Sessions.ResponseFormat.ForSchema(schema.GetRawText()),
            ChatResponseFormatJson => Sessions.ResponseFormat.JsonObject,
            _ => Sessions.ResponseFormat.Text,
        };
        return new GenerationOptions
        {
            Sampling = sampling,
            MaxTokens = options.MaxOutputTokens,
            Stop = options.StopSequences is { Count: > 0 } stops ? [.. stops] : [],
            Tools = tools,
            ToolChoice = tools.Count > 0 ? choice : EngineToolChoice.Auto,
            ParallelToolCalls = options.AllowMultipleToolCalls ?? true,
            ResponseFormat = format,
        };
    }

    public static FunctionCallContent ToFunctionCall(string id, string name, string argumentsJson)
    {
        try
        {
            var arguments = JsonSerializer.Deserialize<Dictionary<string, object?>>(argumentsJson.Length == 0 ? "{}" : argumentsJson, AIJsonUtilities.DefaultOptions);
            return new FunctionCallContent(id, name, arguments);
        }
        catch (JsonException ex)
        {
            // The invoking client reports the exception back to the model instead of calling the function.
            return new FunctionCallContent(id, name) { Exception = ex };
        }
    }

    public static UsageDetails ToUsageDetails(GenerationUsage usage) => new()
    {
        InputTokenCount = usage.PromptTokens,
        OutputTokenCount = usage.CompletionTokens,
        TotalTokenCount = usage.PromptTokens + usage.CompletionTokens,
        CachedInputTokenCount = usage.CachedTokens,
        AdditionalCounts = new AdditionalPropertiesDictionary<long>
        {
            ["prefill_ms"] = (long)usage.PrefillTime.TotalMilliseconds,
            ["decode_ms"] = (long)usage.DecodeTime.TotalMilliseconds,
        },
    };
}
