using System.Diagnostics;
using System.Globalization;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;
using Edgewise.Models;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;

namespace Edgewise.Bench;

/// <summary>
/// Cross-request batched decode (<see cref="ILanguageModel.ForwardBatch"/>): ms per step and aggregate tokens/s for
/// B = 1, 2, 4, 8 sequences at different positions, on an E2B-shape model synthesized once (real hidden, heads,
/// FFN and PLE widths; layer count and vocabulary can be cut to fit a busy machine). Rounds alternate the batch
/// sizes and the table shows medians. For Gemma 3n every batch runs twice, with the per-row sparse FFN and dense,
/// which is how <see cref="Gemma3nState.SparseDecodeMaxRows"/> was chosen.
/// Run: <c>dotnet Edgewise.Bench.dll batch-decode [gemma4|gemma3n] [Q4_0|Q8_0] [layers] [vocab] [rounds] [threads]</c>.
/// </summary>
internal static class BatchDecodeBench
{
    private static readonly int[] BatchSizes = [1, 2, 4, 8];

    public static void Run(string[] args)
    {
        string arch = Arg(args, 0, "gemma4");
        GgmlType type = Arg(args, 1, "Q4_0") == "Q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0;
        int layers = int.Parse(Arg(args, 2, arch == "gemma3n" ? "30" : "35"), CultureInfo.InvariantCulture);
        int vocab = int.Parse(Arg(args, 3, "262144"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Arg(args, 4, "7"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg(args, 5, "2"), CultureInfo.InvariantCulture);
        // EDGEWISE_BENCH_MODEL: an existing file instead of a synthesized one; EDGEWISE_BENCH_WEIGHTS=hugepages: weights
        // copied into huge pages (Q4_0 interleaved), as `serve` loads them; EDGEWISE_BENCH_CTX: each state's context.
        string path = Environment.GetEnvironmentVariable("EDGEWISE_BENCH_MODEL") is { Length: > 0 } given ? given : Synthesize(arch, type, layers, vocab);
        WeightPlacement placement = Environment.GetEnvironmentVariable("EDGEWISE_BENCH_WEIGHTS") == "hugepages" ? WeightPlacement.HugePages : WeightPlacement.Mapped;

        using var pool = new WorkerPool(threads);
        using ILanguageModel model = Architectures.Load(path, new ModelLoadOptions { Pool = pool, MaxBatch = BatchSizes[^1], Weights = placement });
        vocab = model.Info.VocabularySize;
        layers = model.Info.LayerCount;
        int max = BatchSizes[^1];
        var states = new IModelState[max];
        var logits = new float[max * model.Info.VocabularySize];
        for (int i = 0; i < max; i++)
        {
            states[i] = model.CreateState(int.Parse(Environment.GetEnvironmentVariable("EDGEWISE_BENCH_CTX") ?? "256", CultureInfo.InvariantCulture));
            var prompt = new int[2 + 3 * i];   // different positions per sequence
            for (int j = 0; j < prompt.Length; j++) prompt[j] = 2 + (j * 7 + i * 13) % (vocab - 2);
            states[i].Forward(prompt, logits);
        }

        bool gemma3n = model is Gemma3nModel;
        bool[] sparseModes = gemma3n ? [true, false] : [true];
        var times = new List<double>[BatchSizes.Length, sparseModes.Length];
        for (int b = 0; b < BatchSizes.Length; b++)
        {
            for (int m = 0; m < sparseModes.Length; m++) times[b, m] = [];
        }
        var tokens = new int[max];
        for (int round = -1; round < rounds; round++)   // round −1 warms up (JIT, page cache)
        {
            for (int b = 0; b < BatchSizes.Length; b++)
            {
                for (int m = 0; m < sparseModes.Length; m++)
                {
                    int n = BatchSizes[b];
                    if (states[0] is Gemma3nState runner) runner.UseSparseDecode = sparseModes[m];
                    for (int i = 0; i < n; i++) tokens[i] = 3 + (round * 31 + i * 17 + 1000) % (vocab - 3);
                    long start = Stopwatch.GetTimestamp();
                    model.ForwardBatch(states.AsSpan(0, n), tokens.AsSpan(0, n), logits);
                    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (round >= 0) times[b, m].Add(ms);
                    for (int i = 0; i < n; i++) states[i].Truncate(states[i].Position - 1);   // keep positions fixed
                }
            }
        }

        Console.WriteLine($"{model.Info.Name}: {layers} layers, vocab {vocab}, {placement} weights, {threads} threads, median of {rounds} rounds; " +
            $"file {new FileInfo(path).Length / 1048576.0:F0} MiB");
        Console.WriteLine(gemma3n ? "  B   ms/step  tok/s  speedup   (dense FFN: ms/step  tok/s)" : "  B   ms/step  tok/s  speedup");
        double single = Median(times[0, 0]);
        for (int b = 0; b < BatchSizes.Length; b++)
        {
            int n = BatchSizes[b];
            double ms = Median(times[b, 0]);
            string line = $"{n,3}  {ms,8:F1}  {n * 1000 / ms,5:F1}  {n * single / ms,6:F2}x";
            if (gemma3n)
            {
                double dense = Median(times[b, 1]);
                line += $"   ({dense,8:F1}  {n * 1000 / dense,5:F1})";
            }
            Console.WriteLine(line);
        }
        foreach (IModelState s in states) s.Dispose();
    }

    private static string Synthesize(string arch, GgmlType type, int layers, int vocab)
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgewise-bench-batch");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{arch}-e2b-{layers}L-{vocab}V-{type}.gguf");
        if (File.Exists(path)) return path;
        Console.WriteLine($"Synthesizing {path} ...");
        string partial = path + ".partial";
        if (arch == "gemma3n")
        {
            Gemma3nSynthSpec e2b = Gemma3nSynthSpec.Preset("e2b");
            // Keep E2B's proportion of KV-shared layers (10 of 30) when cutting layers.
            Gemma3nGgufSynthesizer.Write(e2b with { Layers = layers, SharedKvLayers = Math.Min(e2b.SharedKvLayers, layers / 3), Vocab = vocab, Context = 512, Dtype = type }, partial);
        }
        else
        {
            Gemma4SynthSpec e2b = Gemma4SynthSpec.Preset("e2b");
            // E2B shares KV in its last 20 of 35 layers.
            Gemma4GgufSynthesizer.Write(e2b with { Layers = layers, SharedKvLayers = layers * e2b.SharedKvLayers / e2b.Layers, Vocab = vocab, Context = 512, Dtype = type }, partial);
        }
        File.Move(partial, path);
        return path;
    }

    private static string Arg(string[] args, int index, string fallback) => args.Length > index ? args[index] : fallback;

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values];
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
