using System.Runtime.CompilerServices;

namespace Edgewise.Core.Threading;

/// <summary>One unit of parallel work: <see cref="Execute"/> runs once for every item index of a <see cref="WorkerPool.Run{TJob}"/>.</summary>
public interface IParallelJob
{
    void Execute(int item);
}

/// <summary>
/// Persistent worker threads for kernels. A decode step issues hundreds of short parallel operations, so the
/// threads spin briefly on a generation counter between them (a wake-up costs a cache line, not a syscall) and
/// park on a monitor only after a quiet spell. The calling thread takes part, so <c>new WorkerPool(2)</c> starts
/// one extra thread. <see cref="Run{TJob}"/> allocates nothing: the job is a struct passed by pointer.
/// Not re-entrant: one <see cref="Run{TJob}"/> at a time, and a job must not call back into the pool.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    // About 50-100 µs of spinning: longer than the gap between two matvecs of a decode step, short enough that
    // an idle engine parks within a moment.
    private const int SpinIterations = 20_000;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private volatile int _generation;
    private int _sleepers;
    private volatile bool _disposed;

    // The current operation; written before _generation is bumped, read after it is seen.
    private void* _job;
    private delegate*<void*, int, void> _invoke;
    private int _itemCount;
    private int _nextItem;
    private int _pending;
    private Exception? _failure;

    /// <param name="threads">Threads taking part, the caller included (at least 1).</param>
    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "A worker pool needs at least one thread (the caller).");
        }
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"edgewise-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads taking part in each <see cref="Run{TJob}"/>, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>A pool with no extra threads: everything runs on the caller.</summary>
    public static WorkerPool Inline { get; } = new(1);

    /// <summary>
    /// Calls <c>job.Execute(i)</c> for every i in [0, <paramref name="workItems"/>), spread over the pool, and
    /// returns when all are done. Items are handed out one at a time, so uneven cores (a noisy VM) still finish
    /// together. The job is shared by reference: results must go through what it points at.
    /// </summary>
    public void Run<TJob>(ref TJob job, int workItems) where TJob : struct, IParallelJob
    {
        if (workItems <= 0) return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threads.Length == 0 || workItems == 1)
        {
            for (int i = 0; i < workItems; i++) job.Execute(i);
            return;
        }

        _job = Unsafe.AsPointer(ref job);
        _invoke = &Invoke<TJob>;
        _itemCount = workItems;
        _nextItem = 0;
        _failure = null;
        Volatile.Write(ref _pending, _threads.Length);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate) Monitor.PulseAll(_gate);
        }

        try
        {
            RunItems();
        }
        catch (Exception ex)
        {
            // Keep waiting for the workers below: they still read the job through a pointer into this frame.
            _failure ??= ex;
            Volatile.Write(ref _nextItem, int.MaxValue / 2);
        }
        var spinner = new SpinWait();
        while (Volatile.Read(ref _pending) != 0)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        _job = null;
        if (_failure is { } failure)
        {
            throw new AggregateException("A parallel kernel job failed on a worker thread.", failure);
        }
    }

    private static void Invoke<TJob>(void* job, int item) where TJob : struct, IParallelJob
        => Unsafe.AsRef<TJob>(job).Execute(item);

    private void RunItems()
    {
        void* job = _job;
        delegate*<void*, int, void> invoke = _invoke;
        int count = _itemCount;
        int item;
        while ((item = Interlocked.Increment(ref _nextItem) - 1) < count)
        {
            invoke(job, item);
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (_generation == seen && !_disposed && spins < SpinIterations)
            {
                Thread.SpinWait(8);
                spins++;
            }
            if (_generation == seen && !_disposed)
            {
                lock (_gate)
                {
                    // The interlocked increment orders "I am going to sleep" before re-reading the generation,
                    // pairing with Run's increment-then-read of _sleepers: one side always sees the other.
                    Interlocked.Increment(ref _sleepers);
                    while (_generation == seen && !_disposed) Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = _generation;
            try
            {
                RunItems();
            }
            catch (Exception ex)
            {
                _failure = ex;
                // Drain the remaining items so the caller does not wait on work nobody will do.
                Volatile.Write(ref _nextItem, int.MaxValue / 2);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (Thread t in _threads) t.Join();
    }
}
