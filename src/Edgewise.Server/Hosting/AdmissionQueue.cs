namespace Edgewise.Server.Hosting;

/// <summary>
/// At most <see cref="Parallel"/> generations run; up to <see cref="Capacity"/> more wait in arrival
/// order; beyond that <see cref="TryEnterAsync"/> answers null and the caller sends 429. A finishing
/// generation hands its slot straight to the oldest waiter, so nobody is overtaken.
/// </summary>
public sealed class AdmissionQueue
{
    private readonly Lock _gate = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private int _active;

    public AdmissionQueue(int parallel, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallel, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Parallel = parallel;
        Capacity = capacity;
    }

    public int Parallel { get; }
    public int Capacity { get; }

    public int Active
    {
        get { lock (_gate) return _active; }
    }

    public int Waiting
    {
        get { lock (_gate) return _waiters.Count; }
    }

    /// <summary>A slot, after waiting if needed; null when the queue is full. Cancelling while queued leaves the queue.</summary>
    public async ValueTask<Lease?> TryEnterAsync(CancellationToken cancellationToken)
    {
        LinkedListNode<TaskCompletionSource> node;
        lock (_gate)
        {
            if (_active < Parallel)
            {
                _active++;
                return new Lease(this);
            }

            if (_waiters.Count >= Capacity)
                return null;
            node = _waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        using (cancellationToken.Register(() => Abandon(node, cancellationToken)))
            await node.Value.Task;
        return new Lease(this);
    }

    private void Abandon(LinkedListNode<TaskCompletionSource> node, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // Already handed a slot: the caller owns a lease and will release it.
            if (node.List is null)
                return;
            _waiters.Remove(node);
        }

        node.Value.TrySetCanceled(cancellationToken);
    }

    private void Release()
    {
        TaskCompletionSource? next = null;
        lock (_gate)
        {
            if (_waiters.First is { } first)
            {
                _waiters.RemoveFirst();
                next = first.Value; // the slot passes on; _active is unchanged
            }
            else
            {
                _active--;
            }
        }

        next?.TrySetResult();
    }

    /// <summary>One running generation's slot; dispose exactly once.</summary>
    public sealed class Lease : IDisposable
    {
        private AdmissionQueue? _owner;

        internal Lease(AdmissionQueue owner) => _owner = owner;

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}
