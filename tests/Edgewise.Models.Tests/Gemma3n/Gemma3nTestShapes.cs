using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;

namespace Edgewise.Models.Tests.Gemma3n;

/// <summary>
/// Small synthetic Gemma 3n shapes inside what llama.cpp's gemma3n build hard-codes (4 AltUp streams, PLE width
/// 256, LAuReL rank 64, KV owned by the first 20 layers, sparsity on layers 0-9, full layers i % 5 == 4), so both
/// engines run the same network; everything else varies.
/// </summary>
internal static class Gemma3nTestShapes
{
    /// <summary>21 layers (one shared sliding layer reading layer 18), hidden 64, GQA 2:1, window 8.</summary>
    public static Gemma3nSynthSpec Small { get; } = Gemma3nSynthSpec.Preset("tiny") with { Name = "test3n-small", Seed = 31 };

    /// <summary>22 layers (shared sliding + full → 18, 19), odd vocab, window 5, another full-layer RoPE base.</summary>
    public static Gemma3nSynthSpec Wide { get; } = new()
    {
        Name = "test3n-wide", Hidden = 128, Layers = 22, Vocab = 1001, Heads = 4, KvHeads = 2, HeadDim = 32,
        Ffn = 384, SharedKvLayers = 2, SlidingWindow = 5, Context = 256, RopeThetaFull = 500_000f, Seed = 32,
    };

    /// <summary>25 layers: five shared, the last one full (reads layer 19); no GQA, head dim 64, hidden 96, window 16.</summary>
    public static Gemma3nSynthSpec Deep { get; } = new()
    {
        Name = "test3n-deep", Hidden = 96, Layers = 25, Vocab = 777, Heads = 3, KvHeads = 3, HeadDim = 64, Ffn = 512,
        SharedKvLayers = 5, SlidingWindow = 16, Context = 256, Seed = 33,
    };

    public static IEnumerable<object[]> Names => [["small"], ["wide"], ["deep"]];

    public static Gemma3nSynthSpec ByName(string name) => name switch
    {
        "small" => Small,
        "wide" => Wide,
        "deep" => Deep,
        _ => throw new ArgumentException(name),
    };

    public static string Write(TempDirectory dir, Gemma3nSynthSpec spec, GgmlType dtype, GgmlType? roundThrough = null)
    {
        string path = dir.File($"{spec.Name}-{dtype}{(roundThrough is null ? "" : "-via-" + roundThrough)}.gguf");
        Gemma3nGgufSynthesizer.Write(spec with { Dtype = dtype, RoundThrough = roundThrough }, path);
        return path;
    }

    /// <summary>Edgewise logits of every position, fed one token at a time (single-token decode path).</summary>
    public static float[][] TokenByToken(IModelState state, int[] tokens, int vocab)
    {
        var result = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            result[i] = new float[vocab];
            state.Forward(tokens.AsSpan(i, 1), result[i]);
        }
        return result;
    }

    /// <summary>One thread: the many tiny mat-vecs of token-by-token runs cost more in pool hand-offs than they save on a loaded CI machine.</summary>
    public static ModelLoadOptions Options { get; } = new() { Threads = 1 };

    /// <summary>What the llama.cpp comparisons load: its n − 1 std in the Gaussian top-k (see <see cref="Gemma3nOptions"/>).</summary>
    public static Gemma3nOptions LlamaCompatible { get; } = new() { SparsityStdLikeLlamaCpp = true };

    public static Gemma3nModel Load(string path, Gemma3nOptions? gemma3n = null, ModelLoadOptions? options = null) =>
        Gemma3nModel.Load(GgufFile.Open(path), options ?? Options, gemma3n ?? LlamaCompatible);

    /// <summary>Edgewise logits for every position, one prompt batch, llama.cpp-compatible std.</summary>
    public static float[][] BatchLogits(string path, int[] tokens, Gemma3nOptions? gemma3n = null, ModelLoadOptions? options = null)
    {
        using Gemma3nModel model = Load(path, gemma3n, options);
        using IModelState state = model.CreateState(Math.Max(tokens.Length, 64));
        int vocab = model.Info.VocabularySize;
        var flat = new float[tokens.Length * vocab];
        state.ForwardAll(tokens, flat);
        return TestShapes.Split(flat, tokens.Length, vocab);
    }
}
