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
}
