using Edgewise.Engine.Scheduling;
using Edgewise.Engine.Sessions;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Gemma4;

namespace Edgewise.Server.Backend;

/// <summary>
/// The prefix cache across requests: sessions (KV cache + the tokens in it) that finished a request wait
/// here, and a new request gets the one whose cached tokens share the longest prefix with its prompt, so
/// an agent's long system prompt and tool declarations are prefilled once and then reused. Idle sessions
/// are bounded by count and by KV bytes; the least recently used goes first.
/// </summary>
internal sealed class EngineSessionPool : IDisposable
{
    private readonly EdgewiseModel _model;
    private readonly int _contextLength;
    private readonly int _maxIdle;
    private readonly long _maxIdleBytes;
    private readonly Lock _lock = new();
    private readonly List<PooledSession> _idle = [];     // oldest first
    private int _active;
    private long _activeBytes;
    private long _hitTokens;
    private bool _disposed;

    /// <param name="maxIdle">Idle sessions kept for reuse (the prefix cache entries).</param>
    /// <param name="maxIdleBytes">KV bytes the idle sessions may hold together.</param>
    public EngineSessionPool(EdgewiseModel model, int contextLength, int maxIdle, long maxIdleBytes)
    {
        _model = model;
        _contextLength = contextLength;
        _maxIdle = Math.Max(0, maxIdle);
        _maxIdleBytes = Math.Max(0, maxIdleBytes);
    }

    public int ContextLength => _contextLength;

    /// <summary>
    /// The idle session sharing the longest prefix with <paramref name="prompt"/>. A fresh session is made when
    /// none is idle, or when the best one shares less than half the prompt and the cache has room to keep both
    /// (so two agents taking turns do not keep overwriting one another's prefix).
    /// </summary>
    public PooledSession Rent(ReadOnlySpan<int> prompt)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int best = -1, bestShared = -1;
            for (int i = 0; i < _idle.Count; i++)
            {
                int shared = _idle[i].Session.CachedTokens.CommonPrefixLength(prompt);
                if (shared > bestShared)
                {
                    best = i;
                    bestShared = shared;
                }
            }
            bool roomForAnother = _idle.Count < _maxIdle;
            if (best >= 0 && !(bestShared * 2 < prompt.Length && roomForAnother))
            {
                PooledSession reused = _idle[best];
                _idle.RemoveAt(best);
                _active++;
                _activeBytes += reused.KvBytes;
                return reused;
            }
        }

        // Allocating a KV cache can take a moment; do it outside the pool lock.
        var created = new PooledSession(_model.CreateSession(_contextLength));
        lock (_lock)
        {
            _active++;
            _activeBytes += created.KvBytes;
        }
        return created;
    }

    /// <summary>Records prompt tokens a request took from the cache.</summary>
    public void CountHit(int cachedTokens)
    {
        if (cachedTokens > 0) Interlocked.Add(ref _hitTokens, cachedTokens);
    }

    /// <summary>
    /// Takes a session back after its request, finished or cancelled. The engine stops a cancelled turn between
    /// tokens, so its cache always ends at a complete position; a session still marked busy (a turn that threw
    /// midway) is dropped rather than trusted.
    /// </summary>
    public void Return(PooledSession session, bool consistent)
    {
        List<PooledSession>? evicted = null;
        lock (_lock)
        {
            _active--;
            _activeBytes -= session.KvBytes;
            if (_disposed || !consistent || _maxIdle == 0)
            {
                (evicted ??= []).Add(session);
            }
            else
            {
                _idle.Add(session);
                long bytes = IdleBytesLocked();
                while (_idle.Count > 0 && (_idle.Count > _maxIdle || bytes > _maxIdleBytes))
                {
                    bytes -= _idle[0].KvBytes;
                    (evicted ??= []).Add(_idle[0]);
                    _idle.RemoveAt(0);
                }
            }
        }
        if (evicted is not null)
        {
            foreach (PooledSession s in evicted) s.Session.Dispose();
        }
    }

    public PoolStats GetStats()
    {
        lock (_lock)
        {
            long idleBytes = IdleBytesLocked();
            return new PoolStats(_active, _idle.Count, idleBytes, _activeBytes + idleBytes, Interlocked.Read(ref _hitTokens));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (PooledSession s in _idle) s.Session.Dispose();
            _idle.Clear();
        }
    }

    private long IdleBytesLocked()
    {
        long total = 0;
        foreach (PooledSession s in _idle) total += s.KvBytes;
        return total;
    }
}

/// <summary>A pooled session and the KV bytes its state holds (allocated up front for its whole context).</summary>
internal sealed record PooledSession(ChatSession Session)
{
    public long KvBytes { get; } = BatchingModel.Unwrap(Session.State) switch
    {
        Gemma4State gemma4 => gemma4.Cache.AllocatedBytes,
        Gemma3nState gemma3n => gemma3n.Cache.AllocatedBytes,
        _ => 0,
    };
}

/// <param name="ActiveSessions">Sessions generating now.</param>
/// <param name="IdleSessions">Prefix-cache entries.</param>
/// <param name="IdleBytes">KV bytes the prefix-cache entries hold.</param>
/// <param name="TotalKvBytes">KV bytes of every session, active and idle.</param>
/// <param name="HitTokens">Prompt tokens served from cached prefixes since start.</param>
internal readonly record struct PoolStats(int ActiveSessions, int IdleSessions, long IdleBytes, long TotalKvBytes, long HitTokens);
