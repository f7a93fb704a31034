using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using EngineMessage = Edgewise.Text.Chat.ChatMessage;
using EngineResponseFormat = Edgewise.Engine.Sessions.ResponseFormat;
using EngineRole = Edgewise.Text.Chat.ChatRole;
using EngineToolCall = Edgewise.Text.Chat.ToolCall;
using EngineToolChoice = Edgewise.Engine.Constraints.ToolChoice;
using EngineToolDefinition = Edgewise.Text.Chat.ToolDefinition;

namespace Edgewise.Server.Backend;

/// <summary>The server's neutral <see cref="GenerationRequest"/> to the engine's messages and options.</summary>
internal static class EngineRequestMapping
{
    // Google's generation_config.json for the Gemma 3n / Gemma 4 instruction-tuned models; a GGUF does not
    // carry it, so these stand in for "the model's default" when a client leaves a field out.
    private const float DefaultTemperature = 1f;
    private const float DefaultTopP = 0.95f;
    private const int DefaultTopK = 64;

    /// <summary>Chat messages for the template; media parts are refused (this engine reads text only).</summary>
    public static List<EngineMessage> ToMessages(IReadOnlyList<ConversationMessage> messages)
    {
        var result = new List<EngineMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            ConversationMessage m = messages[i];
            foreach (ContentPart part in m.Content)
            {
                if (part.Kind != ContentPartKind.Text)
                {
                    throw new UnsupportedRequestException($"messages[{i}].content",
                        $"messages[{i}] has an {part.Kind.ToString().ToLowerInvariant()} part, but this server reads text only: the engine has no vision or audio encoder yet.");
                }
            }
            EngineRole role = m.Role switch
            {
                MessageRole.System => EngineRole.System,
                MessageRole.Developer => EngineRole.Developer,
                MessageRole.User => EngineRole.User,
                MessageRole.Assistant => EngineRole.Assistant,
                _ => EngineRole.Tool,
            };
            if (role == EngineRole.Tool)
            {
                result.Add(EngineMessage.ToolResult(m.ToolCallId ?? "", m.Text, m.ToolName));
                continue;
            }
            EngineToolCall[]? calls = null;
            if (m.ToolCalls.Count > 0)
            {
                calls = new EngineToolCall[m.ToolCalls.Count];
                for (int c = 0; c < calls.Length; c++)
                {
                    ToolCall call = m.ToolCalls[c];
                    calls[c] = new EngineToolCall(call.Id, call.Name, call.ArgumentsJson);
                }
            }
            result.Add(new EngineMessage(role, m.Text)
            {
                ToolCalls = calls,
                ReasoningContent = m.Reasoning,
            });
        }
        return result;
    }

    /// <summary>Engine options for choice <paramref name="choice"/> (a seeded request gives each choice its own seed).</summary>
    public static GenerationOptions ToOptions(GenerationRequest request, int choice, int vocabularySize)
    {
        SamplingParameters p = request.Sampling;
        var sampling = new SamplingOptions
        {
            Temperature = p.Temperature ?? DefaultTemperature,
            TopP = p.TopP ?? DefaultTopP,
            TopK = p.TopK ?? DefaultTopK,
            MinP = p.MinP ?? 0f,
            PresencePenalty = p.PresencePenalty ?? 0f,
            FrequencyPenalty = p.FrequencyPenalty ?? 0f,
            RepetitionPenalty = p.RepetitionPenalty ?? 1f,
            LogitBias = p.LogitBias.Count > 0 ? p.LogitBias : null,
            Seed = p.Seed is long seed ? unchecked((ulong)seed + (ulong)choice) : null,
            LogProbs = request.Logprobs,
            TopLogProbs = request.Logprobs ? request.TopLogprobs : 0,
        };
        try
        {
            sampling.Validate(vocabularySize);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            string param = ex.ParamName switch
            {
                nameof(SamplingOptions.LogitBias) => "logit_bias",
                nameof(SamplingOptions.TopP) => "top_p",
                nameof(SamplingOptions.TopK) => "top_k",
                nameof(SamplingOptions.MinP) => "min_p",
                nameof(SamplingOptions.RepetitionPenalty) => "repetition_penalty",
                _ => "temperature",
            };
            throw new UnsupportedRequestException(param, $"'{param}' is out of range for this model: {ex.Message}");
        }

        var tools = new List<EngineToolDefinition>(request.Tools.Count);
        foreach (ToolDefinition tool in request.Tools)
        {
            tools.Add(new EngineToolDefinition(tool.Name, tool.Description, tool.Parameters?.GetRawText()));
        }
        EngineToolChoice toolChoice = request.ToolChoice.Mode switch
        {
            ToolChoiceMode.None => EngineToolChoice.None,
            ToolChoiceMode.Required => EngineToolChoice.Required,
            ToolChoiceMode.Function => EngineToolChoice.Function(request.ToolChoice.FunctionName!),
            _ => EngineToolChoice.Auto,
        };
        EngineResponseFormat format = request.ResponseFormat.Kind switch
        {
            ResponseFormatKind.JsonObject => EngineResponseFormat.JsonObject,
            ResponseFormatKind.JsonSchema when request.ResponseFormat.Schema is { } schema => EngineResponseFormat.ForSchema(schema.GetRawText()),
            ResponseFormatKind.JsonSchema => EngineResponseFormat.JsonObject,
            _ => EngineResponseFormat.Text,
        };
        return new GenerationOptions
        {
            Sampling = sampling,
            MaxTokens = request.MaxTokens,
            Stop = request.Stop,
            ResponseFormat = format,
            Tools = tools,
            ToolChoice = tools.Count > 0 ? toolChoice : EngineToolChoice.Auto,
            ParallelToolCalls = request.ParallelToolCalls,
            EnableThinking = request.EnableThinking,
        };
    }

    /// <summary>Engine usage of all choices to the server's: the prompt counts once, completions add up.</summary>
    public static GenerationUsage ToUsage(int promptTokens, int cachedTokens, int completionTokens, TimeSpan prefill, TimeSpan decode, int reasoningTokens) =>
        new(promptTokens, completionTokens, cachedTokens, reasoningTokens, prefill, decode);
}
