using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Synthesis;

namespace Edgewise.Models.Tests.Support;

/// <summary>Small synthetic Gemma 4 shapes that keep every structural feature while both engines run in seconds.</summary>
internal static class TestShapes
{
    /// <summary>E-model: PLE, KV sharing (sliding → layer 2, full → layer 3), double-wide MLP on shared layers.</summary>
    public static Gemma4SynthSpec EModel { get; } = new()
    {
        Name = "test-e", Hidden = 128, Layers = 8, Vocab = 2048, Heads = 4, KvHeads = 1, KvHeadsFull = 1, HeadDim = 32, HeadDimFull = 64,
        Ffn = 256, DoubleWideMlp = true, Ple = 64, SharedKvLayers = 4, FullEvery = 4, SlidingWindow = 16, Context = 256, Seed = 11,
    };

    /// <summary>Dense large-model structure: k_eq_v on full layers, fewer KV heads on full layers.</summary>
    public static Gemma4SynthSpec Dense { get; } = new()
    {
        Name = "test-dense", Hidden = 128, Layers = 6, Vocab = 2048, Heads = 4, KvHeads = 2, KvHeadsFull = 1, HeadDim = 32, HeadDimFull = 64,
        Ffn = 384, FullEvery = 3, SlidingWindow = 16, Context = 256, KEqV = true, Seed = 12,
    };

    /// <summary>26B-A4B structure: dense MLP beside top-k routed experts, k_eq_v. Seed 24 keeps router top-k gaps clear of Q8_0 noise.</summary>
    public static Gemma4SynthSpec Moe { get; } = new()
    {
        Name = "test-moe", Hidden = 128, Layers = 4, Vocab = 2048, Heads = 4, KvHeads = 2, KvHeadsFull = 1, HeadDim = 32, HeadDimFull = 64,
        Ffn = 128, FullEvery = 2, SlidingWindow = 16, Context = 256, KEqV = true, Experts = 8, ExpertsUsed = 2, ExpertFfn = 64, Seed = 24,
    };

    /// <summary>Odd but valid: hidden 96, 3 heads, full head dim 96, half-rotary, odd vocab, 7 layers, window 5, one shared layer.</summary>
    public static Gemma4SynthSpec Odd { get; } = new()
    {
        Name = "test-odd", Hidden = 96, Layers = 7, Vocab = 1531, Heads = 3, KvHeads = 3, KvHeadsFull = 1, HeadDim = 32, HeadDimFull = 96,
        Ffn = 160, Ple = 32, SharedKvLayers = 1, FullEvery = 3, SlidingWindow = 5, Context = 256, PartialRotary = 0.5f,
        RopeThetaFull = 500_000f, RopeThetaSliding = 20_000f, Seed = 14,
    };

    /// <summary>E2B's real head geometry (256 sliding / 512 full, 25% proportional RoPE, θ 1e6) on a narrow trunk.</summary>
    public static Gemma4SynthSpec RealHeads { get; } = new()
    {
        Name = "test-real-heads", Hidden = 256, Layers = 5, Vocab = 1024, Heads = 2, KvHeads = 1, KvHeadsFull = 1, HeadDim = 256, HeadDimFull = 512,
        Ffn = 256, DoubleWideMlp = true, Ple = 256, SharedKvLayers = 2, FullEvery = 3, SlidingWindow = 32, Context = 256, Seed = 15,
    };

    public static IEnumerable<object[]> Names => [["e"], ["dense"], ["moe"], ["odd"], ["real-heads"]];

    public static Gemma4SynthSpec ByName(string name) => name switch
    {
        "e" => EModel,
        "dense" => Dense,
        "moe" => Moe,
        "odd" => Odd,
        "real-heads" => RealHeads,
        _ => throw new ArgumentException(name),
    };

    /// <summary>Seeded token ids in [0, vocab).</summary>
    public static int[] Tokens(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        var tokens = new int[count];
        tokens[0] = 2;
        for (int i = 1; i < count; i++) tokens[i] = random.Next(vocab);
        return tokens;
    }

    /// <summary>Edgewise logits for every position, one prompt batch.</summary>
    public static float[][] EdgewiseLogits(string path, int[] tokens, ModelLoadOptions? options = null)
    {
        using ILanguageModel model = Architectures.Load(path, options ?? new ModelLoadOptions { Threads = 2 });
        using IModelState state = model.CreateState(Math.Max(tokens.Length, 64));
        int vocab = model.Info.VocabularySize;
        var flat = new float[tokens.Length * vocab];
        state.ForwardAll(tokens, flat);
        return Split(flat, tokens.Length, vocab);
    }

    public static float[][] Split(float[] flat, int rows, int vocab)
    {
        var result = new float[rows][];
        for (int i = 0; i < rows; i++) result[i] = flat.AsSpan(i * vocab, vocab).ToArray();
        return result;
    }

    public static string Write(TempDirectory dir, Gemma4SynthSpec spec, GgmlType dtype, GgmlType? roundThrough = null)
    {
        string path = dir.File($"{spec.Name}-{dtype}{(roundThrough is null ? "" : "-via-" + roundThrough)}.gguf");
        Gemma4GgufSynthesizer.Write(spec with { Dtype = dtype, RoundThrough = roundThrough }, path);
        return path;
    }
}
