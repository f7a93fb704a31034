using System.Diagnostics;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/Edgewise.Bench -- quick [formats...]</c>: a minute-long Stopwatch run
/// of the matvec shapes and the read-bandwidth ceiling, 1 and 2 threads interleaved (the VM is noisy, so each
/// figure is the median of several alternating rounds). BenchmarkDotNet gives the careful numbers; this gives a
/// table fast enough to run after every kernel change.
/// </summary>
internal static class QuickBench
{
    private static readonly (int Rows, int Columns)[] Shapes = [(1536, 6144), (6144, 1536), (262144, 1536)];

    /// <summary>A ggml type name, or <c>Q4_0x16</c> / <c>Q8_0x16</c> for rows interleaved sixteen at a time.</summary>
    private static (GgmlType Type, bool Interleaved) ParseFormat(string name)
        => name.EndsWith("x16", StringComparison.OrdinalIgnoreCase)
            ? (Enum.Parse<GgmlType>(name[..^3], ignoreCase: true), true)
            : (Enum.Parse<GgmlType>(name, ignoreCase: true), false);

    private static string Label(GgmlType type, bool interleaved) => interleaved ? $"{type}x16" : type.ToString();

    public static void Run(string[] args)
    {
        (GgmlType Type, bool Interleaved)[] formats = args.Length > 0
            ? Array.ConvertAll(args, ParseFormat)
            : [(GgmlType.Q8_0, false), (GgmlType.Q8_0, true), (GgmlType.Q4_0, false), (GgmlType.Q4_0, true), (GgmlType.Q4_K, false), (GgmlType.Q6_K, false), (GgmlType.BF16, false)];
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);

