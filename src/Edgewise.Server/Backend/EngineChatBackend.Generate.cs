using System.Runtime.CompilerServices;
using System.Text;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Text.Templates;
using Edgewise.Text.Tokenization;
using EngineFinish = Edgewise.Engine.Sessions.FinishReason;
using EngineMessage = Edgewise.Text.Chat.ChatMessage;
using EngineOverflow = Edgewise.Engine.Sessions.ContextOverflowException;
using EngineUpdateKind = Edgewise.Engine.Sessions.GenerationUpdateKind;

namespace Edgewise.Server.Backend;

public sealed partial class EngineChatBackend
{
    /// <summary>
    /// Runs the request's choices one after another on one pooled session (the second choice finds the whole prompt
    /// cached). Everything the request can be refused for is checked before the first event: media parts, sampling
    /// ranges, the context, and the grammar (compiled when the first update is pulled, before anything is yielded).
    /// </summary>
    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_status.State != BackendState.Ready || _model is not { } model || _pool is not { } pool)
        {
            throw new InvalidOperationException($"The model is not ready ({_status.State}: {_status.Message}).");
        }
        bool raw = request.Prompt is not null;
        List<EngineMessage>? messages = raw ? null : EngineRequestMapping.ToMessages(request.Messages);
        // Tokenized once: the tokens pick the pooled session with the longest shared prefix, then feed the turn itself.
        GenerationOptions firstOptions = EngineRequestMapping.ToOptions(request, 0, model.Info.VocabularySize);
        int[] prompt = raw ? RawPromptTokens(model, request.Prompt!) : ChatPromptTokens(model, messages!, firstOptions);
        CheckContext(prompt.Length, request.MaxTokens, pool.ContextLength);
        try
        {
            // Before any prefill: a refused schema is a 400, not an error after a long wait (or in a kept-alive stream).
            model.PrepareConstraints(firstOptions, chat: !raw);
        }
        catch (GrammarException ex)
        {
            throw SchemaRefusal(ex, request);
        }

        PooledSession pooled = pool.Rent(prompt);
        bool consistent = true;
        int cached = 0, completion = 0, reasoning = 0;
        // Log-probs of tokens whose text has not come out yet: they ride on the next text delta, and are dropped when
        // that text turns out to be reasoning or a tool call (OpenAI reports the content's tokens only).
        List<TokenLogprob>? pendingLogprobs = request.Logprobs ? [] : null;
        TimeSpan prefill = TimeSpan.Zero, decode = TimeSpan.Zero;
        try
        {
            for (int choice = 0; choice < request.ChoiceCount; choice++)
            {
                GenerationOptions options = choice == 0 ? firstOptions : EngineRequestMapping.ToOptions(request, choice, model.Info.VocabularySize);
                if (raw && request.Echo) yield return new TextDeltaEvent(choice, request.Prompt!);

                IAsyncEnumerable<GenerationUpdate> updates;
                try
                {
                    updates = raw
                        ? pooled.Session.CompleteTokensAsync(prompt, options, cancellationToken)
                        : pooled.Session.GenerateFromPromptAsync(prompt, options, cancellationToken);   // tokenized once, above
                }
                catch (EngineOverflow ex)
                {
                    throw new ContextOverflowException(ex.PromptTokens, Math.Max(1, request.MaxTokens ?? 1), ex.ContextLength);
                }

                await using IAsyncEnumerator<GenerationUpdate> e = updates.GetAsyncEnumerator(cancellationToken);
                bool yielded = false;
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await e.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // The engine stops between tokens: the cache ends at a complete position and stays reusable.
                        throw;
                    }
                    catch (GrammarException ex) when (!yielded && choice == 0)
                    {
                        throw SchemaRefusal(ex, request);
                    }
                    catch
                    {
                        consistent = false;
                        throw;
                    }
                    if (!more) break;

                    GenerationUpdate u = e.Current;
                    switch (u.Kind)
                    {
                        case EngineUpdateKind.Logprobs:
                            pendingLogprobs?.Add(ToLogprob(model.Tokenizer, u.Logprobs!));
                            break;
                        case EngineUpdateKind.Text:
                            List<TokenLogprob>? carried = pendingLogprobs is { Count: > 0 } ? [.. pendingLogprobs] : null;
                            pendingLogprobs?.Clear();
                            yield return new TextDeltaEvent(choice, u.Text, carried);
                            break;
                        case EngineUpdateKind.Reasoning:
                            pendingLogprobs?.Clear();
                            yield return new ReasoningDeltaEvent(choice, u.Text);
                            break;
                        case EngineUpdateKind.ToolCallStart:
                            pendingLogprobs?.Clear();
                            yield return new ToolCallStartEvent(choice, u.ToolCallIndex, u.ToolCallId!, u.Text);
                            break;
                        case EngineUpdateKind.ToolCallArguments:
                            yield return new ToolCallArgumentsEvent(choice, u.ToolCallIndex, u.Text);
                            break;
                        case EngineUpdateKind.ToolCallEnd:
                            yield return new ToolCallEndEvent(choice, u.ToolCallIndex);
                            break;
                        case EngineUpdateKind.Finished:
                            Edgewise.Engine.Sessions.GenerationUsage usage = u.Usage!;
                            if (choice == 0)
                            {
                                cached = usage.CachedTokens;
                                pool.CountHit(cached);
                            }
                            completion += usage.CompletionTokens;
                            reasoning += usage.ReasoningTokens;
                            pendingLogprobs?.Clear();
                            prefill += usage.PrefillTime;
                            decode += usage.DecodeTime;
                            yield return new FinishedEvent(choice, usage.FinishReason switch
                            {
                                EngineFinish.Length => FinishReason.Length,
                                EngineFinish.ToolCalls => FinishReason.ToolCalls,
                                _ => FinishReason.Stop,
                            });
                            break;
                    }
                    yielded = true;
                }
            }
            yield return new UsageEvent(new GenerationUsage(prompt.Length, completion, cached, reasoning, prefill, decode));
        }
        finally
        {
            pool.Return(pooled, consistent);
        }
    }

    /// <summary>A sampled token's log-probs in wire terms: each token's text and exact UTF-8 bytes.</summary>
    private static TokenLogprob ToLogprob(ITokenizer tokenizer, SampledTokenLogprobs sampled)
    {
        var top = new TopLogprob[sampled.Top.Count];
        for (int i = 0; i < top.Length; i++)
        {
            TokenLogProb alt = sampled.Top[i];
            byte[] altBytes = tokenizer.TokenBytes(alt.Id).ToArray();
            top[i] = new TopLogprob(TokenText(altBytes), alt.LogProb, altBytes);
        }
        byte[] bytes = tokenizer.TokenBytes(sampled.TokenId).ToArray();
        return new TokenLogprob(TokenText(bytes), sampled.LogProb, bytes, top);
    }

    /// <summary>
    /// A token's text; a token holding part of a UTF-8 sequence is shown as its escaped bytes (<c>\xe2\x80</c>), as
    /// OpenAI does, and <c>bytes</c> lets a client join such tokens exactly.
    /// </summary>
    private static string TokenText(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            var text = new StringBuilder(bytes.Length * 4);
            foreach (byte b in bytes) text.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            return text.ToString();
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The chat prompt exactly as <see cref="ChatSession.GenerateAsync"/> renders it (the template writes bos).</summary>
    private static int[] ChatPromptTokens(EdgewiseModel model, List<EngineMessage> messages, GenerationOptions options)
    {
        string text;
        try
        {
            text = model.Template.Render(messages, options.Tools.Count > 0 ? options.Tools : null, addGenerationPrompt: true,
                enableThinking: options.EnableThinking ? true : null);
        }
        catch (TemplateRaisedException ex)
        {
            // The model's own template refuses the conversation (e.g. roles that do not alternate).
            throw new UnsupportedRequestException("messages", $"The chat template refused the messages: {ex.Message}");
        }
        return model.Tokenizer.Encode(text, addBos: false);
    }

    /// <summary>A raw prompt as the engine tokenizes it: control-token text becomes its id, bos added unless present.</summary>
    private static int[] RawPromptTokens(EdgewiseModel model, string prompt)
    {
        int[] tokens = model.Tokenizer.Encode(prompt, addBos: false);
        int bos = model.Tokenizer.BosId;
        if (bos >= 0 && (tokens.Length == 0 || tokens[0] != bos)) tokens = [bos, .. tokens];
        return tokens;
    }

    /// <summary>OpenAI's rule: the prompt plus the completion the client fixed must fit; an open-ended one needs one token of room.</summary>
    private static void CheckContext(int promptTokens, int? maxTokens, int contextLength)
    {
        int requested = Math.Max(1, maxTokens ?? 1);
        if (promptTokens + requested > contextLength)
        {
            throw new ContextOverflowException(promptTokens, maxTokens ?? 0, contextLength);
        }
    }

    /// <summary>
    /// A grammar the compiler refused, as the request field it came from: the response format's schema, or the tool
    /// whose parameters schema fails on its own (tools are compiled together, so each is tried alone to find it).
    /// </summary>
    private static BackendException SchemaRefusal(GrammarException ex, GenerationRequest request)
    {
        string pointer = ex is SchemaCompileException sce ? sce.Pointer : "";
        if (request.ResponseFormat.Kind != ResponseFormatKind.Text)
        {
            return ex is SchemaCompileException
                ? new InvalidSchemaException("response_format.json_schema.schema", pointer, ex.Message)
                : new UnsupportedRequestException("response_format", ex.Message);
        }
        for (int i = 0; i < request.Tools.Count; i++)
        {
            ToolDefinition tool = request.Tools[i];
            try
            {
                _ = GemmaToolCallGrammar.Create([new ToolFunction(tool.Name, tool.Parameters)], Engine.Constraints.ToolChoice.Function(tool.Name), parallelCalls: false);
            }
            catch (SchemaCompileException inner)
            {
                return new InvalidSchemaException($"tools[{i}].function.parameters", inner.Pointer, inner.Message);
            }
            catch (GrammarException)
            {
                // Not this tool's schema; keep looking.
            }
        }
        return ex is SchemaCompileException
            ? new InvalidSchemaException("tools", pointer, ex.Message)
            : new UnsupportedRequestException(request.Tools.Count > 0 ? "tool_choice" : "response_format", ex.Message);
    }
}
