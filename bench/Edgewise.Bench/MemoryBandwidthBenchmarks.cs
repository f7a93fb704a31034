using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Edgewise.Core.Threading;

namespace Edgewise.Bench;

/// <summary>The ceiling for the kernels: a plain vectorized read of a 2 GiB huge-page buffer, 1 and 2 threads.</summary>
[MemoryDiagnoser]
[Config(typeof(GigabytesPerSecondConfig))]
public class MemoryBandwidthBenchmarks
{
    internal const long BufferBytes = 2L << 30;
    private NativeBuffer? _buffer;
    private WorkerPool? _pool;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _buffer = new NativeBuffer(BufferBytes);
        _pool = new WorkerPool(Threads);
    }

    [Benchmark]
    public unsafe float ReadAll() => ReadBandwidth.Read(_buffer!.Pointer, BufferBytes, _pool!);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _buffer?.Dispose();
    }
}

internal static unsafe class ReadBandwidth
{
    private const long Chunk = 4 << 20;

    public static float Read(byte* data, long bytes, WorkerPool pool)
    {
        var job = new ReadJob { Data = data, Bytes = bytes };
        float* sums = stackalloc float[(int)(bytes / Chunk) + 1];
        job.Sums = sums;
        int items = (int)((bytes + Chunk - 1) / Chunk);
        pool.Run(ref job, items);
        float total = 0;
        for (int i = 0; i < items; i++) total += sums[i];
        return total;
    }

    private struct ReadJob : IParallelJob
    {
        public byte* Data;
        public long Bytes;
        public float* Sums;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int item)
        {
            long start = item * Chunk;
            long end = Math.Min(Bytes, start + Chunk);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (long o = start; o < end; o += 128)
            {
                float* p = (float*)(Data + o);
                a0 += Vector256.Load(p);
                a1 += Vector256.Load(p + 8);
                a2 += Vector256.Load(p + 16);
                a3 += Vector256.Load(p + 24);
            }
            Sums[item] = Vector256.Sum(a0 + a1 + a2 + a3);
        }
    }
}
