using System.Diagnostics;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Bench;

/// <summary>
/// <c>quick-attention [keys] [threads] [hot] [kv2] [f16] [evict]</c>: one decode row of Gemma 4 E2B's attention at a given
/// context, every layer its own cache: 28 sliding layers (head dim 256, 512-key window) and 7 full ones (head dim 512),
/// 8 query heads on 1 KV head (<c>kv2</c>: on 2 KV heads, four each, Gemma 3n's grouping). Prints µs per layer kind and
/// per token, and the arithmetic rate (two multiply-adds per key and head dimension: q·k and the weighted value row).
/// The 28 sliding caches (28 MiB at F32) fit in the 32 MiB L3 of the machine this was tuned on, so by default they
/// mostly come from there; <c>evict</c> reads a 64 MiB buffer before each layer (untimed), so its cache comes from
/// DRAM as in a decode step, where the weights stream through the caches between two layers' attention.
/// <c>hot</c> gives every layer the same cache, which then stays in L2/L3: the compute ceiling, memory out of the picture.
/// </summary>
internal static class AttentionBench
{
    public static void Run(string[] args)
    {
        int keys = args.Length > 0 ? int.Parse(args[0]) : 640;
        int threads = args.Length > 1 ? int.Parse(args[1]) : 2;
        bool hot = args.Length > 2 && args[2] == "hot";
        bool evict = args.Contains("evict");
        byte[] flush = evict ? new byte[64 << 20] : [];
        // kv2: Gemma 3n E2B's grouping (two KV heads of four query heads each) instead of Gemma 4's one of eight.
        int kvHeads = args.Contains("kv2") ? 2 : 1;
        // f16: half caches (widened chunk by chunk), as `--kv-cache f16` stores them.
        KvCacheType type = args.Contains("f16") ? KvCacheType.F16 : KvCacheType.F32;
        using var pool = new WorkerPool(threads);
        var kinds = new (string Name, int Layers, int HeadDim, int Window)[] { ("sliding", 28, 256, 512), ("full", 7, 512, 0) };
        double tokenMicros = 0;
        foreach ((string name, int layers, int d, int window) in kinds)
        {
            const int heads = 8;
            var random = new Random(1);
            var caches = new KvCache[layers];
            var k = new float[kvHeads * d];
            var v = new float[kvHeads * d];
            for (int l = 0; l < layers; l++)
            {
                caches[l] = new KvCache([new KvLayerSpec(0, kvHeads * d, window)], keys + 1, maxBatch: 1, type);
                for (int p = 0; p < keys; p++)
                {
                    for (int i = 0; i < k.Length; i++)
                    {
                        k[i] = (float)(random.NextDouble() * 2 - 1) * 0.2f;
                        v[i] = (float)(random.NextDouble() * 2 - 1);
                    }
                    caches[l].Layer(0).Write(p, k, v);
                }
            }
            var q = new float[heads * d];
            for (int i = 0; i < q.Length; i++) q[i] = (float)(random.NextDouble() * 2 - 1);
            var output = new float[heads * d];
            var rows = new SequenceRow[1];
            var times = new List<double>();
            // Two seconds of warm-up first: the runtime optimizes the kernels (and the library's vector exponential) only
            // after many calls, in the background.
            var warmUp = Stopwatch.StartNew();
            while (warmUp.Elapsed.TotalSeconds < 2) Token();
            for (int round = 0; round < 100; round++)
            {
                if (evict)
                {
                    double seconds = 0;
                    for (int l = 0; l < layers; l++)
                    {
                        Evict();
                        var one = Stopwatch.StartNew();
                        Layer(l);
                        seconds += one.Elapsed.TotalSeconds;
                    }
                    times.Add(seconds / layers);
                    continue;
                }
                var clock = Stopwatch.StartNew();
                Token();
                times.Add(clock.Elapsed.TotalSeconds / layers);
            }
            times.Sort();

            // One read a line of a buffer twice the L3: what the caches held before is gone.
            void Evict()
            {
                long sum = 0;
                for (int i = 0; i < flush.Length; i += 64) sum += flush[i];
                GC.KeepAlive(sum);
            }

            void Token()
            {
                for (int l = 0; l < layers; l++) Layer(l);
            }

            void Layer(int l)
            {
                rows[0] = new SequenceRow(caches[hot ? 0 : l], keys - 1);
                Attention.Run(pool, q, rows, 0, 1, 0, window, heads, kvHeads, d, 1f, output);
            }
            double perLayer = times[times.Count / 2];
            int attended = window > 0 ? Math.Min(window, keys) : keys;
            double macs = 2.0 * heads * attended * d;   // every query head: q·k and the weighted value row
            tokenMicros += perLayer * layers * 1e6;
            Console.WriteLine($"{name,-8} d={d} keys={attended}: {perLayer * 1e6,7:F1} µs/layer, {macs / perLayer / 1e9,5:F1} GMAC/s ({threads} threads), KV {2.0 * attended * kvHeads * d * 4 / perLayer / 1e9:F1} GB/s");
        }
        Console.WriteLine($"per token (28 + 7 layers): {tokenMicros / 1000:F2} ms");
    }
}
