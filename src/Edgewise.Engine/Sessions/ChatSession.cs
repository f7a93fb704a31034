using System.Diagnostics;
using System.Runtime.CompilerServices;
using Edgewise.Models.Common;
using Edgewise.Text.Chat;
using Edgewise.Text.ToolCalls;

namespace Edgewise.Engine.Sessions;

/// <summary>
/// One conversation: a KV cache and the tokens in it. Each turn renders the whole conversation, keeps the longest
/// prefix already in the cache and prefills only the rest, so a long system prompt with tool declarations is
/// processed once. Not thread-safe: one turn at a time (a second concurrent turn throws).
/// </summary>
public sealed partial class ChatSession : IDisposable
{
    private readonly IModelState _state;
    private readonly int[] _tokens;        // [context] tokens in the cache, then the one being fed
    private readonly float[] _logits;      // [vocab] logits after the last token fed
    private int _count;                    // tokens in the cache (== _state.Position)
    private int _busy;

    public ChatSession(EdgewiseModel model, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        Model = model;
        _state = model.Model.CreateState(contextLength);
        _tokens = new int[_state.ContextLength];
        _logits = new float[model.Info.VocabularySize];
    }

    public EdgewiseModel Model { get; }

    public int ContextLength => _state.ContextLength;

    /// <summary>
    /// The model state behind this session (its KV cache), for gauges such as memory accounting; unwrap it with
    /// <see cref="Scheduling.BatchingModel.Unwrap"/>. Never run passes on it yourself.
    /// </summary>
    public IModelState State => _state;

    /// <summary>Tokens currently in the KV cache (the reusable prefix of the next turn).</summary>
    public ReadOnlySpan<int> CachedTokens => _tokens.AsSpan(0, _count);

    /// <summary>Renders a chat turn's prompt with the model's template (generation prompt appended).</summary>
    public string RenderPrompt(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null)
    {
        options ??= GenerationOptions.Default;
        return Model.Template.Render(messages, options.Tools.Count > 0 ? options.Tools : null, addGenerationPrompt: true,
            enableThinking: options.EnableThinking ? true : null);
    }

    /// <summary>The prompt tokens of a chat turn (the template writes the bos token itself).</summary>
    public int[] TokenizePrompt(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null) =>
        Model.Tokenizer.Encode(RenderPrompt(messages, options), addBos: false);

