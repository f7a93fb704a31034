using System.Diagnostics;
using System.Text.Json;
using Edgewise.Core.IO;
using Edgewise.Engine.Sampling;
using Edgewise.Models;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Gemma4;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Edgewise.Compare;

/// <summary>
/// What one engine did on one file in one fresh process. <c>TtftMs</c> counts from the process start.
/// <c>AroundGBps</c>, set by the parent: the mean of the read bandwidth sampled just before and just after the run.
/// </summary>
internal sealed record MeasureResult(
    string Engine, string Model, string Ple, double LoadMs, double TtftMs, double PrefillTokPerS, double DecodeTokPerS,
    long PeakRssBytes, double PleBytesPerToken, long HugePageBytes = 0, double AroundGBps = 0);

/// <summary>
/// A child process: loads one model with one engine and measures, in order, cold time to first token (from the
/// process start: runtime start-up, load and a 16-token prompt), prompt processing (a fresh 512-token prompt in one call) and decode (128 greedy single-token
/// steps after that prompt). Both engines see the same token ids and thread count. Peak RSS is the process's
/// high-water mark, which is why every measurement gets its own process.
/// </summary>
internal static class Measurement
{
    public const string ResultPrefix = "RESULT ";

    /// <summary>When the OS started this process (before the runtime), in clock ticks of 10 ms.</summary>
    private static readonly DateTime ProcessStarted = ReadStartTime();

