namespace Edgewise.Models.Common;

/// <summary>
/// The part of a decoder's <see cref="IModelState"/> that does not depend on the architecture: splitting a
/// sequence into batches of at most <see cref="MaxBatch"/> rows, asking for logits only where they are needed,
/// argument checks, rollback through the KV cache, and batched decode across sequences
/// (<see cref="ForwardBatch"/>). An architecture implements <see cref="RunChunk"/> over a per-row
/// <see cref="Rows"/> map, so one code path serves a prompt chunk of one sequence and a decode step of many.
/// </summary>
public abstract class ChunkedModelState : IModelState
{
    private readonly ILanguageModel _model;
    private readonly int _vocabSize;

    protected ChunkedModelState(ILanguageModel model, int vocabSize, int maxBatch, int contextLength)
    {
        _model = model;
        _vocabSize = vocabSize;
        MaxBatch = maxBatch;
        ContextLength = contextLength;
        Rows = new SequenceRow[maxBatch];
    }

    public int Position { get; private set; }

    public int ContextLength { get; }

    /// <summary>Rows one <see cref="RunChunk"/> processes at most (prompt tokens of one sequence, or sequences of a batch).</summary>
    protected int MaxBatch { get; }

    /// <summary>
    /// Row r of the running chunk belongs to <c>Rows[r].Cache</c> at position <c>Rows[r].Position</c>; filled before
    /// each <see cref="RunChunk"/>. Owned by the state whose run buffers the chunk uses.
    /// </summary>
    protected SequenceRow[] Rows { get; }

    /// <summary>
    /// True while the running chunk holds only next tokens of sequences (a one-token step, or a
    /// <see cref="ForwardBatch"/>), not a prompt: an architecture may then take a per-row decode path.
    /// </summary>
    protected bool IsDecodeStep { get; private set; }

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
            RunOwnChunk(tokens.Slice(done, t), last ? t - 1 : t, last ? logits[..vocab] : Span<float>.Empty);
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
            RunOwnChunk(tokens.Slice(done, t), 0, logits.Slice(done * vocab, t * vocab));
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
    /// One token for each of <paramref name="states"/> in one chunk run with the buffers of <c>states[0]</c>
    /// (see <see cref="ILanguageModel.ForwardBatch"/>). Every check runs before any state changes, so a rejected
    /// batch leaves all of them as they were.
    /// </summary>
    /// <param name="model">The model that is asked; every state must have been made by it.</param>
    internal static void ForwardBatch(ILanguageModel model, ReadOnlySpan<IModelState> states, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int b = states.Length, vocab = model.Info.VocabularySize;
        if (b == 0) throw new ArgumentException("At least one state is needed.", nameof(states));
        ILanguageModel.CheckBatchShapes(vocab, b, tokens.Length, logits.Length);
        if (b > model.MaxBatchSequences)
        {
            throw new ArgumentException($"{b} sequences were given; this model batches at most {model.MaxBatchSequences} (ModelLoadOptions.MaxBatch).", nameof(states));
        }
        for (int i = 0; i < b; i++)
        {
            if (states[i] is not ChunkedModelState s || !ReferenceEquals(s._model, model))
            {
                string what = states[i] is null ? "null" : $"a {states[i].GetType().Name} made by another model";
                throw new ArgumentException($"states[{i}] is {what}; every state must come from this {model.Info.Architecture} model.", nameof(states));
            }
            for (int j = 0; j < i; j++)
            {
                if (ReferenceEquals(states[j], s))
                {
                    throw new ArgumentException($"states[{j}] and states[{i}] are the same sequence; each may take one token per batch.", nameof(states));
                }
            }
            if (s.Position >= s.ContextLength)
            {
                throw new InvalidOperationException($"states[{i}] is full: it holds {s.ContextLength} positions and all are used.");
            }
        }

        var runner = (ChunkedModelState)states[0];
        for (int i = 0; i < b; i++)
        {
            var s = (ChunkedModelState)states[i];
            runner.Rows[i] = new SequenceRow(s.Cache, s.Position);
        }
        runner.Run(tokens, 0, logits[..(b * vocab)], decode: true);
        for (int i = 0; i < b; i++)
        {
            var s = (ChunkedModelState)states[i];
            s.Cache.Advance(s.Position + 1);
            s.Position++;
        }
    }

    /// <summary>A chunk of this state's own sequence at <see cref="Position"/>.., then advances it.</summary>
    private void RunOwnChunk(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits)
    {
        int t = tokens.Length, pos0 = Position;
        if (pos0 + t > ContextLength)
        {
            throw new InvalidOperationException($"The state holds {ContextLength} positions; {pos0 + t} were asked for.");
        }
        KvCache cache = Cache;
        for (int r = 0; r < t; r++) Rows[r] = new SequenceRow(cache, pos0 + r);
        Run(tokens, outputFrom, logits, decode: t == 1);
        cache.Advance(pos0 + t);
        Position = pos0 + t;
    }

    private void Run(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits, bool decode)
    {
        IsDecodeStep = decode;
        RunChunk(tokens, outputFrom, logits);
    }

    /// <summary>
    /// Writes K and V of chunk rows [row0, row0 + rows), stored compact (row r of the chunk at (r − row0) ·
    /// <paramref name="width"/>), into the cache of each row's own sequence at its position.
    /// </summary>
    protected void WriteKv(ReadOnlySpan<float> k, ReadOnlySpan<float> v, int layer, int row0, int rows, int width)
    {
        for (int r = 0; r < rows; r++)
        {
            SequenceRow sequence = Rows[row0 + r];
            sequence.Cache.Layer(layer).Write(sequence.Position, k.Slice(r * width, width), v.Slice(r * width, width));
        }
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> (at most <see cref="MaxBatch"/>; row r at <c>Rows[r]</c>) and writes the logits
    /// of rows <paramref name="outputFrom"/>.. into <paramref name="logits"/>. The caller advances the caches and
    /// positions afterwards. Rows before <paramref name="outputFrom"/> only feed the KV cache, so an architecture
    /// may drop them at the first layer that owns no cache.
    /// </summary>
    protected abstract void RunChunk(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits);
}
