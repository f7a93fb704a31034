using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public unsafe class ParallelRangesTests
{
    /// <summary>Counts how often each unit is visited and records every range's bounds.</summary>
    private readonly struct RecordingJob(int* visits, int* starts, int* ends, int* ranges) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            int slot = Interlocked.Increment(ref *ranges) - 1;
            starts[slot] = start;
            ends[slot] = end;
            for (int i = start; i < end; i++) Interlocked.Increment(ref visits[i]);
        }
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(3, 16_384)]
    public void EveryUnitRunsOnceInContiguousRanges(int threads, long minWork)
    {
        using var pool = new WorkerPool(threads) { MinRangeWork = minWork };
        foreach (int count in new[] { 1, 2, 3, 5, 17, 63, 64, 65, 127, 1000 })
        {
            var visits = new int[count];
            var starts = new int[count + 1];
            var ends = new int[count + 1];
            int ranges = 0;
            fixed (int* v = visits, s = starts, e = ends)
            {
                var job = new RecordingJob(v, s, e, &ranges);
                pool.RunRanges(ref job, count, workPerUnit: 100);
            }
            Assert.All(visits, n => Assert.Equal(1, n));
            bool split = threads > 1 && count > 1 && count * 100L >= minWork;
            Assert.Equal(split, ranges > 1);
            Assert.True(ranges <= threads * 4, $"{ranges} ranges for {threads} threads");
            // Ranges tile [0, count): sorted by start, each begins where the previous one ended.
            Array.Sort(starts, ends, 0, ranges);
            Assert.Equal(0, starts[0]);
            for (int i = 1; i < ranges; i++) Assert.Equal(ends[i - 1], starts[i]);
            Assert.Equal(count, ends[ranges - 1]);
        }
    }

    [Fact]
    public void SmallWorkStaysOnTheCaller()
    {
        using var pool = new WorkerPool(2);
        int caller = Environment.CurrentManagedThreadId, ranges = 0;
        var visits = new int[8];
        var starts = new int[9];
        var ends = new int[9];
        fixed (int* v = visits, s = starts, e = ends)
        {
            var job = new RecordingJob(v, s, e, &ranges);
            // 8 rows × 64 floats: far below the default threshold, so one range on this thread (a decode step's case).
            pool.RunRanges(ref job, 8, workPerUnit: 64);
        }
        Assert.Equal(1, ranges);
        Assert.Equal((0, 8), (starts[0], ends[0]));
        Assert.Equal(caller, Environment.CurrentManagedThreadId);
    }

    private readonly struct AddOneJob(float[] data) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++) data[i] += 1f;
        }
    }

    [Fact]
    public void RunRangesAllocatesNothingOnceWarm()
    {
        using var pool = new WorkerPool(2) { MinRangeWork = 0 };
        var data = new float[64];
        var job = new AddOneJob(data);
        pool.RunRanges(ref job, data.Length, workPerUnit: 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) pool.RunRanges(ref job, data.Length, workPerUnit: 1);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.All(data, v => Assert.Equal(101f, v));
    }

    /// <summary>GeGLU over whole rows [start, end) of a [rows, width] buffer, as one call per range.</summary>
    private readonly struct GeGluRowsJob(float[] gate, float[] up, float[] dst, int width) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            int from = start * width, n = (end - start) * width;
            Ops.GeGlu(gate.AsSpan(from, n), up.AsSpan(from, n), dst.AsSpan(from, n));
        }
    }

    [Fact]
    public void RowSplitOfAFlatSimdLoopIsBitIdenticalToOneCallWhenRowsAre16Wide()
    {
        // What the models rely on when they split GeGLU over [rows, I] by rows: with I a multiple of 16, every
        // element takes the same vector path in a per-range call as in one call over the whole buffer.
        using var pool = new WorkerPool(3) { MinRangeWork = 0 };
        var random = new Random(5);
        foreach ((int rows, int width) in new[] { (5, 16), (7, 48), (13, 384), (64, 160) })
        {
            int n = rows * width;
            float[] gate = new float[n], up = new float[n], serial = new float[n], split = new float[n];
            for (int i = 0; i < n; i++)
            {
                gate[i] = (float)(random.NextDouble() * 8 - 4);
                up[i] = (float)(random.NextDouble() * 2 - 1);
            }
            Ops.GeGlu(gate, up, serial);
            var job = new GeGluRowsJob(gate, up, split, width);
            pool.RunRanges(ref job, rows, workPerUnit: 8L * width);
            for (int i = 0; i < n; i++) Assert.Equal(BitConverter.SingleToInt32Bits(serial[i]), BitConverter.SingleToInt32Bits(split[i]));
        }
    }
}
