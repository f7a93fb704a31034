namespace Edgewise.Models.Common;

/// <summary>
/// The part of a decoder's <see cref="IModelState"/> that does not depend on the architecture: splitting a
/// sequence into batches of at most <see cref="MaxBatch"/> rows, asking for logits only where they are needed,
/// argument checks, and rollback through the KV cache. An architecture implements <see cref="RunChunk"/>.
/// </summary>
public abstract class ChunkedModelState : IModelState
{
    private readonly int _vocabSize;

    protected ChunkedModelState(int vocabSize, int maxBatch, int contextLength)
    {
        _vocabSize = vocabSize;
        MaxBatch = maxBatch;
        ContextLength = contextLength;
    }

    public int Position { get; protected set; }

    public int ContextLength { get; }

    /// <summary>Rows one <see cref="RunChunk"/> processes at most.</summary>
    protected int MaxBatch { get; }

    /// <summary>The KV cache (exposed for tests and memory accounting).</summary>
    public abstract KvCache Cache { get; }

    /// <summary>True when <see cref="Truncate"/> to <paramref name="position"/> is possible (see <see cref="KvCache.CanTruncate"/>).</summary>
    public bool CanTruncate(int position) => Cache.CanTruncate(position);

    public void Forward(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int vocab = _vocabSize;
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        if (logits.Length < vocab) throw new ArgumentException($"logits holds {logits.Length} values; the vocabulary has {vocab}.", nameof(logits));
        for (int done = 0; done < tokens.Length;)
        {
            int t = Math.Min(MaxBatch, tokens.Length - done);
            bool last = done + t == tokens.Length;
            RunChunk(tokens.Slice(done, t), last ? t - 1 : t, last ? logits[..vocab] : Span<float>.Empty);
            done += t;
        }
    }

    public void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int vocab = _vocabSize;
        if (logits.Length < (long)tokens.Length * vocab)
        {
            throw new ArgumentException($"logits holds {logits.Length} values; {tokens.Length} tokens × {vocab} are needed.", nameof(logits));
        }
        for (int done = 0; done < tokens.Length;)
        {
            int t = Math.Min(MaxBatch, tokens.Length - done);
            RunChunk(tokens.Slice(done, t), 0, logits.Slice(done * vocab, t * vocab));
            done += t;
        }
    }

    public void Truncate(int position)
    {
        Cache.Truncate(position);
        Position = position;
    }

    public virtual void Dispose()
    {
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> (at most <see cref="MaxBatch"/>) at <see cref="Position"/>, advances it, and
    /// writes the logits of rows <paramref name="outputFrom"/>.. into <paramref name="logits"/>. Rows before
    /// <paramref name="outputFrom"/> only feed the KV cache, so an architecture may drop them at the first layer
    /// that owns no cache.
    /// </summary>
    protected abstract void RunChunk(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits);
}
