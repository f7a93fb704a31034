using System.Diagnostics;
using Edgewise.Models.Common;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>
/// Manual check on a full-size file (e.g. <c>edgewise synth --shape e2b --dtype q4_0</c>): both engines load it and
/// agree on a short sequence, with timings. A person runs it with EDGEWISE_LARGE_GGUF naming the file
/// (<c>dotnet test --filter Category=Manual</c>); CI filters Category=Manual out and never writes multi-GB files.
/// EDGEWISE_LARGE_WEIGHTS=hugepages loads the matrices as <c>--weights hugepages</c> does (Q4_0 interleaved);
/// EDGEWISE_LARGE_KV=f16 runs both engines with half KV caches (<c>--kv-cache f16</c>, llama.cpp's default).
/// </summary>
public sealed class Gemma4LargeFileTests(ITestOutputHelper output)
{
    public const string LargeFileVariable = "EDGEWISE_LARGE_GGUF";

    [Fact]
    [Trait("Category", "Manual")]
    public void Large_file_matches_llama_cpp()
    {
        string? path = Environment.GetEnvironmentVariable(LargeFileVariable);
        Assert.False(string.IsNullOrEmpty(path),
            $"set {LargeFileVariable} to a full-size gemma4 GGUF (e.g. edgewise synth --arch gemma4 --shape e2b --dtype q4_0 --out e2b.gguf)");
        int[] tokens = TestShapes.Tokens(16, 262144, seed: 1);

        bool half = Environment.GetEnvironmentVariable("EDGEWISE_LARGE_KV") == "f16";
        var clock = Stopwatch.StartNew();
        float[][] reference = LlamaReference.Logits(path, tokens, halfCache: half);
        output.WriteLine($"llama.cpp load + 16-token batch: {clock.Elapsed.TotalSeconds:F1} s");

        clock.Restart();
        int threads = int.TryParse(Environment.GetEnvironmentVariable("EDGEWISE_THREADS"), out int t) ? t : 2;
        WeightPlacement weights = Environment.GetEnvironmentVariable("EDGEWISE_LARGE_WEIGHTS") == "hugepages" ? WeightPlacement.HugePages : WeightPlacement.Mapped;
        using ILanguageModel model = Architectures.Load(path, new ModelLoadOptions
        {
            Threads = threads,
            Weights = weights,
            KvCacheType = half ? KvCacheType.F16 : KvCacheType.F32,
        });
        output.WriteLine($"Edgewise load: {clock.Elapsed.TotalMilliseconds:F0} ms ({threads} threads, {weights} weights, {(half ? "f16" : "f32")} KV)");
        using IModelState state = model.CreateState(64);
        int vocab = model.Info.VocabularySize;
        var flat = new float[tokens.Length * vocab];
        clock.Restart();
        state.ForwardAll(tokens.AsSpan(0, 8), flat.AsSpan(0, 8 * vocab));
        double prefill = clock.Elapsed.TotalSeconds;
        clock.Restart();
        for (int i = 8; i < tokens.Length; i++) state.Forward(tokens.AsSpan(i, 1), flat.AsSpan(i * vocab, vocab));
        double decode = clock.Elapsed.TotalSeconds;
        output.WriteLine($"Edgewise prefill 8 tokens {prefill:F2} s ({8 / prefill:F1} tok/s), decode 8 tokens {decode:F2} s ({8 / decode:F2} tok/s)");

        LogitComparison c = LogitComparison.Compare(reference, TestShapes.Split(flat, tokens.Length, vocab), tieMargin: 0.1);
        output.WriteLine($"vs llama.cpp: {c}");
        // Q4_0 / Q8_0 files: activation rounding inside each quantized matmul cascades through 35 random layers
        // (see the conformance tests); this catches a broken layer, not rounding noise.
        Assert.True(c.MeanAbs < 0.25, c.ToString());
    }
}
