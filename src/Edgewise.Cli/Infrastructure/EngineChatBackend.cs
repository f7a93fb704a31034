using System.Runtime.CompilerServices;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Server.Backend;
using B = Edgewise.Server.Backend;
using E = Edgewise.Engine.Sessions;
using T = Edgewise.Text.Chat;

namespace Edgewise.Cli.Infrastructure;

/// <summary>
/// The HTTP server's backend port on the engine: one loaded model and a pool of <c>parallel</c> sessions. A request
/// takes the idle session whose cache shares the longest prefix with its prompt (a conversation's next turn goes
/// back to the session that already holds it), and runs its choices one after another on that session.
/// </summary>
internal sealed class EngineChatBackend : IChatBackend, IDisposable
{
    private readonly EdgewiseModel _model;
    private readonly List<ChatSession> _idle;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _gate = new();
    private readonly int _sessions;
    private long _cachedTokensServed;

    public EngineChatBackend(EdgewiseModel model, int contextLength, int parallel)
    {
        _model = model;
        _sessions = Math.Max(1, parallel);
        _idle = [];
        for (int i = 0; i < _sessions; i++) _idle.Add(model.CreateSession(contextLength));
        _slots = new SemaphoreSlim(_sessions, _sessions);
        string file = model.SourcePath is string p ? Path.GetFileName(p) : model.Info.Name;
        Models =
        [
            new ModelDescriptor(model.Info.Name, contextLength, model.SourcePath is string s && File.Exists(s) ? File.GetLastWriteTimeUtc(s) : DateTimeOffset.UtcNow,
                SupportsTools: true, SupportsThinking: model.Info.Architecture.StartsWith("gemma4", StringComparison.Ordinal))
            {
                Aliases = [file, Path.GetFileNameWithoutExtension(file)],
                Family = model.Info.Architecture,
                SizeBytes = model.SourcePath is string f && File.Exists(f) ? new FileInfo(f).Length : 0,
            },
        ];
    }

    /// <summary>The constructor <c>BackendFactory.Register</c> takes: resolves (local path or hub), loads, makes the sessions.</summary>
    public static IChatBackend Create(string modelReference, BackendOptions options)
    {
        string path = ModelResolver.ResolveAsync(modelReference, offline: false, CancellationToken.None).GetAwaiter().GetResult();
        EdgewiseModel model = EdgewiseModel.Load(path, new EngineLoadOptions { Threads = options.Threads ?? Environment.ProcessorCount });
        int context = options.ContextLength ?? Math.Min(model.Info.ContextLength, 8192);
        return new EngineChatBackend(model, context, options.Parallel);
    }

    public IReadOnlyList<ModelDescriptor> Models { get; }

    public BackendStatus Status => BackendStatus.Ready;

