using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public unsafe class WorkerPoolTests
{
    private struct CountJob : IParallelJob
    {
        public int* Counts;
        public void Execute(int item) => Interlocked.Increment(ref Counts[item]);
    }

    private struct ThrowingJob : IParallelJob
    {
        public readonly void Execute(int item)
        {
            if (item == 3) throw new InvalidOperationException("item 3");
        }
    }

    /// <summary>What a <see cref="ClaimJob"/> saw: every unit's count, and every call's run in the order the calls began.</summary>
    private sealed class ClaimLog(int units)
    {
        public readonly int[] Counts = new int[units];
        public readonly long[] Runs = new long[units];   // start << 32 | end; a call takes at least one unit
        public int Calls;

        public void Clear()
        {
            Array.Clear(Counts);
            Calls = 0;
        }

        /// <summary>The calls' runs by start.</summary>
        public (int Start, int End)[] Claims()
            => Runs.Take(Calls).Select(x => (Start: (int)(x >> 32), End: (int)x)).OrderBy(x => x.Start).ToArray();
    }

    private readonly struct ClaimJob(ClaimLog log) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            log.Runs[Interlocked.Increment(ref log.Calls) - 1] = ((long)start << 32) | (uint)end;
            for (int i = start; i < end; i++) Interlocked.Increment(ref log.Counts[i]);
        }
    }

    private struct ThrowingClaimJob : IRangeJob
    {
        public readonly void Execute(int start, int end)
        {
            if (start <= 3 && 3 < end) throw new InvalidOperationException("unit 3");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryItemRunsExactlyOnceAcrossManyRuns(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.ThreadCount);
        var counts = new int[97];
        fixed (int* c = counts)
        {
            var job = new CountJob { Counts = c };
            for (int run = 0; run < 2000; run++) pool.Run(ref job, run % 97 + 1);
        }
        for (int i = 0; i < counts.Length; i++)
        {
            int expected = 0;
            for (int run = 0; run < 2000; run++) if (i < run % 97 + 1) expected++;
            Assert.Equal(expected, counts[i]);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 7)]
    [InlineData(2, 768)]
    [InlineData(3, 1000)]
    public void ClaimsCoverEveryUnitOnceInShrinkingRuns(int threads, int units)
    {
        using var pool = new WorkerPool(threads);
        var log = new ClaimLog(units);
        var job = new ClaimJob(log);
        for (int pass = 0; pass < 50; pass++)
        {
            log.Clear();
            pool.RunClaims(ref job, units);
            Assert.All(log.Counts, v => Assert.Equal(1, v));
            (int Start, int End)[] claims = log.Claims();
            Assert.All(claims, x => Assert.True(x.End > x.Start));
            Assert.Equal(0, claims[0].Start);
            Assert.Equal(units, claims[^1].End);
            // Claimed in order, each a share of what was left: the runs never grow, and the last one is a single unit.
            for (int i = 1; i < claims.Length; i++) Assert.True(claims[i].End - claims[i].Start <= claims[i - 1].End - claims[i - 1].Start);
            Assert.Equal(1, claims[^1].End - claims[^1].Start);
            if (threads == 1) Assert.Single(claims);
            // One call per claim, not per unit: about threads · log(units) calls.
            if (units >= 768) Assert.InRange(claims.Length, 2, 8 * threads * (int)Math.Log2(units));
        }
    }

    [Fact]
    public void ClaimFailuresSurfaceOnTheCaller()
    {
        using var pool = new WorkerPool(2);
        var job = new ThrowingClaimJob();
        var ex = Assert.ThrowsAny<Exception>(() => pool.RunClaims(ref job, 64));
        Assert.Contains("unit 3", ex.ToString());
        var log = new ClaimLog(16);
        var ok = new ClaimJob(log);
        pool.RunClaims(ref ok, 16);
        Assert.All(log.Counts, v => Assert.Equal(1, v));
    }

    private sealed class Recorder : IPassObserver
    {
        public List<PassTiming> Passes { get; } = [];

        public void OnPass(in PassTiming pass) => Passes.Add(pass);
    }

    [Fact]
    public void An_observer_sees_each_handed_over_pass_with_its_label_and_ordered_times()
    {
        using var pool = new WorkerPool(2);
        var recorder = new Recorder();
        var claims = new ClaimJob(new ClaimLog(256));
        var counts = new int[64];
        fixed (int* c = counts)
        {
            var items = new CountJob { Counts = c };
            pool.Observer = recorder;
            pool.NextPassLabel = "blk.0.ffn_down.weight";
            pool.RunClaims(ref claims, 256);
            pool.Run(ref items, 64);   // unlabelled: the label went with the pass that took it
            pool.Run(ref items, 1);    // a single item runs on the caller: no pass to see
            pool.Observer = null;
            pool.Run(ref items, 64);
        }
        Assert.Equal(2, recorder.Passes.Count);
        PassTiming first = recorder.Passes[0], second = recorder.Passes[1];
        Assert.Equal((typeof(ClaimJob), "blk.0.ffn_down.weight", 256), (first.Job, first.Label, first.Units));
        Assert.Equal((typeof(CountJob), (string?)null, 64), (second.Job, second.Label, second.Units));
        foreach (PassTiming pass in recorder.Passes)
        {
            Assert.True(pass.Start <= pass.CallerDone && pass.CallerDone <= pass.End, $"{pass}");
            if (pass.WorkersFirstClaim != 0)
            {
                Assert.True(pass.Start <= pass.WorkersFirstClaim && pass.WorkersFirstClaim <= pass.WorkersLastDone && pass.WorkersLastDone <= pass.End, $"{pass}");
            }
        }
        Assert.True(first.End <= second.Start);
    }

    [Fact]
    public void WorkersWakeAfterParking()
    {
        using var pool = new WorkerPool(2);
        var counts = new int[8];
        fixed (int* c = counts)
        {
            var job = new CountJob { Counts = c };
            pool.Run(ref job, 8);
            Thread.Sleep(200); // long enough for the worker to stop spinning and park
            pool.Run(ref job, 8);
        }
        Assert.All(counts, v => Assert.Equal(2, v));
    }

    [Fact]
    public void FailuresSurfaceOnTheCaller()
    {
        using var pool = new WorkerPool(2);
        var job = new ThrowingJob();
        var ex = Assert.ThrowsAny<Exception>(() => pool.Run(ref job, 16));
        Assert.Contains("item 3", ex.ToString());
        var counts = new int[4];
        fixed (int* c = counts)
        {
            var ok = new CountJob { Counts = c };
            pool.Run(ref ok, 4);
        }
        Assert.All(counts, v => Assert.Equal(1, v));
    }

    [Fact]
    public void RunAllocatesNothing()
    {
        using var pool = new WorkerPool(2);
        var counts = new int[64];
        fixed (int* c = counts)
        {
            var job = new CountJob { Counts = c };
            pool.Run(ref job, 64);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) pool.Run(ref job, 64);
            Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        }
    }

    [Fact]
    public void RunClaimsAllocatesNothing()
    {
        using var pool = new WorkerPool(2);
        var log = new ClaimLog(256);
        var job = new ClaimJob(log);
        pool.RunClaims(ref job, 256);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            log.Calls = 0;
            pool.RunClaims(ref job, 256);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
