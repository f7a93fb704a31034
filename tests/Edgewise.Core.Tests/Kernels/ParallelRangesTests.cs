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
    [InlineData(1, 0, 1)]
    [InlineData(2, 0, 1)]
    [InlineData(3, 0, 1)]
    [InlineData(3, 0, 16)]
    [InlineData(2, 0, 7)]
    [InlineData(3, 16_384, 1)]
    public void EveryUnitRunsOnceInAlignedRanges(int threads, long minWork, int align)
    {
        using var pool = new WorkerPool(threads) { MinRangeWork = minWork };
        foreach (int count in new[] { 1, 2, 3, 5, 17, 63, 64, 65, 127, 1000, 8193 })
        {
            var visits = new int[count];
            var starts = new int[count + 1];
            var ends = new int[count + 1];
            int ranges = 0;
            fixed (int* v = visits, s = starts, e = ends)
            {
                var job = new RecordingJob(v, s, e, &ranges);
                pool.RunRanges(ref job, count, workPerUnit: 1000, align);
            }
            Assert.All(visits, n => Assert.Equal(1, n));
            bool split = threads > 1 && (long)count * 1000 >= minWork && (count + align - 1) / align > 1;
            Assert.Equal(split, ranges > 1);
            Assert.True(ranges <= threads * 4, $"{ranges} ranges for {threads} threads");
            for (int i = 0; i < ranges; i++)
            {
                Assert.Equal(0, starts[i] % align);
                if (ends[i] != count) Assert.Equal(0, ends[i] % align);
            }
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

    private readonly struct GeGluJob(float[] gate, float[] up, float[] dst) : IRangeJob
    {
        public void Execute(int start, int end) => Ops.GeGlu(gate.AsSpan(start, end - start), up.AsSpan(start, end - start), dst.AsSpan(start, end - start));
    }

    [Fact]
    public void SixteenAlignedSplitOfAFlatSimdLoopIsBitIdenticalToOneCall()
    {
        using var pool = new WorkerPool(3) { MinRangeWork = 0 };
        var random = new Random(5);
        foreach (int n in new[] { 15, 16, 33, 100, 1021, 4099 })
        {
            float[] gate = new float[n], up = new float[n], serial = new float[n], split = new float[n];
            for (int i = 0; i < n; i++)
            {
                gate[i] = (float)(random.NextDouble() * 8 - 4);
                up[i] = (float)(random.NextDouble() * 2 - 1);
            }
            Ops.GeGlu(gate, up, serial);
            var job = new GeGluJob(gate, up, split);
            pool.RunRanges(ref job, n, workPerUnit: 8, align: 16);
            for (int i = 0; i < n; i++) Assert.Equal(BitConverter.SingleToInt32Bits(serial[i]), BitConverter.SingleToInt32Bits(split[i]));
        }
    }
}