    public BackendStats GetStats()
    {
        lock (_gate)
        {
            return new BackendStats(_sessions - _idle.Count, 0, 0, _idle.Count, 0, Interlocked.Read(ref _cachedTokensServed));
        }
    }

    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        GenerationOptions options = ToOptions(request);
        List<T.ChatMessage>? messages = request.Prompt is null ? ToMessages(request.Messages) : null;
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        ChatSession session;
        int[] prompt;
        try
        {
            // Only to pick the session with the longest shared prefix; the session tokenizes again for itself.
            ChatSession any;
            lock (_gate) any = _idle[0];
            prompt = messages is null ? [_model.Tokenizer.BosId, .. _model.Tokenizer.Encode(request.Prompt!)] : any.TokenizePrompt(messages, options);
            session = TakeSession(prompt);
        }
        catch
        {
            _slots.Release();
            throw;
        }
        try
        {
            int promptTokens = 0, completion = 0, cached = 0;
            TimeSpan prefill = TimeSpan.Zero, decode = TimeSpan.Zero;
            for (int choice = 0; choice < Math.Max(1, request.ChoiceCount); choice++)
            {
                GenerationOptions choiceOptions = choice == 0 || options.Sampling.Seed is null ? options
                    : options with { Sampling = options.Sampling with { Seed = options.Sampling.Seed + (ulong)choice } };
                IAsyncEnumerable<GenerationUpdate> stream;
                try
                {
                    stream = messages is null ? session.CompleteAsync(request.Prompt!, choiceOptions, cancellationToken) : session.GenerateAsync(messages, choiceOptions, cancellationToken);
                }
                catch (E.ContextOverflowException ex)
                {
                    throw new B.ContextOverflowException(ex.PromptTokens, request.MaxTokens ?? 0, ex.ContextLength);
                }
                if (request.Echo && request.Prompt is not null) yield return new TextDeltaEvent(choice, request.Prompt);
                await using IAsyncEnumerator<GenerationUpdate> e = stream.GetAsyncEnumerator(cancellationToken);
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await e.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (SchemaCompileException ex)
                    {
                        throw new InvalidSchemaException(request.ResponseFormat.Kind == B.ResponseFormatKind.JsonSchema ? "response_format.json_schema.schema" : "tools", ex.Pointer, ex.Message);
                    }
                    if (!more) break;
                    GenerationUpdate u = e.Current;
                    switch (u.Kind)
                    {
                        case GenerationUpdateKind.Text: yield return new TextDeltaEvent(choice, u.Text); break;
                        case GenerationUpdateKind.Reasoning: yield return new ReasoningDeltaEvent(choice, u.Text); break;
                        case GenerationUpdateKind.ToolCallStart: yield return new ToolCallStartEvent(choice, u.ToolCallIndex, u.ToolCallId!, u.Text); break;
                        case GenerationUpdateKind.ToolCallArguments: yield return new ToolCallArgumentsEvent(choice, u.ToolCallIndex, u.Text); break;
                        case GenerationUpdateKind.ToolCallEnd: yield return new ToolCallEndEvent(choice, u.ToolCallIndex); break;
                        case GenerationUpdateKind.Finished:
                            E.GenerationUsage usage = u.Usage!;
                            promptTokens = usage.PromptTokens;
                            cached += choice == 0 ? usage.CachedTokens : 0;
                            completion += usage.CompletionTokens;
                            prefill += usage.PrefillTime;
                            decode += usage.DecodeTime;
                            Interlocked.Add(ref _cachedTokensServed, usage.CachedTokens);
                            yield return new FinishedEvent(choice, usage.FinishReason switch
                            {
                                E.FinishReason.Length => B.FinishReason.Length,
                                E.FinishReason.ToolCalls => B.FinishReason.ToolCalls,
                                _ => B.FinishReason.Stop,
                            });
                            break;
                    }
                }
            }
            yield return new UsageEvent(new B.GenerationUsage(promptTokens, completion, cached, 0, prefill, decode));
        }
        finally
        {
            lock (_gate) _idle.Add(session);
            _slots.Release();
        }
    }

    /// <summary>
    /// The idle session whose cache shares the longest prefix with <paramref name="prompt"/>. A prefix shorter than
    /// <see cref="MinUsefulPrefix"/> (a bos and a role header) saves nothing, so it counts as none; ties go to the
    /// session holding the fewest tokens, which keeps other conversations' caches alive for their next turn.
    /// </summary>
    private ChatSession TakeSession(int[] prompt)
    {
        lock (_gate)
        {
            int best = 0, bestLength = -1, bestHeld = int.MaxValue;
            for (int i = 0; i < _idle.Count; i++)
            {
                int length = _idle[i].CachedTokens.CommonPrefixLength(prompt);
                if (length < MinUsefulPrefix) length = 0;
                int held = _idle[i].CachedTokens.Length;
                if (length > bestLength || (length == bestLength && held < bestHeld)) (best, bestLength, bestHeld) = (i, length, held);
            }
            ChatSession session = _idle[best];
            _idle.RemoveAt(best);
            return session;
        }
    }

    private const int MinUsefulPrefix = 16;

    private static GenerationOptions ToOptions(GenerationRequest r)
    {
        SamplingParameters s = r.Sampling;
        // Null means the model's default: Gemma's recommended temperature 1, top-p 0.95, top-k 64.
        var sampling = new SamplingOptions
        {
            Temperature = s.Temperature ?? 1f,
            TopP = s.TopP ?? 0.95f,
            TopK = s.TopK ?? 64,
            MinP = s.MinP ?? 0f,
            PresencePenalty = s.PresencePenalty ?? 0f,
            FrequencyPenalty = s.FrequencyPenalty ?? 0f,
            RepetitionPenalty = s.RepetitionPenalty ?? 1f,
            Seed = s.Seed is long seed ? unchecked((ulong)seed) : null,
            LogitBias = s.LogitBias.Count > 0 ? s.LogitBias : null,
        };
        E.ResponseFormat format = r.ResponseFormat.Kind switch
        {
            B.ResponseFormatKind.JsonObject => E.ResponseFormat.JsonObject,
            B.ResponseFormatKind.JsonSchema => E.ResponseFormat.ForSchema(r.ResponseFormat.Schema!.Value.GetRawText()),
            _ => E.ResponseFormat.Text,
        };
        Engine.Constraints.ToolChoice choice = r.ToolChoice.Mode switch
        {
            B.ToolChoiceMode.None => Engine.Constraints.ToolChoice.None,
            B.ToolChoiceMode.Required => Engine.Constraints.ToolChoice.Required,
            B.ToolChoiceMode.Function => Engine.Constraints.ToolChoice.Function(r.ToolChoice.FunctionName!),
            _ => Engine.Constraints.ToolChoice.Auto,
        };
        return new GenerationOptions
        {
            Sampling = sampling,
            MaxTokens = r.MaxTokens,
            Stop = r.Stop,
            ResponseFormat = format,
            Tools = [.. r.Tools.Select(t => new T.ToolDefinition(t.Name, t.Description, t.Parameters?.GetRawText()))],
            ToolChoice = choice,
            ParallelToolCalls = r.ParallelToolCalls,
            EnableThinking = r.EnableThinking,
        };
    }

    private static List<T.ChatMessage> ToMessages(IReadOnlyList<ConversationMessage> messages)
    {
        var result = new List<T.ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            ConversationMessage m = messages[i];
            if (m.Content.Any(p => p.Kind != B.ContentPartKind.Text))
            {
                throw new UnsupportedRequestException($"messages[{i}].content", "This build of the engine reads text only; images and audio are not supported yet.");
            }
            T.ChatRole role = m.Role switch
            {
                MessageRole.System => T.ChatRole.System,
                MessageRole.Developer => T.ChatRole.Developer,
                MessageRole.Assistant => T.ChatRole.Assistant,
                MessageRole.Tool => T.ChatRole.Tool,
                _ => T.ChatRole.User,
            };
            result.Add(new T.ChatMessage(role, m.Text)
            {
                ToolCalls = m.ToolCalls.Count > 0 ? [.. m.ToolCalls.Select(c => new T.ToolCall(c.Id, c.Name, c.ArgumentsJson))] : null,
                ToolCallId = m.ToolCallId,
                Name = m.ToolName,
                ReasoningContent = m.Reasoning,
            });
        }
        return result;
    }

    public void Dispose()
    {
        foreach (ChatSession s in _idle) s.Dispose();
        _slots.Dispose();
        _model.Dispose();
    }
}
