namespace Edgewise.Models.Common;

/// <summary>
/// A loaded decoder-only model: immutable weights shared by every <see cref="IModelState"/> made from it.
/// The engine sees only this interface and token ids; it never sees tensors or architecture names.
/// </summary>
public interface ILanguageModel : IDisposable
{
    ModelInfo Info { get; }

    /// <summary>Makes a fresh state (KV cache + scratch buffers) able to hold <paramref name="contextLength"/> tokens.</summary>
    IModelState CreateState(int contextLength);

    /// <summary>Most sequences one <see cref="ForwardBatch"/> call takes; 1 when the model only loops over them.</summary>
    int MaxBatchSequences => 1;

    /// <summary>
    /// Appends one token to each of several independent sequences (token i to state i) and writes the logits of
    /// sequence i into row i of <paramref name="logits"/> ([states.Length, vocabulary], row-major). A model that
    /// batches runs them in one pass over its weights, so concurrent decodes share every weight read; each
    /// sequence still attends only to its own cache at its own position. Every state must come from this model and
    /// appear once. The default advances them one after another.
    /// </summary>
    void ForwardBatch(ReadOnlySpan<IModelState> states, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int vocab = Info.VocabularySize;
        CheckBatchShapes(vocab, states.Length, tokens.Length, logits.Length);
        for (int i = 0; i < states.Length; i++) states[i].Forward(tokens.Slice(i, 1), logits.Slice(i * vocab, vocab));
    }

    /// <summary>One token per state, and room for one row of logits per state.</summary>
    internal static void CheckBatchShapes(int vocab, int states, int tokens, int logits)
    {
        if (tokens != states)
        {
            throw new ArgumentException($"{states} states need {states} tokens; {tokens} were given.", nameof(tokens));
        }
        if (logits < (long)states * vocab)
        {
            throw new ArgumentException($"logits holds {logits} values; {states} sequences × {vocab} are needed.", nameof(logits));
        }
    }
}

/// <summary>What the engine needs to know about a model, read from its file.</summary>
public sealed record ModelInfo(
    string Architecture,
    string Name,
    int VocabularySize,
    int ContextLength,
    int HiddenSize,
    int LayerCount,
    IReadOnlyDictionary<string, string> Extra);

/// <summary>
/// One sequence's mutable state: its KV cache and run buffers. Not thread-safe; one state per session.
/// Positions are implicit: tokens are appended at <see cref="Position"/>.
/// </summary>
public interface IModelState : IDisposable
{
    /// <summary>Number of tokens already in the cache.</summary>
    int Position { get; }

    int ContextLength { get; }

    /// <summary>
    /// Appends <paramref name="tokens"/> (one prompt batch) and writes the logits of the last one into
    /// <paramref name="logits"/> (length = vocabulary size).
    /// </summary>
    void Forward(ReadOnlySpan<int> tokens, Span<float> logits);

    /// <summary>
    /// Appends <paramref name="tokens"/> and writes the logits of every one of them into
    /// <paramref name="logits"/> ([tokens.Length, vocabulary], row-major). Used by conformance tests and
    /// speculative verification.
    /// </summary>
    void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits);

    /// <summary>Forgets every position at or after <paramref name="position"/> (prefix reuse, rollback).</summary>
    void Truncate(int position);
}