        (double bw1, double bw2) = MeasureBandwidth(pool1, pool2);
        Console.WriteLine($"read bandwidth (2 GiB, huge pages): 1 thread {bw1:F1} GB/s, 2 threads {bw2:F1} GB/s");
        Console.WriteLine($"{"format",-6} {"shape",-12} {"1T GB/s",8} {"2T GB/s",8} {"1T %bw",7} {"2T %bw",7} {"2T us",8}");
        foreach ((GgmlType format, bool interleaved) in formats)
        {
            foreach ((int rows, int columns) in Shapes)
            {
                if (format is GgmlType.BF16 or GgmlType.F16 or GgmlType.F32 && rows > 100_000) continue;
                using var weights = new BenchWeights(format, rows, columns, interleaved);
                var x = new float[columns];
                var y = new float[rows];
                for (int i = 0; i < columns; i++) x[i] = MathF.Sin(i);
                WeightMatrix m = weights.Matrix;
                int reps = (int)Math.Clamp(2_000_000_000 / weights.Bytes, 3, 400);
                var t1 = new List<double>();
                var t2 = new List<double>();
                m.MatVec(x, y, pool1);
                m.MatVec(x, y, pool2);
                for (int round = 0; round < 5; round++)
                {
                    t1.Add(Time(() => m.MatVec(x, y, pool1), reps));
                    t2.Add(Time(() => m.MatVec(x, y, pool2), reps));
                }
                double g1 = weights.Bytes / Median(t1) / 1e9, g2 = weights.Bytes / Median(t2) / 1e9;
                Console.WriteLine($"{Label(format, interleaved),-7} {rows + "x" + columns,-12} {g1,8:F1} {g2,8:F1} {g1 / bw1,7:P0} {g2 / bw2,7:P0} {Median(t2) * 1e6,8:F0}");
            }
        }
    }

    /// <summary>
    /// <c>quick-l2</c>: one thread on a 192 KiB-class matrix that stays in L2, best of many runs: the kernel's
    /// compute ceiling with memory out of the picture, fast path beside the scalar twin. Minimums are stable even
    /// when the machine is busy, so this is the number to watch while tuning a kernel.
    /// </summary>
    public static void RunCacheResident(string[] args)
    {
        (GgmlType Type, bool Interleaved)[] formats = args.Length > 0
            ? Array.ConvertAll(args, ParseFormat)
            : [(GgmlType.Q8_0, false), (GgmlType.Q8_0, true), (GgmlType.Q4_0, false), (GgmlType.Q4_0, true), (GgmlType.Q4_1, false), (GgmlType.Q5_0, false), (GgmlType.Q4_K, false),
               (GgmlType.Q5_K, false), (GgmlType.Q6_K, false), (GgmlType.F16, false), (GgmlType.BF16, false), (GgmlType.F32, false)];
        Console.WriteLine($"{"format",-6} {"shape",-10} {"fast GB/s",10} {"scalar GB/s",12}");
        foreach ((GgmlType format, bool interleaved) in formats)
        {
            const int columns = 1536;
            int rows = (int)Math.Max(16, 192 * 1024 / GgmlTypeInfo.RowBytes(format, columns)) / 16 * 16;   // whole groups for the x16 layouts
            using var weights = new BenchWeights(format, rows, columns, interleaved);
            var x = new float[columns];
            var y = new float[rows];
            for (int i = 0; i < columns; i++) x[i] = MathF.Sin(i);
            double best = double.MaxValue, bestScalar = double.MaxValue;
            for (int round = 0; round < 200; round++)
            {
                best = Math.Min(best, Time(() => weights.Matrix.MatMulCore(x, 1, y, WorkerPool.Inline, fast: true), 5));
                if (round % 10 == 0) bestScalar = Math.Min(bestScalar, Time(() => weights.Matrix.MatMulCore(x, 1, y, WorkerPool.Inline, fast: false), 2));
            }
            Console.WriteLine($"{Label(format, interleaved),-7} {rows + "x" + columns,-10} {weights.Bytes / best / 1e9,10:F1} {weights.Bytes / bestScalar / 1e9,12:F1}");
        }
    }

    /// <summary>
    /// <c>quick-batch</c>: a prompt-sized batch (64 activation rows) through a 512x1536 matrix on one thread, best
    /// of many runs. Reported as weight bytes times rows per second, so it compares with quick-l2's matvec figure:
    /// the ratio is what the batch kernel gains from reusing each unpacked weight block.
    /// </summary>
    public static void RunBatch(string[] args)
    {
        (GgmlType Type, bool Interleaved)[] formats = args.Length > 0
            ? Array.ConvertAll(args, ParseFormat)
            : [(GgmlType.Q8_0, false), (GgmlType.Q4_0, false), (GgmlType.Q4_0, true), (GgmlType.Q4_K, false), (GgmlType.Q6_K, false)];
        const int rows = 512, columns = 1536, n = 64;
        using (var head = new BenchWeights(GgmlType.Q4_0, 262144, columns))
        {
            head.Matrix.Interleave();   // first touch of the copy's pages, so the timed run sees the repack itself
            var clock = Stopwatch.StartNew();
            head.Matrix.Interleave();
            Console.WriteLine($"interleave (copy + repack) of a 262144x{columns} Q4_0 head: {clock.Elapsed.TotalMilliseconds:F0} ms, {head.Bytes / clock.Elapsed.TotalSeconds / 1e9:F2} GB/s");
        }
        Console.WriteLine($"{"format",-6} {"shape",-10} {"n",3} {"fast GB/s·n",12} {"matvec GB/s",12}");
        foreach ((GgmlType format, bool interleaved) in formats)
        {
            using var weights = new BenchWeights(format, rows, columns, interleaved);
            var x = new float[n * columns];
            var y = new float[n * rows];
            for (int i = 0; i < x.Length; i++) x[i] = MathF.Sin(i);
            double best = double.MaxValue, bestVec = double.MaxValue;
            for (int round = 0; round < 40; round++)
            {
                best = Math.Min(best, Time(() => weights.Matrix.MatMulCore(x, n, y, WorkerPool.Inline, fast: true), 2));
                bestVec = Math.Min(bestVec, Time(() => weights.Matrix.MatMulCore(x, 1, y, WorkerPool.Inline, fast: true), 20));
            }
            Console.WriteLine($"{Label(format, interleaved),-7} {rows + "x" + columns,-10} {n,3} {weights.Bytes * n / best / 1e9,12:F1} {weights.Bytes / bestVec / 1e9,12:F1}");
        }
    }

    private static unsafe (double One, double Two) MeasureBandwidth(WorkerPool pool1, WorkerPool pool2)
    {
        using var buffer = new NativeBuffer(MemoryBandwidthBenchmarks.BufferBytes);
        var t1 = new List<double>();
        var t2 = new List<double>();
        ReadBandwidth.Read(buffer.Pointer, buffer.Length, pool1);
        ReadBandwidth.Read(buffer.Pointer, buffer.Length, pool2);
        for (int round = 0; round < 5; round++)
        {
            t1.Add(Time(() => ReadBandwidth.Read(buffer.Pointer, buffer.Length, pool1), 2));
            t2.Add(Time(() => ReadBandwidth.Read(buffer.Pointer, buffer.Length, pool2), 2));
        }
        return (buffer.Length / Median(t1) / 1e9, buffer.Length / Median(t2) / 1e9);
    }

    /// <summary>Seconds per call, averaged over <paramref name="reps"/> calls.</summary>
    private static double Time(Action action, int reps)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) action();
        return sw.Elapsed.TotalSeconds / reps;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