    private static DateTime ReadStartTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.StartTime;
    }

    private static double SinceProcessStartMs() => (DateTime.Now - ProcessStarted).TotalMilliseconds;

    public static int RunChild(CompareArgs a)
    {
        string engine = a.Get("engine", "edgewise"), model = a.Get("model", "");
        int threads = a.GetInt("threads", 2), prompt = a.GetInt("prompt", 512), gen = a.GetInt("gen", 128), ttft = a.GetInt("ttft-prompt", 16);
        int[] tokens = Tokens(prompt, a.GetInt("vocab-limit", 200_000));
        int[] shortPrompt = Tokens(ttft, a.GetInt("vocab-limit", 200_000), seed: 2);
        MeasureResult r = engine == "edgewise"
            ? Edgewise(model, threads, a.Get("ple", "mmap"), a.Get("ple-cache", "64MB"), a.Get("weights", "mmap"), tokens, shortPrompt, gen)
            : LlamaCpp(model, threads, a.Has("llama-mmap"), tokens, shortPrompt, gen);
        r = r with { PeakRssBytes = ProcessMemory.PeakResidentBytes() ?? 0 };
        Console.WriteLine(ResultPrefix + JsonSerializer.Serialize(r));
        return 0;
    }

    private static MeasureResult Edgewise(string path, int threads, string ple, string pleCache, string weights, int[] prompt, int[] shortPrompt, int gen)
    {
        var options = new ModelLoadOptions
        {
            Threads = threads,
            PerLayerEmbeddings = PerLayerEmbeddingStore.ParseMode(ple),
            PerLayerEmbeddingCacheBytes = PerLayerEmbeddingStore.ParseSize(pleCache),
            Weights = weights == "hugepages" ? WeightPlacement.HugePages : WeightPlacement.Mapped,
            // `repacked`: mapped, Q4_0 and Q8_0 matrices from the repack cache the orchestrator built before the first round.
            RepackCacheDirectory = weights == "repacked" ? RepackCacheDirectory(path) : null,
        };
        int context = prompt.Length + gen + 8;
        var clock = Stopwatch.StartNew();
        using ILanguageModel model = Architectures.Load(path, options);
        double loadMs = clock.Elapsed.TotalMilliseconds;
        var logits = new float[model.Info.VocabularySize];
        using (IModelState first = model.CreateState(context))
        {
            first.Forward(shortPrompt, logits);
        }
        double ttftMs = SinceProcessStartMs();

        using IModelState state = model.CreateState(context);
        long t0 = Stopwatch.GetTimestamp();
        state.Forward(prompt, logits);
        double prefill = prompt.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds;

        IPerLayerEmbeddingStore? store = model switch
        {
            Gemma4Model g4 => g4.Weights.PerLayerEmbeddings,
            Gemma3nModel g3n => g3n.Weights.PerLayerEmbeddings,
            _ => null,
        };
        long pleBytes0 = store?.BytesRead ?? 0;
        Span<int> next = stackalloc int[1];
        t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < gen; i++)
        {
            next[0] = ArgMax(logits);
            state.Forward(next, logits);
        }
        double decode = gen / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double pleBytesPerToken = store is null ? 0 : (store.BytesRead - pleBytes0) / (double)gen;
        string placement = weights switch
        {
            "hugepages" => ple + ", weights hugepages",
            "repacked" => ple + ", repack cache",
            _ => ple,
        };
        // While the model is still loaded: its mappings go when it is disposed.
        return new MeasureResult("edgewise", Path.GetFileName(path), placement, loadMs, ttftMs, prefill, decode, 0, pleBytesPerToken, ProcessMemory.HugePageResidentBytes() ?? 0);
    }

    private static MeasureResult LlamaCpp(string path, int threads, bool mmap, int[] prompt, int[] shortPrompt, int gen)
    {
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level == LLamaLogLevel.Error) Console.Error.Write(message);
        });
        // Its best settings here (llama-cpp-reference.md): weights loaded into memory, flash attention off.
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)(prompt.Length + gen + 8),
            BatchSize = (uint)prompt.Length,
            UBatchSize = (uint)prompt.Length,
            Threads = threads,
            BatchThreads = threads,
            FlashAttention = false,
            GpuLayerCount = 0,
            LoadMode = mmap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None,
        };
        var clock = Stopwatch.StartNew();
        using LLamaWeights weights = LLamaWeights.LoadFromFile(parameters);
        using LLamaContext context = weights.CreateContext(parameters);
        double loadMs = clock.Elapsed.TotalMilliseconds;
        var batch = new LLamaBatch();
        Decode(context, batch, shortPrompt, 0);
        double ttftMs = SinceProcessStartMs();

        context.NativeHandle.MemoryClear(true);
        long t0 = Stopwatch.GetTimestamp();
        Decode(context, batch, prompt, 0);
        double prefill = prompt.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds;

        int vocab = weights.Vocab.Count;
        var one = new int[1];
        t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < gen; i++)
        {
            one[0] = ArgMax(context.NativeHandle.GetLogitsIth(batch.TokenCount - 1)[..vocab]);
            Decode(context, batch, one, prompt.Length + i);
        }
        double decode = gen / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return new MeasureResult("llama.cpp", Path.GetFileName(path), mmap ? "mmap" : "loaded", loadMs, ttftMs, prefill, decode, 0, 0, ProcessMemory.HugePageResidentBytes() ?? 0);
    }

    /// <summary>One batch of <paramref name="tokens"/> at positions from <paramref name="pos0"/>, logits for the last only.</summary>
    private static void Decode(LLamaContext context, LLamaBatch batch, int[] tokens, int pos0)
    {
        batch.Clear();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], pos0 + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        DecodeResult result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}.");
    }

    /// <summary>
    /// The greedy pick for both engines: Edgewise's vectorized <see cref="LogitScan.ArgMax"/>, what `edgewise run`
    /// samples with at temperature 0 (a scalar loop over 262144 logits took ~0.2 ms a token of either engine's decode).
    /// </summary>
    private static int ArgMax(ReadOnlySpan<float> values) => LogitScan.ArgMax(values);

    /// <summary>The same seeded ids for both engines; BOS first.</summary>
    private static int[] Tokens(int count, int limit, int seed = 1)
    {
        var random = new Random(seed);
        var tokens = new int[count];
        for (int i = 0; i < count; i++) tokens[i] = i == 0 ? 2 : 1000 + random.Next(limit - 1000);
        return tokens;
    }

    /// <summary>Where the `repacked` weight mode keeps its caches: EDGEWISE_HOME/repacked of a home beside the models.</summary>
    public static string RepackCacheDirectory(string model) => Path.Combine(EdgewiseHome(model), "repacked");

    /// <summary>The EDGEWISE_HOME the published CLI gets, so its `bench` finds the same repack caches.</summary>
    public static string EdgewiseHome(string model) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(model))!, ".home");
}
