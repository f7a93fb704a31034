namespace Edgewise.Core.Threading;

/// <summary>
/// One pass a <see cref="WorkerPool"/> handed to its threads, as an <see cref="IPassObserver"/> sees it. Times are
/// <see cref="System.Diagnostics.Stopwatch"/> timestamps: the pass was published at <see cref="Start"/>, the caller ran
/// out of units at <see cref="CallerDone"/> and saw the last one finish at <see cref="End"/>; the other threads claimed
/// their first run at <see cref="WorkersFirstClaim"/> and finished their last at <see cref="WorkersLastDone"/> (0 when
/// they took none). So <c>End - CallerDone</c> is the caller waiting on the tail, <c>End - WorkersLastDone</c> the
/// workers', and the time between one pass's <see cref="End"/> and the next one's <see cref="Start"/> is the caller's
/// serial work.
/// </summary>
/// <param name="Job">The job's type (a matrix product, attention, a row step).</param>
/// <param name="Label">What the caller named the pass (<see cref="WorkerPool.NextPassLabel"/>: a matrix's name), or null.</param>
/// <param name="Units">Items or units of the pass.</param>
public readonly record struct PassTiming(Type Job, string? Label, int Units, long Start, long CallerDone, long End,
    long WorkersFirstClaim, long WorkersLastDone);

/// <summary>Sees every pass of a pool it is set on (<see cref="WorkerPool.Observer"/>): a profiler's hook, called on the caller's thread.</summary>
public interface IPassObserver
{
    void OnPass(in PassTiming pass);
}
