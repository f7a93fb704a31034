using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Edgewise.Compare;

/// <summary>
/// The roofline's denominator: a plain read of a 2 GiB huge-page buffer (<c>madvise(MADV_HUGEPAGE)</c>) with 1 and
/// with N threads, best of a few passes. Runs in its own child so its 2 GiB never inflates an engine's RSS.
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
            double one = Best(buffer, 1), many = Best(buffer, threads);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ResultPrefix}{one} {many}"));
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
        long sink = 0;
        for (int pass = 0; pass < 4; pass++)
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
            foreach (long s in sums) sink += s;
            best = Math.Max(best, Bytes / seconds / 1e9);
        }
        GC.KeepAlive(sink);
        return best;
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
