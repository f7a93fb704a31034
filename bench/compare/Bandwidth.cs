using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Edgewise.Compare;

/// <summary>
/// The roofline's denominator: a plain read of a 2 GiB huge-page buffer (<c>madvise(MADV_HUGEPAGE)</c>) with 1 and
/// with N threads, best of a few passes. With <c>--sample</c>, the median of three N-thread passes instead: what the
/// machine gave at one moment, taken around every engine run (this VM's bandwidth changes from one second to the
/// next). Runs in its own child so its 2 GiB never inflates an engine's RSS.
/// </summary>
internal static unsafe partial class Bandwidth
{
    public const string ResultPrefix = "BANDWIDTH ";
    private const long Bytes = 2L << 30;

    public static int RunChild(CompareArgs a)
    {
        int threads = a.GetInt("threads", 2);
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 2 << 20);
        try
        {
            if (OperatingSystem.IsLinux()) _ = Madvise(buffer, (nuint)Bytes, 14);   // MADV_HUGEPAGE
            for (long i = 0; i < Bytes; i += 4096) buffer[i] = (byte)i;
            string result = a.Has("sample")
                ? string.Create(CultureInfo.InvariantCulture, $"{Median(buffer, threads, 3)}")
                : string.Create(CultureInfo.InvariantCulture, $"{Best(buffer, 1)} {Best(buffer, threads)}");
            Console.WriteLine(ResultPrefix + result);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
        return 0;
    }

    /// <summary>GB/s (10^9 bytes) reading the buffer once, split evenly over <paramref name="threads"/>; best of 4.</summary>
    private static double Best(byte* buffer, int threads)
    {
        double best = 0;
        for (int pass = 0; pass < 4; pass++) best = Math.Max(best, Pass(buffer, threads));
        return best;
    }

    /// <summary>The median GB/s of <paramref name="passes"/> reads of the buffer.</summary>
    private static double Median(byte* buffer, int threads, int passes)
    {
        var rates = new double[passes];
        for (int pass = 0; pass < passes; pass++) rates[pass] = Pass(buffer, threads);
        return Report.Median(rates);
    }

    /// <summary>GB/s reading the buffer once, split evenly over <paramref name="threads"/>.</summary>
    private static double Pass(byte* buffer, int threads)
    {
        long share = Bytes / threads;
        var sums = new long[threads];
        var workers = new Thread[threads];
        var start = new Barrier(threads + 1);
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                sums[id] = Sum(buffer + id * share, share);
            });
            workers[t].Start();
        }
        start.SignalAndWait();
        long t0 = Stopwatch.GetTimestamp();
        foreach (Thread w in workers) w.Join();
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        GC.KeepAlive(sums);
        return Bytes / seconds / 1e9;
    }

    private static long Sum(byte* p, long bytes)
    {
        Vector256<long> a = default, b = default, c = default, d = default;
        for (long i = 0; i < bytes; i += 128)
        {
            a += Vector256.Load((long*)(p + i));
            b += Vector256.Load((long*)(p + i + 32));
            c += Vector256.Load((long*)(p + i + 64));
            d += Vector256.Load((long*)(p + i + 96));
        }
        return Vector256.Sum(a + b + c + d);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
