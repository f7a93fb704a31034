using System.Diagnostics;
using System.Globalization;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;

namespace Edgewise.Bench;

/// <summary>
/// Per-layer single-token decode time of an E2B-width Gemma 3n (hidden 2048, ffn 8192; layers 0-9 sparse, 10-11
/// dense), sparse path on and off, on one thread. Reports the minimum over many steps per layer, which filters
/// out preemption on a shared machine. Run: <c>dotnet Edgewise.Bench.dll gemma3n-layers [Q8_0|Q4_0] [steps]</c>.
/// </summary>
internal static class Gemma3nLayerProfile
{
    public static void Run(string[] args)
    {
        string dtype = args.Length > 0 ? args[0] : "Q8_0";
        int steps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
        GgmlType type = dtype == "Q4_0" ? GgmlType.Q4_0 : GgmlType.Q8_0;
        string dir = Path.Combine(Path.GetTempPath(), "edgewise-bench-gemma3n");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"e2b-width-12-layers-{dtype}.gguf");
        if (!File.Exists(path))
        {
            Gemma3nGgufSynthesizer.Write(Gemma3nSynthSpec.Preset("e2b") with { Layers = 12, SharedKvLayers = 0, Vocab = 1024, Context = 512, Dtype = type }, path);
        }
        using var pool = new WorkerPool(1);
        using Gemma3nModel model = Gemma3nModel.Load(GgufFile.Open(path), new ModelLoadOptions { Pool = pool });
        using Gemma3nState state = model.CreateGemma3nState(512);
        var logits = new float[model.Info.VocabularySize];
        var prompt = new int[32];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = 2 + i * 7 % 1000;
        state.Forward(prompt, logits);
        int layers = model.Config.LayerCount;
        var best = new Dictionary<bool, double[]> { [true] = Filled(layers), [false] = Filled(layers) };
        var ticks = new long[layers];
        state.LayerTicks = ticks;
        for (int s = 0; s < steps; s++)
        {
            foreach (bool sparse in new[] { true, false })
            {
                state.UseSparseDecode = sparse;
                Array.Clear(ticks);
                state.Forward([17 + s], logits);
                state.Truncate(prompt.Length);
                for (int l = 0; l < layers; l++) best[sparse][l] = Math.Min(best[sparse][l], ticks[l] * 1000.0 / Stopwatch.Frequency);
            }
        }
        Console.WriteLine($"{dtype}, 1 thread, min of {steps} steps; transposed down copies: {model.Weights.SparseDownBytes / 1048576.0:F1} MiB");
        Console.WriteLine("layer  kind    sparse-path ms  dense-path ms");
        for (int l = 0; l < layers; l++)
        {
            Console.WriteLine($"{l,5}  {(model.Config.IsSparse(l) ? "sparse" : "dense "),-6}  {best[true][l],14:F2}  {best[false][l],13:F2}");
        }
        double sparseLayer = Median(best[true].AsSpan(0, 10)), denseLayer = Median(best[false].AsSpan(0, 10));
        Console.WriteLine($"median over layers 0-9: sparse path {sparseLayer:F2} ms, dense path {denseLayer:F2} ms, ratio {sparseLayer / denseLayer:F2}");
    }

    private static double[] Filled(int n)
    {
        var a = new double[n];
        Array.Fill(a, double.MaxValue);
        return a;
    }

    private static double Median(ReadOnlySpan<double> x)
    {
        double[] sorted = x.ToArray();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
