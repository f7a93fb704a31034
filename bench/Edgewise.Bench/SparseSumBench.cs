using System.Diagnostics;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Bench;

/// <summary>
/// <c>quick-sparse</c>: Gemma 3n E2B's sparse down projection in decode, <c>WeightMatrix.SumRows</c> over ~5 % of
/// the 8192 rows of a transposed [8192, 2048] Q8_0 down (what each of the 10 sparse layers reads per token), and
/// the sparse up, <c>MatVecRows</c> over the same rows of a [8192, 2048] Q4_0 up. 1 and 2 threads, µs per call.
/// <c>EDGEWISE_BENCH_SMALL_PAGES=1</c> puts the matrices on 4 KiB pages, as a mapped file's are.
/// </summary>
internal static class SparseSumBench
{
    public static void Run(string[] args)
    {
        int survivors = args.Length > 0 ? int.Parse(args[0]) : 410;
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        // Forty layers (36 MB of listed rows, past the L3), so the rows come from DRAM as they do in a decode step.
        const int layers = 40;
        var downs = new BenchWeights[layers];
        var ups = new BenchWeights[layers];
        for (int l = 0; l < layers; l++)
        {
            downs[l] = new BenchWeights(GgmlType.Q8_0, 8192, 2048);
            ups[l] = new BenchWeights(GgmlType.Q4_0, 8192, 2048);
        }
        var rng = new Random(7);
        int[] ids = Enumerable.Range(0, 8192).OrderBy(_ => rng.Next()).Take(survivors).Order().ToArray();
        float[] c = ids.Select(_ => (float)rng.NextDouble()).ToArray();
        var y = new float[2048];
        var x = new float[2048];
        var up = new float[survivors];
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Sin(i);
        foreach ((string name, WorkerPool pool) in new[] { ("1T", pool1), ("2T", pool2) })
        {
            var sum = new List<double>();
            var rows = new List<double>();
            for (int round = 0; round < 30; round++)
            {
                var clock = Stopwatch.StartNew();
                for (int l = 0; l < layers; l++) downs[l].Matrix.SumRows(ids, c, y, pool);
                sum.Add(clock.Elapsed.TotalMicroseconds / layers);
                clock.Restart();
                for (int l = 0; l < layers; l++) ups[l].Matrix.MatVecRows(x, ids, up, pool);
                rows.Add(clock.Elapsed.TotalMicroseconds / layers);
            }
            sum.Sort();
            rows.Sort();
            Console.WriteLine($"{name} {survivors} rows: SumRows (Q8_0 down) {sum[15],7:F1} µs, MatVecRows (Q4_0 up) {rows[15],7:F1} µs");
        }
        foreach (BenchWeights w in downs.Concat(ups)) w.Dispose();
    }
}
