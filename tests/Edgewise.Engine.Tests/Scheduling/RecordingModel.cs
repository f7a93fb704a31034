using System.Collections.Concurrent;
using Edgewise.Models.Common;

namespace Edgewise.Engine.Tests.Scheduling;

/// <summary>
/// A fake model that records how its passes were grouped and fails the test if two ever overlap (the real kernels'
/// worker pool is not re-entrant). Logits are a hash of the whole sequence so far, so a row handed to the wrong
/// state, or a step applied twice, changes every later value. Each pass sleeps <see cref="PassTime"/> so that
/// concurrent callers pile up the way they do behind a real forward pass.
/// </summary>
internal sealed class RecordingModel : ILanguageModel
{
    public const int Vocabulary = 16;

    private int _inside;

    /// <param name="record">Keep <see cref="Passes"/>; off for allocation measurements (the log itself allocates).</param>
    public RecordingModel(int maxBatch, TimeSpan passTime, bool record = true)
    {
        MaxBatchSequences = maxBatch;
        PassTime = passTime;
        Record = record;
    }

    public bool Record { get; }

    public ModelInfo Info { get; } = new("fake", "recording", Vocabulary, 4096, 8, 1, new Dictionary<string, string>());

    public int MaxBatchSequences { get; }

    public TimeSpan PassTime { get; }

    /// <summary>Every pass in order: <c>("batch", sequences)</c>, <c>("forward", tokens)</c> or <c>("all", tokens)</c>, with the state ids.</summary>
    public ConcurrentQueue<Pass> Passes { get; } = new();

    /// <summary>Passes that started while another was running (must stay 0).</summary>
    public int Overlaps;

    private int _nextId;

    public IModelState CreateState(int contextLength) => new State(this, Interlocked.Increment(ref _nextId), contextLength);

    public void ForwardBatch(ReadOnlySpan<IModelState> states, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Enter();
        try
        {
            int[] ids = Record ? new int[states.Length] : [];
            for (int i = 0; i < states.Length; i++)
            {
                var s = (State)states[i];
                if (Record) ids[i] = s.Id;
                s.Append(tokens[i]);
                s.WriteLogits(logits.Slice(i * Vocabulary, Vocabulary));
            }
            if (Record) Passes.Enqueue(new Pass("batch", states.Length, ids));
            Thread.Sleep(PassTime);
        }
        finally
        {
            Exit();
        }
    }

    public void Dispose()
    {
    }

    private void Enter()
    {
        if (Interlocked.Increment(ref _inside) != 1) Interlocked.Increment(ref Overlaps);
    }

    private void Exit() => Interlocked.Decrement(ref _inside);

    /// <summary>The logits a sequence of tokens ends with: the same function the states use, for expected values.</summary>
    public static void Expected(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        ulong hash = 1469598103934665603;
        foreach (int t in tokens) hash = Mix(hash, t);
        Fill(hash, logits);
    }

    private static ulong Mix(ulong hash, int token) => (hash ^ (uint)token) * 1099511628211;

    private static void Fill(ulong hash, Span<float> logits)
    {
        for (int i = 0; i < Vocabulary; i++) logits[i] = (float)((Mix(hash, 1000 + i) >> 40) % 1000) / 100f;
    }

    internal sealed record Pass(string Kind, int Size, int[] States);

    private sealed class State : IModelState
    {
        private readonly RecordingModel _model;
        private ulong _hash = 1469598103934665603;

        public State(RecordingModel model, int id, int contextLength)
        {
            _model = model;
            Id = id;
            ContextLength = contextLength;
        }

        public int Id { get; }

        public int Position { get; private set; }

        public int ContextLength { get; }

        public void Append(int token)
        {
            if (Position >= ContextLength) throw new InvalidOperationException($"state {Id} is full ({ContextLength} tokens)");
            _hash = Mix(_hash, token);
            Position++;
        }

        public void WriteLogits(Span<float> logits) => Fill(_hash, logits);

        public void Forward(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            _model.Enter();
            try
            {
                foreach (int t in tokens) Append(t);
                WriteLogits(logits);
                if (_model.Record) _model.Passes.Enqueue(new Pass("forward", tokens.Length, [Id]));
                Thread.Sleep(_model.PassTime);
            }
            finally
            {
                _model.Exit();
            }
        }

        public void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            _model.Enter();
            try
            {
                for (int i = 0; i < tokens.Length; i++)
                {
                    Append(tokens[i]);
                    WriteLogits(logits.Slice(i * Vocabulary, Vocabulary));
                }
                _model.Passes.Enqueue(new Pass("all", tokens.Length, [Id]));
                Thread.Sleep(_model.PassTime);
            }
            finally
            {
                _model.Exit();
            }
        }

        public void Truncate(int position) => throw new NotSupportedException("the recording model keeps only a hash");

        public void Dispose()
        {
        }
    }
}
