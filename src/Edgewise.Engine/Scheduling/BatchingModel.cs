using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Edgewise.Models.Common;

namespace Edgewise.Engine.Scheduling;

/// <summary>
/// Lets many sessions of one model run on their own threads and decode together. A model's kernels share one worker
/// pool that is not re-entrant, so only one pass may run at a time: this wrapper is that gate, and it makes the gate
/// pay. Single-token steps that arrive while a pass runs wait in a queue; the next pass takes all of them (up to
/// <see cref="ILanguageModel.MaxBatchSequences"/>) in one <see cref="ILanguageModel.ForwardBatch"/>, so concurrent
/// decodes share every weight read. This is flat combining: each caller is blocked in its synchronous
/// <see cref="IModelState.Forward"/> anyway, the one at the head of the queue runs the batch for everyone and hands
/// each waiter its logits row, and the generation loops above stay synchronous and unchanged.
/// </summary>
/// <remarks>
/// Fairness: prompts (<see cref="IModelState.Forward"/> with several tokens, <see cref="IModelState.ForwardAll"/>)
/// are cut into chunks of <see cref="PrefillChunk"/> tokens that each take the gate on their own, and while both kinds
/// wait, decode batches and prefill chunks alternate; prefill chunks of different prompts take turns in arrival order.
/// So a long prompt delays other clients' next token by one chunk, not by the whole prompt.
/// <para/>
/// When the model really batches (<see cref="ILanguageModel.MaxBatchSequences"/> &gt; 1) a runner whose queue is
/// short waits briefly (a quarter of the last pass, at most <see cref="MaxGatherTime"/>) for the sessions that got
/// logits from the previous pass and are still sampling: without that, four decoders that once split into batches of
/// one and three would stay split forever.
/// </remarks>
public sealed class BatchingModel : ILanguageModel
{
    /// <summary>Tokens per prefill chunk: one chunk is the longest a prompt holds the gate.</summary>
    public const int PrefillChunk = 64;

    /// <summary>Longest a batch waits for sessions still sampling their previous token.</summary>
    public static readonly TimeSpan MaxGatherTime = TimeSpan.FromMilliseconds(5);

    private readonly ILanguageModel _inner;
    private readonly bool _ownsInner;
    private readonly int _maxBatch;
    private readonly int _vocab;
    private readonly object _sync = new();
    private readonly List<ScheduledState> _decodeQueue = new(16);    // waiting decode steps, oldest first
    private readonly List<ScheduledState> _awaiting = new(16);       // got logits from the last passes, not back yet
    private readonly ScheduledState[] _batch;                         // [maxBatch] the running batch (runner only)
    private readonly IModelState[] _batchStates;                      // [maxBatch] their inner states
    private readonly int[] _batchTokens;                              // [maxBatch]
    private float[] _batchLogits = [];                                // [largest batch so far, vocab]: grows, never per step
    private bool _running;
    private bool _lastWasPrefill;
    private long _prefillTickets;       // next ticket to hand out
    private long _prefillServing;       // ticket allowed to run next
    private int _prefillWaiting;
    private long _lastPassTicks;
    private long _decodeSteps;
    private long _decodeBatches;
    private long _prefillChunks;
    private int _largestBatch;
    private bool _disposed;

