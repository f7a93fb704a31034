using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Gemma4;

namespace Edgewise.Server.Backend;

/// <summary>
/// Lets several sessions of one model run on different threads. A model's kernels share one
/// <c>WorkerPool</c>, which is not re-entrant, so two states must never run a forward pass at the same
/// time: every state made here takes one gate around its passes. Concurrent requests therefore
/// interleave token by token (each step still uses every kernel thread) rather than batching their
/// single-token steps into one matrix-matrix pass; that would need a multi-sequence forward on the model
/// (<c>ILanguageModel.ForwardBatch(IModelState[] states, ReadOnlySpan&lt;int&gt; tokens, Span&lt;float&gt; logits)</c>).
/// </summary>
internal sealed class EngineModelGate : ILanguageModel
{
    private readonly ILanguageModel _inner;
    private readonly Lock _gate = new();
    private readonly Lock _created = new();
    private GatedState? _lastCreated;

    public EngineModelGate(ILanguageModel inner)
    {
        _inner = inner;
    }

    public ModelInfo Info => _inner.Info;

    /// <summary>The weights this gate wraps (not owned: the loaded <c>EdgewiseModel</c> disposes them).</summary>
    public ILanguageModel Inner => _inner;

    public IModelState CreateState(int contextLength)
    {
        var state = new GatedState(_inner.CreateState(contextLength), _gate);
        lock (_created) _lastCreated = state;
        return state;
    }

    /// <summary>
    /// The state made by the latest <see cref="CreateState"/> call. <c>ChatSession</c> keeps its state
    /// private, so the pool creates sessions one at a time and picks the state up here to read its KV bytes.
    /// </summary>
    public GatedState TakeLastCreated()
    {
        lock (_created)
        {
            GatedState state = _lastCreated ?? throw new InvalidOperationException("No state was created through this gate.");
            _lastCreated = null;
            return state;
        }
    }

    // The loaded EdgewiseModel owns the weights; the gate owns nothing.
    public void Dispose()
    {
    }

    internal sealed class GatedState : IModelState
    {
        private readonly IModelState _inner;
        private readonly Lock _gate;

        public GatedState(IModelState inner, Lock gate)
        {
            _inner = inner;
            _gate = gate;
        }

        public int Position => _inner.Position;

        public int ContextLength => _inner.ContextLength;

        /// <summary>K and V storage this state holds (allocated up front for its whole context).</summary>
        public long KvBytes => _inner switch
        {
            Gemma4State gemma4 => gemma4.Cache.AllocatedBytes,
            Gemma3nState gemma3n => gemma3n.Cache.AllocatedBytes,
            _ => 0,
        };

        public void Forward(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            lock (_gate) _inner.Forward(tokens, logits);
        }

        public void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            lock (_gate) _inner.ForwardAll(tokens, logits);
        }

        public void Truncate(int position)
        {
            // Touches only this state's cache, never the shared kernels.
            _inner.Truncate(position);
        }

        public void Dispose() => _inner.Dispose();
    }
}
