using System.Diagnostics;
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
/// one extra thread. <see cref="Run{TJob}"/> and <see cref="RunClaims{TJob}"/> allocate nothing: the job is a struct passed by pointer.
/// <para>
/// Run returns when every item has completed, not when every worker has checked in: a worker the OS has not
/// scheduled yet (a busy or oversubscribed machine) costs nothing, the caller simply does its share.
/// </para>
/// Not re-entrant: one <see cref="Run{TJob}"/> at a time, and a job must not call back into the pool.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    // About 4 ms of spinning (Thread.SpinWait(8) measured ~210 ns here): longer than the gap between two tokens of a
    // decode, short enough that an idle engine parks within a moment.
    private const int SpinIterations = 20_000;

    // Pause-spins of the caller waiting for the workers' last items before it starts yielding: 20-50 µs here
    // (Thread.SpinWait(1) measured 40-100 ns), longer than one item of a decode step (an attention segment is ~15 µs)
    // and short enough that a worker sharing the caller's core on a busy machine soon gets it.
    private const int CallerSpins = 512;

    // Item field of the state word while Run fills in a new job: no item can be claimed.
    private const int Closed = int.MaxValue;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private int _sleepers;
    private volatile bool _disposed;

    // (generation << 32) | next item. One word, so claiming an item also proves the generation is still current:
    // a worker that read the job fields and then wins the compare-exchange read the fields of that generation.
    private long _state;
    private void* _job;
    private delegate*<void*, int, int, void> _invoke;   // runs items [start, end) of the job
    private int _itemCount;
    private int _completed;
    private Exception? _failure;
    // Set while an observer times the pass: the workers then stamp their first claim and last completion.
    private bool _timed;
    private long _workersFirstClaim, _workersLastDone;

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

    /// <summary>
    /// Work below which <see cref="ParallelRanges.RunRanges{TJob}"/> stays on the caller, in its units (about one float
    /// of elementwise math each; an RMS norm of 16k floats takes ~3 µs on one core). A hand-off to spinning workers
    /// costs well under a microsecond but one to parked workers costs a wake-up, and the data moves between cores, so
    /// only a few microseconds of work are worth splitting. Tests set 0 to split even tiny chunks.
    /// </summary>
    public long MinRangeWork { get; set; } = 16_384;

    /// <summary>
    /// Sees every pass handed to the threads from now on (not the ones that run on the caller alone: a single item, or
    /// a pool without workers), with its timings: for profiling a decode step pass by pass (the bench's
    /// <c>decode-passes</c>). Null by default; a pass then pays one null check.
    /// </summary>
    public IPassObserver? Observer { get; set; }

    /// <summary>A name for the next observed pass (<see cref="PassTiming.Label"/>), set by its caller when <see cref="Observer"/> is set; cleared by the pass.</summary>
    public string? NextPassLabel { get; set; }

    /// <summary>A pool with no extra threads: everything runs on the caller.</summary>
    public static WorkerPool Inline { get; } = new(1);

    /// <summary>
    /// Calls <c>job.Execute(i)</c> for every i in [0, <paramref name="workItems"/>), spread over the pool, and
    /// returns when all are done. Items are handed out in shrinking runs (a share of what is left, the last ones
    /// singly), so uneven cores (a noisy VM) still finish together. The job is shared by reference: results must go
    /// through what it points at.
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
        Dispatch(Unsafe.AsPointer(ref job), &InvokeItems<TJob>, workItems, typeof(TJob));
    }

    /// <summary>
    /// Calls <c>job.Execute(start, end)</c> over runs that together cover [0, <paramref name="units"/>) once, one call
    /// per run a thread claims: the same shrinking runs as <see cref="Run{TJob}"/> (a share of what is left, the
    /// last units singly), each handed over whole. So a pass of many small units costs one call per claim, about
    /// threads · log(units), and still ends with single units for an even finish: a matrix product in 16-row groups
    /// streams long runs of rows and leaves at most one group's time idle at its end.
    /// </summary>
    public void RunClaims<TJob>(ref TJob job, int units) where TJob : struct, IRangeJob
    {
        if (units <= 0) return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threads.Length == 0 || units == 1)
        {
            job.Execute(0, units);
            return;
        }
        Dispatch(Unsafe.AsPointer(ref job), &InvokeRange<TJob>, units, typeof(TJob));
    }

    private void Dispatch(void* job, delegate*<void*, int, int, void> invoke, int workItems, Type jobType)
    {
        IPassObserver? observer = Observer;
        long start = 0;
        if (observer is not null)
        {
            start = Stopwatch.GetTimestamp();
            _workersFirstClaim = 0;
            _workersLastDone = 0;
        }
        _timed = observer is not null;
        // Close the old generation before touching the job fields: a worker still inside the previous run may
        // hold a stale state word, and if it saw the new item count it could claim an item of the new job and
        // count it twice (Run would then wait forever). Once the word carries the new generation and the Closed
        // marker, every stale compare-exchange fails and new-generation workers wait for the word to open.
        long generation = (Volatile.Read(ref _state) >> 32) + 1;
        Interlocked.Exchange(ref _state, (generation << 32) | Closed);
        _job = job;
        _invoke = invoke;
        _itemCount = workItems;
        _completed = 0;
        _failure = null;
        Interlocked.Exchange(ref _state, generation << 32);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate) Monitor.PulseAll(_gate);
        }

        Participate(generation, worker: false);
        long callerDone = observer is null ? 0 : Stopwatch.GetTimestamp();
        // The caller ran out of items, so the rest is at most one claimed run on each worker. Spin on the count for a
        // while (SpinWait's yields, after a few spins, are system calls that would notice the end late), then yield.
        var spinner = new SpinWait();
        for (int spins = 0; Volatile.Read(ref _completed) != workItems; spins++)
        {
            if (spins < CallerSpins) Thread.SpinWait(1);
            else spinner.SpinOnce(sleep1Threshold: -1);
        }
        _job = null;
        if (observer is not null)
        {
            string? label = NextPassLabel;
            NextPassLabel = null;
            observer.OnPass(new PassTiming(jobType, label, workItems, start, callerDone, Stopwatch.GetTimestamp(),
                Volatile.Read(ref _workersFirstClaim), Volatile.Read(ref _workersLastDone)));
        }
        if (_failure is { } failure)
        {
            throw new AggregateException("A parallel kernel job failed.", failure);
        }
    }

    /// <summary>Items [start, end) of an item job, one call each.</summary>
    private static void InvokeItems<TJob>(void* job, int start, int end) where TJob : struct, IParallelJob
    {
        ref TJob items = ref Unsafe.AsRef<TJob>(job);
        for (int i = start; i < end; i++) items.Execute(i);
    }

    private static void InvokeRange<TJob>(void* job, int start, int end) where TJob : struct, IRangeJob
        => Unsafe.AsRef<TJob>(job).Execute(start, end);

    private void Participate(long generation, bool worker)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            if (state >> 32 != generation) return;
            void* job = _job;
            delegate*<void*, int, int, void> invoke = _invoke;
            int item = (int)state;
            if (item == Closed)
            {
                Thread.SpinWait(1); // Run is filling in the job fields; it opens the word right after.
                continue;
            }
            int count = _itemCount;
            if (item >= count) return;
            // Guided self-scheduling: claim a share of what is left (at least one item), so a run of n items costs
            // about threads · log(n) contended claims instead of n, while the tail still goes out one at a time for
            // a slow core to hand over. Every claim and completion is an atomic on a line both cores write.
            int take = Math.Max(1, (count - item) / (2 * ThreadCount));
            if (Interlocked.CompareExchange(ref _state, state + take, state) != state) continue;
            if (worker && _timed) Interlocked.CompareExchange(ref _workersFirstClaim, Stopwatch.GetTimestamp(), 0);
            try
            {
                invoke(job, item, item + take);
            }
            catch (Exception ex)
            {
                // The rest of the run is skipped but counted: the pass ends and Run throws.
                Interlocked.CompareExchange(ref _failure, ex, null);
            }
            if (worker && _timed) Volatile.Write(ref _workersLastDone, Stopwatch.GetTimestamp());
            Interlocked.Add(ref _completed, take);
        }
    }

    private long Generation => Volatile.Read(ref _state) >> 32;

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            int spins = 0;
            while (Generation == seen && !_disposed && spins < SpinIterations)
            {
                Thread.SpinWait(8);
                spins++;
            }
            if (Generation == seen && !_disposed)
            {
                lock (_gate)
                {
                    // The interlocked increment orders "I am going to sleep" before re-reading the generation,
                    // pairing with Run's exchange-then-read of _sleepers: one side always sees the other.
                    Interlocked.Increment(ref _sleepers);
                    while (Generation == seen && !_disposed) Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = Generation;
            Participate(seen, worker: true);
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