    /// <summary>
    /// Runs one assistant turn over <paramref name="messages"/>: text, reasoning and tool-call deltas as they are
    /// decoded, then one <see cref="GenerationUpdateKind.Finished"/> update with the usage. Cancelling stops before
    /// the next token is computed (an <see cref="OperationCanceledException"/> ends the stream); the session stays usable.
    /// </summary>
    /// <exception cref="ContextOverflowException">The prompt leaves no room for output (with <see cref="ContextOverflowPolicy.Error"/>).</exception>
    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        options ??= GenerationOptions.Default;
        int[] prompt = FitPrompt(messages, options);
        return RunAsync(prompt, options, Model.ToolCallParser, cancellationToken);
    }

    /// <summary>
    /// A chat turn over a prompt the caller already rendered and tokenized with <see cref="TokenizePrompt"/> (a server
    /// that needed the tokens first, to pick the session holding the longest prefix): the same turn as
    /// <see cref="GenerateAsync"/> on those messages, without tokenizing them again. No overflow policy applies.
    /// </summary>
    /// <exception cref="ContextOverflowException">The prompt leaves no room for output.</exception>
    public IAsyncEnumerable<GenerationUpdate> GenerateFromPromptAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        options ??= GenerationOptions.Default;
        if (promptTokens.Length == 0) throw new ArgumentException("The prompt has no tokens.", nameof(promptTokens));
        if (promptTokens.Length >= ContextLength) throw new ContextOverflowException(promptTokens.Length, ContextLength);
        return RunAsync(promptTokens, options, Model.ToolCallParser, cancellationToken);
    }

    /// <summary>
    /// Raw completion (<c>/v1/completions</c>): <paramref name="prompt"/> is tokenized as is (control-token text becomes
    /// its id; bos is added unless the text starts with it), no template, no tool parsing.
    /// </summary>
    public IAsyncEnumerable<GenerationUpdate> CompleteAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= GenerationOptions.Default;
        int[] tokens = Model.Tokenizer.Encode(prompt, addBos: false);
        if (Model.Tokenizer.BosId >= 0 && (tokens.Length == 0 || tokens[0] != Model.Tokenizer.BosId))
        {
            tokens = [Model.Tokenizer.BosId, .. tokens];
        }
        return CompleteTokensAsync(tokens, options, cancellationToken);
    }

    /// <summary>Generates after a prompt given as token ids (no template, no tool parsing).</summary>
    public IAsyncEnumerable<GenerationUpdate> CompleteTokensAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        options ??= GenerationOptions.Default;
        if (promptTokens.Length == 0) throw new ArgumentException("The prompt has no tokens.", nameof(promptTokens));
        if (promptTokens.Length >= ContextLength) throw new ContextOverflowException(promptTokens.Length, ContextLength);
        return RunAsync(promptTokens, options, parser: null, cancellationToken);
    }

    /// <summary>Empties the cache: the next turn is a cold start.</summary>
    public void Reset()
    {
        _state.Truncate(0);
        _count = 0;
    }

    public void Dispose() => _state.Dispose();

    private int[] FitPrompt(IReadOnlyList<ChatMessage> messages, GenerationOptions options)
    {
        int[] prompt = TokenizePrompt(messages, options);
        if (prompt.Length < ContextLength) return prompt;
        if (options.OverflowPolicy != ContextOverflowPolicy.DropOldestMessages || messages.Count < 2)
        {
            throw new ContextOverflowException(prompt.Length, ContextLength);
        }
        var kept = new List<ChatMessage>(messages);
        int first = 0;
        while (first < kept.Count - 1 && kept[first].Role is ChatRole.System or ChatRole.Developer) first++;
        while (prompt.Length >= ContextLength && first < kept.Count - 1)
        {
            kept.RemoveAt(first);
            // A tool result without the call it answers means nothing to the model: drop it with the call.
            while (first < kept.Count - 1 && kept[first].Role == ChatRole.Tool) kept.RemoveAt(first);
            prompt = TokenizePrompt(kept, options);
        }
        if (prompt.Length >= ContextLength) throw new ContextOverflowException(prompt.Length, ContextLength);
        return prompt;
    }

    private async IAsyncEnumerable<GenerationUpdate> RunAsync(int[] prompt, GenerationOptions options, IToolCallParser? parser,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("This session is already generating; a session runs one turn at a time.");
        }
        try
        {
            // The model runs synchronously; leave the caller's context (UI thread, request thread) first.
            await Task.Yield();
            var clock = Stopwatch.StartNew();
            int cached = Prefill(prompt, cancellationToken);
            TimeSpan prefillTime = clock.Elapsed;

            var turn = new Turn(this, options, parser, prompt.Length);
            var pending = new List<GenerationUpdate>();
            clock.Restart();
            FinishReason reason;
            TimeSpan firstToken = TimeSpan.Zero;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                FinishReason? done = turn.Step(pending);
                if (turn.CompletionTokens == 1) firstToken = prefillTime + clock.Elapsed;
                foreach (GenerationUpdate update in pending) yield return update;
                pending.Clear();
                if (done is { } r)
                {
                    reason = r;
                    break;
                }
            }
            yield return GenerationUpdate.Finished(new GenerationUsage(prompt.Length, cached, turn.CompletionTokens, prefillTime, clock.Elapsed, reason, turn.StopSequence,
                firstToken, turn.ReasoningTokens));
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Brings the cache to exactly <paramref name="prompt"/>, reusing the longest cached prefix; returns the tokens reused.</summary>
    private int Prefill(int[] prompt, CancellationToken cancellationToken)
    {
        int reuse = CachedTokens.CommonPrefixLength(prompt);
        // The last prompt token is always run again: its logits start the turn.
        reuse = Math.Min(reuse, prompt.Length - 1);
        if (reuse < _count)
        {
            try
            {
                _state.Truncate(reuse);
            }
            catch (InvalidOperationException)
            {
                // A sliding-window ring has overwritten keys that position needs (KvCache.CanTruncate): start over.
                _state.Truncate(0);
                reuse = 0;
            }
            _count = reuse;
        }
        // Chunks bound how long a cancellation waits; the state splits them further into its own batches.
        const int Chunk = 64;
        while (_count < prompt.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(Chunk, prompt.Length - _count);
            ReadOnlySpan<int> chunk = prompt.AsSpan(_count, n);
            _state.Forward(chunk, _logits);
            chunk.CopyTo(_tokens.AsSpan(_count));
            _count += n;
        }
        return reuse;
    }

    /// <summary>Feeds one sampled token; afterwards <see cref="_logits"/> predicts the next.</summary>
    private void Feed(int token)
    {
        _tokens[_count] = token;
        _state.Forward(_tokens.AsSpan(_count, 1), _logits);
        _count++;
    }
}
