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
