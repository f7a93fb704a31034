using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Edgewise.Engine.Sessions;
using Microsoft.Extensions.AI;
using AI = Microsoft.Extensions.AI;
using EngineToolChoice = Edgewise.Engine.Constraints.ToolChoice;

namespace Edgewise.Engine.ChatClient;

/// <summary>
/// The engine as a <see cref="IChatClient"/> (Microsoft.Extensions.AI): plug it into a <c>ChatClientBuilder</c>
/// pipeline (function invocation, logging, caching) like any hosted client. Calls are served one at a time by one
/// <see cref="ChatSession"/>, so consecutive turns of a conversation reuse the cached prompt prefix.
/// </summary>
public sealed class EdgewiseChatClient : IChatClient
{
    private readonly EdgewiseModel _model;
    private readonly bool _ownsModel;
    private readonly ChatSession _session;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChatClientMetadata _metadata;

    /// <param name="model">A loaded model.</param>
    /// <param name="contextLength">KV cache size of the client's session (default: the model's, at most 8192).</param>
    /// <param name="ownsModel">Dispose <paramref name="model"/> with the client.</param>
    public EdgewiseChatClient(EdgewiseModel model, int? contextLength = null, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        _session = model.CreateSession(contextLength);
        ModelId = model.Info.Name;
        _metadata = new ChatClientMetadata("edgewise", model.SourcePath is string p ? new Uri(Path.GetFullPath(p)) : null, ModelId);
    }

    /// <summary>Loads a GGUF file or safetensors checkpoint and owns it.</summary>
    public static EdgewiseChatClient Load(string path, EngineLoadOptions? options = null, int? contextLength = null) =>
        new(EdgewiseModel.Load(path, options), contextLength, ownsModel: true);

    public string ModelId { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AI.ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        List<Text.Chat.ChatMessage> conversation = ChatClientMapping.ToEngineMessages(messages, options?.Instructions);
        GenerationOptions generation = ChatClientMapping.ToGenerationOptions(options);
        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        string messageId = "msg-" + Guid.NewGuid().ToString("N")[..16];
        DateTimeOffset created = DateTimeOffset.UtcNow;

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var calls = new List<(string Id, string Name, StringBuilder Arguments)>();
            await foreach (GenerationUpdate u in _session.GenerateAsync(conversation, generation, cancellationToken).ConfigureAwait(false))
            {
                AIContent? content = null;
                ChatFinishReason? finish = null;
                switch (u.Kind)
                {
                    case GenerationUpdateKind.Text:
                        content = new TextContent(u.Text);
                        break;
                    case GenerationUpdateKind.Reasoning:
                        content = new TextReasoningContent(u.Text);
                        break;
                    case GenerationUpdateKind.ToolCallStart:
                        calls.Add((u.ToolCallId!, u.Text, new StringBuilder()));
                        break;
                    case GenerationUpdateKind.ToolCallArguments:
                        calls[u.ToolCallIndex].Arguments.Append(u.Text);
                        break;
                    case GenerationUpdateKind.ToolCallEnd:
                        // Function-invoking clients need whole calls: one FunctionCallContent once its arguments are complete.
                        var call = calls[u.ToolCallIndex];
                        content = ChatClientMapping.ToFunctionCall(call.Id, call.Name, call.Arguments.ToString());
                        break;
                    case GenerationUpdateKind.Finished:
                        GenerationUsage usage = u.Usage!;
                        content = new UsageContent(ChatClientMapping.ToUsageDetails(usage));
                        finish = usage.FinishReason switch
                        {
                            FinishReason.Length => ChatFinishReason.Length,
                            FinishReason.ToolCalls => ChatFinishReason.ToolCalls,
                            _ => ChatFinishReason.Stop,
                        };
                        break;
                }
                if (content is null) continue;
                yield return new ChatResponseUpdate(ChatRole.Assistant, [content])
                {
                    ResponseId = responseId,
                    MessageId = messageId,
                    ModelId = ModelId,
                    CreatedAt = created,
                    FinishReason = finish,
                };
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(EdgewiseModel)) return _model;
        if (serviceType == typeof(ChatSession)) return _session;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
        _session.Dispose();
        _gate.Dispose();
        if (_ownsModel) _model.Dispose();
    }
}
