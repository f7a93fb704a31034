namespace Edgewise.Core.Threading;

/// <summary>
/// Work over a range of units (typically rows of a chunk). <see cref="Execute"/> may run for several disjoint ranges
/// at once on different threads: it must not change the job's own fields, and each range writes only its own part
/// of what the job points at.
/// </summary>
public interface IRangeJob
{
    /// <summary>Processes units [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Execute(int start, int end);
}

/// <summary>
/// Splits the per-row work between the matmuls of a prompt chunk (norms, activations, residual adds) over a
/// <see cref="WorkerPool"/>, so the other threads do not wait while the caller loops over rows alone. Each unit is
/// still processed by exactly the code the serial loop ran, so results are bit-identical to it. A single unit (a
/// decode step's one row) always runs on the caller.
/// </summary>
public static class ParallelRanges
{
    // More ranges than threads: a thread the OS delays (a shared VM) leaves its share to the others.
    private const int RangesPerThread = 4;

    /// <summary>
    /// Calls <c>job.Execute</c> over ranges that together cover [0, <paramref name="count"/>) once. Work under
    /// <see cref="WorkerPool.MinRangeWork"/> (<paramref name="count"/> × <paramref name="workPerUnit"/>) runs on the
    /// caller as one range, since the hand-off would cost more than it saves.
    /// </summary>
    /// <param name="workPerUnit">Rough cost of one unit, in floats of simple elementwise math (a row of a plain norm: its width).</param>
    public static void RunRanges<TJob>(this WorkerPool pool, ref TJob job, int count, long workPerUnit)
        where TJob : struct, IRangeJob
    {
        if (count <= 0) return;
        int ranges = Math.Min(count, pool.ThreadCount * RangesPerThread);
        if (pool.ThreadCount == 1 || ranges <= 1 || (long)count * workPerUnit < pool.MinRangeWork)
        {
            job.Execute(0, count);
            return;
        }
        int size = (count + ranges - 1) / ranges;
        var split = new Split<TJob> { Job = job, Count = count, Size = size };
        pool.Run(ref split, (count + size - 1) / size);
    }

    private struct Split<TJob> : IParallelJob where TJob : struct, IRangeJob
    {
        public TJob Job;
        public int Count;
        public int Size;

        public void Execute(int item)
        {
            int start = item * Size;
            Job.Execute(start, Math.Min(start + Size, Count));
        }
    }
}