    /// <param name="inner">The model whose passes are scheduled.</param>
    /// <param name="ownsInner">Dispose <paramref name="inner"/> with this.</param>
    public BatchingModel(ILanguageModel inner, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner is BatchingModel)
        {
            throw new ArgumentException("The model is already scheduled by a BatchingModel; wrap the weights once.", nameof(inner));
        }
        _inner = inner;
        _ownsInner = ownsInner;
        _maxBatch = Math.Max(1, inner.MaxBatchSequences);
        _vocab = inner.Info.VocabularySize;
        _batch = new ScheduledState[_maxBatch];
        _batchStates = new IModelState[_maxBatch];
        _batchTokens = new int[_maxBatch];
    }

    public ModelInfo Info => _inner.Info;

    /// <summary>The scheduled model (the weights).</summary>
    public ILanguageModel Inner => _inner;

    public int MaxBatchSequences => _maxBatch;

    /// <summary>How the passes so far were grouped.</summary>
    public BatchingStats Stats
    {
        get
        {
            lock (_sync) return new BatchingStats(_decodeSteps, _decodeBatches, _prefillChunks, _largestBatch, _decodeQueue.Count + _prefillWaiting);
        }
    }

    public IModelState CreateState(int contextLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ScheduledState(this, _inner.CreateState(contextLength));
    }

    /// <summary>The model's own state behind a state made here (or <paramref name="state"/> itself).</summary>
    public static IModelState Unwrap(IModelState state) => state is ScheduledState scheduled ? scheduled.Inner : state;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_ownsInner) _inner.Dispose();
    }

    /// <summary>One decode step of <paramref name="self"/>: queued, batched with whatever else waits, run by the queue's head.</summary>
    private void Decode(ScheduledState self, ReadOnlySpan<int> token, Span<float> logits)
    {
        if (self.Inner.Position >= self.Inner.ContextLength || logits.Length < _vocab)
        {
            // Let the model's own checks word the error, without a batch around it.
            RunExclusive(self, token, logits, all: false);
            return;
        }
        self.Token = token[0];
        self.Done = false;
        self.Error = null;
        int n;
        lock (_sync)
        {
            ForgetAwaitingLocked(self);
            _decodeQueue.Add(self);
            if (_running) Monitor.PulseAll(_sync);    // a gathering runner wants to see new arrivals
            while (true)
            {
                if (self.Done) break;
                if (!_running && _decodeQueue[0] == self && (_prefillWaiting == 0 || _lastWasPrefill)) break;
                Monitor.Wait(_sync);
            }
            if (self.Done)
            {
                n = 0;
            }
            else
            {
                _running = true;
                if (_maxBatch > 1 && _decodeQueue.Count < _maxBatch && _awaiting.Count > 0) GatherLocked();
                n = Math.Min(_decodeQueue.Count, _maxBatch);
                _decodeQueue.CopyTo(0, _batch, 0, n);
                _decodeQueue.RemoveRange(0, n);
            }
        }
        if (n == 0)
        {
            // Another thread ran this step: its row waits in Result.
            self.Error?.Throw();
            self.Result.AsSpan(0, _vocab).CopyTo(logits);
            return;
        }
        RunBatch(n, logits);
        self.Error?.Throw();
    }

    /// <summary>Runs <c>_batch[0..n)</c> (the caller is <c>_batch[0]</c>) and releases the gate.</summary>
    private void RunBatch(int n, Span<float> ownLogits)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            if (n == 1)
            {
                ScheduledState only = _batch[0];
                _batchTokens[0] = only.Token;
                only.Inner.Forward(_batchTokens.AsSpan(0, 1), ownLogits);
            }
            else
            {
                // A real vocabulary is 262,144 wide: size the rows for the batches that happen, not the model's limit.
                if (_batchLogits.Length < n * _vocab) _batchLogits = new float[n * _vocab];
                float[] rows = _batchLogits;   // [n, vocab]
                for (int i = 0; i < n; i++)
                {
                    _batchStates[i] = _batch[i].Inner;
                    _batchTokens[i] = _batch[i].Token;
                }
                _inner.ForwardBatch(_batchStates.AsSpan(0, n), _batchTokens.AsSpan(0, n), rows.AsSpan(0, n * _vocab));
                rows.AsSpan(0, _vocab).CopyTo(ownLogits);
                for (int i = 1; i < n; i++) rows.AsSpan(i * _vocab, _vocab).CopyTo(_batch[i].Result);
            }
        }
        catch (Exception ex)
        {
            // The batch's states may have advanced partly: every member fails, and its session is not trusted again.
            ExceptionDispatchInfo error = ExceptionDispatchInfo.Capture(ex);
            for (int i = 0; i < n; i++) _batch[i].Error = error;
        }
        finally
        {
            long elapsed = Stopwatch.GetTimestamp() - start;
            lock (_sync)
            {
                for (int i = 0; i < n; i++)
                {
                    ScheduledState s = _batch[i];
                    s.Done = true;
                    if (_maxBatch > 1 && s.Error is null && s.Inner.Position < s.Inner.ContextLength) MarkAwaitingLocked(s);
                    _batch[i] = null!;
                    _batchStates[i] = null!;
                }
                _decodeSteps += n;
                _decodeBatches++;
                _largestBatch = Math.Max(_largestBatch, n);
                _lastPassTicks = elapsed;
                _lastWasPrefill = false;
                _running = false;
                Monitor.PulseAll(_sync);
            }
        }
    }

    /// <summary>
    /// Waits (holding the gate, the lock released while waiting) until every session that got logits from the last
    /// passes has queued its next step, the batch is full, or a quarter of the last pass has gone by.
    /// </summary>
    private void GatherLocked()
    {
        long budget = Math.Min(_lastPassTicks / 4, (long)(MaxGatherTime.TotalSeconds * Stopwatch.Frequency));
        long deadline = Stopwatch.GetTimestamp() + budget;
        while (_awaiting.Count > 0 && _decodeQueue.Count < _maxBatch)
        {
            long left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0) break;
            // Arrivals pulse; the timeout only matters for a session whose turn has ended and will not come back.
            Monitor.Wait(_sync, Math.Max(1, (int)(left * 1000 / Stopwatch.Frequency)));
        }
        // Whoever is still away is not waited for again until it next decodes.
        foreach (ScheduledState s in _awaiting) s.Awaited = false;
        _awaiting.Clear();
    }

    private void MarkAwaitingLocked(ScheduledState state)
    {
        if (state.Awaited) return;
        state.Awaited = true;
        _awaiting.Add(state);
    }

    private void ForgetAwaitingLocked(ScheduledState state)
    {
        if (!state.Awaited) return;
        state.Awaited = false;
        _awaiting.Remove(state);
    }

    /// <summary>A prompt, cut into chunks that each take the gate in turn.</summary>
    private void Prefill(ScheduledState self, ReadOnlySpan<int> tokens, Span<float> logits, bool all)
    {
        if (tokens.IsEmpty)
        {
            RunExclusive(self, tokens, logits, all);
            return;
        }
        for (int done = 0; done < tokens.Length; done += PrefillChunk)
        {
            int n = Math.Min(PrefillChunk, tokens.Length - done);
            Span<float> destination = all ? logits.Slice(Math.Min(logits.Length, done * _vocab)) : logits;
            RunExclusive(self, tokens.Slice(done, n), destination, all);
        }
    }

    /// <summary>One pass that is not a decode batch: waits for its ticket and its turn, runs alone, releases the gate.</summary>
    private void RunExclusive(ScheduledState self, ReadOnlySpan<int> tokens, Span<float> logits, bool all)
    {
        lock (_sync)
        {
            ForgetAwaitingLocked(self);
            long ticket = _prefillTickets++;
            _prefillWaiting++;
            while (_running || ticket != _prefillServing || (_decodeQueue.Count > 0 && _lastWasPrefill))
            {
                Monitor.Wait(_sync);
            }
            _prefillWaiting--;
            _prefillServing++;
            _running = true;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            if (all) self.Inner.ForwardAll(tokens, logits);
            else self.Inner.Forward(tokens, logits);
        }
        finally
        {
            long elapsed = Stopwatch.GetTimestamp() - start;
            lock (_sync)
            {
                _prefillChunks++;
                if (tokens.Length == 1) _lastPassTicks = elapsed;
                _lastWasPrefill = true;
                _running = false;
                Monitor.PulseAll(_sync);
            }
        }
    }

    private void Forget(ScheduledState state)
    {
        lock (_sync) ForgetAwaitingLocked(state);
    }

    /// <summary>A state whose passes go through the scheduler. Like every state, one thread at a time.</summary>
    private sealed class ScheduledState : IModelState
    {
        private readonly BatchingModel _owner;
        private float[]? _result;

        public ScheduledState(BatchingModel owner, IModelState inner)
        {
            _owner = owner;
            Inner = inner;
        }

        public IModelState Inner { get; }

        // Written by the queue's runner under the scheduler's lock or while this state's thread waits for Done.
        public int Token;
        public bool Done;
        public bool Awaited;
        public ExceptionDispatchInfo? Error;

        /// <summary>[vocab] this state's logits row when another thread ran its step (made on first need).</summary>
        public float[] Result => _result ??= new float[_owner._vocab];

        public int Position => Inner.Position;

        public int ContextLength => Inner.ContextLength;

        public void Forward(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            if (tokens.Length == 1)
            {
                _ = Result;    // allocate the row before queueing, never on the runner's thread
                _owner.Decode(this, tokens, logits);
            }
            else
            {
                _owner.Prefill(this, tokens, logits, all: false);
            }
        }

        public void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits) => _owner.Prefill(this, tokens, logits, all: true);

        public void Truncate(int position)
        {
            // Touches only this state's cache, never the shared kernels.
            _owner.Forget(this);
            Inner.Truncate(position);
        }

        public void Dispose()
        {
            _owner.Forget(this);
            Inner.Dispose();
        }
    }
}

/// <param name="DecodeSteps">Single-token steps run.</param>
/// <param name="DecodeBatches">Passes those steps took (steps / batches is the mean batch size).</param>
/// <param name="PrefillChunks">Prompt chunks and other exclusive passes run.</param>
/// <param name="LargestBatch">Most steps one pass took.</param>
/// <param name="Waiting">Steps and chunks queued for the gate right now.</param>
public readonly record struct BatchingStats(long DecodeSteps, long DecodeBatches, long PrefillChunks, int LargestBatch, int Waiting)
{
    public double MeanBatchSize => DecodeBatches > 0 ? (double)DecodeSteps / DecodeBatches : 0;
}
