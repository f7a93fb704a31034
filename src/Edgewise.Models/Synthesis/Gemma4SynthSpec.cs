using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Shape and storage of a synthetic Gemma 4 model. The named presets carry the released models' real
/// dimensions (spec §1.2); every dimension can be overridden to make small test models of the same structure.
/// </summary>
public sealed record Gemma4SynthSpec
{
    public string Name { get; init; } = "synthetic-gemma4";
    public int Hidden { get; init; }
    public int Layers { get; init; }
    public int Vocab { get; init; }
    public int Heads { get; init; }
    /// <summary>KV heads of sliding layers.</summary>
    public int KvHeads { get; init; }
    /// <summary>KV heads of full layers (<c>num_global_key_value_heads</c>).</summary>
    public int KvHeadsFull { get; init; }
    public int HeadDim { get; init; }
    public int HeadDimFull { get; init; }
    public int Ffn { get; init; }
    /// <summary>KV-shared layers get twice <see cref="Ffn"/> (E2B's <c>use_double_wide_mlp</c>).</summary>
    public bool DoubleWideMlp { get; init; }
    /// <summary>PLE width <c>P</c>; 0 = no per-layer embeddings.</summary>
    public int Ple { get; init; }
    public int SharedKvLayers { get; init; }
    /// <summary>Every n-th layer is full attention (layer i is full iff (i + 1) % n == 0); the last layer always is.</summary>
    public int FullEvery { get; init; } = 6;
    public int SlidingWindow { get; init; }
    public int Context { get; init; }
    /// <summary>Full layers have no V projection: V is the raw K projection (<c>attention_k_eq_v</c>).</summary>
    public bool KEqV { get; init; }
    public float PartialRotary { get; init; } = 0.25f;
    public float RopeThetaFull { get; init; } = 1_000_000f;
    public float RopeThetaSliding { get; init; } = 10_000f;
    public float Softcap { get; init; } = 30f;
    public int Experts { get; init; }
    public int ExpertsUsed { get; init; }
    public int ExpertFfn { get; init; }
    public ulong Seed { get; init; } = 1;
    /// <summary>Storage type of matrices; vectors, norms and the router stay F32 as the converter keeps them.</summary>
    public GgmlType Dtype { get; init; } = GgmlType.F32;
    /// <summary>
    /// Leave the PLE table all zeros, written as a sparse hole: a file with a real-size table that costs no disk
    /// or time (memory tests). Zero rows are valid in every block type.
    /// </summary>
    public bool ZeroPerLayerTable { get; init; }
    /// <summary>When set, values are rounded through this type before being stored as <see cref="Dtype"/> (an F32 file holding exactly a Q8_0 file's values).</summary>
    public GgmlType? RoundThrough { get; init; }

    public static IReadOnlyList<string> ShapeNames { get; } = ["e2b", "e4b", "dense", "moe", "tiny"];

    /// <summary>The preset for <paramref name="shape"/>: e2b, e4b (real E-models), dense (31B), moe (26B-A4B), tiny.</summary>
    public static Gemma4SynthSpec Preset(string shape) => shape.ToLowerInvariant() switch
    {
        "e2b" => new() { Name = "synthetic-gemma4-e2b", Hidden = 1536, Layers = 35, Vocab = 262144, Heads = 8, KvHeads = 1, KvHeadsFull = 1, HeadDim = 256, HeadDimFull = 512, Ffn = 6144, DoubleWideMlp = true, Ple = 256, SharedKvLayers = 20, FullEvery = 5, SlidingWindow = 512, Context = 131072 },
        "e4b" => new() { Name = "synthetic-gemma4-e4b", Hidden = 2560, Layers = 42, Vocab = 262144, Heads = 8, KvHeads = 2, KvHeadsFull = 2, HeadDim = 256, HeadDimFull = 512, Ffn = 10240, Ple = 256, SharedKvLayers = 18, FullEvery = 6, SlidingWindow = 512, Context = 131072 },
        "dense" => new() { Name = "synthetic-gemma4-31b", Hidden = 5376, Layers = 60, Vocab = 262144, Heads = 32, KvHeads = 16, KvHeadsFull = 4, HeadDim = 256, HeadDimFull = 512, Ffn = 21504, FullEvery = 6, SlidingWindow = 1024, Context = 262144, KEqV = true },
        "moe" => new() { Name = "synthetic-gemma4-26b-a4b", Hidden = 2816, Layers = 30, Vocab = 262144, Heads = 16, KvHeads = 8, KvHeadsFull = 2, HeadDim = 256, HeadDimFull = 512, Ffn = 2112, FullEvery = 6, SlidingWindow = 1024, Context = 262144, KEqV = true, Experts = 128, ExpertsUsed = 8, ExpertFfn = 704 },
        "tiny" => new() { Name = "synthetic-gemma4-tiny", Hidden = 128, Layers = 6, Vocab = 1024, Heads = 4, KvHeads = 2, KvHeadsFull = 1, HeadDim = 32, HeadDimFull = 64, Ffn = 256, DoubleWideMlp = true, Ple = 32, SharedKvLayers = 3, FullEvery = 3, SlidingWindow = 8, Context = 512 },
        _ => throw new ArgumentException($"Unknown shape '{shape}'; expected one of: {string.Join(", ", ShapeNames)}.", nameof(shape)),
    };

    public int FirstShared => Layers - SharedKvLayers;

    public LayerKind[] LayerKinds()
    {
        var kinds = new LayerKind[Layers];
        for (int i = 0; i < Layers; i++) kinds[i] = (i + 1) % FullEvery == 0 || i == Layers - 1 ? LayerKind.Full : LayerKind.Sliding;
        return kinds;
    }

    public int[] FfnWidths()
    {
        var widths = new int[Layers];
        for (int i = 0; i < Layers; i++) widths[i] = DoubleWideMlp && i >= FirstShared ? 2 * Ffn : Ffn;
        return widths;
    }

    public int[] KvHeadCounts()
    {
        LayerKind[] kinds = LayerKinds();
        var counts = new int[Layers];
        for (int i = 0; i < Layers; i++) counts[i] = kinds[i] == LayerKind.Full ? KvHeadsFull : KvHeads;
        return counts;
    }

    /// <summary>Rotary pairs of full layers that turn (the rest get llama.cpp's 1e30 factor).</summary>
    public int RotatedPairsFull => (int)Math.Floor(PartialRotary * HeadDimFull / 2);

    /// <summary>Throws when the shape is one llama.cpp (or the reference) would not run the same way.</summary>
    public void Validate()
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new ArgumentException($"Invalid synthetic model shape: {what}.");
        }
        Require(Hidden > 0 && Layers > 0 && Vocab > 0 && Heads > 0, "hidden, layers, vocab and heads must be positive");
        Require(KvHeads > 0 && Heads % KvHeads == 0 && KvHeadsFull > 0 && Heads % KvHeadsFull == 0, "KV heads must divide heads");
        Require(HeadDim % 2 == 0 && HeadDimFull % 2 == 0, "head dims must be even");
        Require(Hidden % 32 == 0 && Ffn % 32 == 0 && Ple % 32 == 0 && ExpertFfn % 32 == 0 && Heads * HeadDim % 32 == 0 && Heads * HeadDimFull % 32 == 0,
            "hidden, ffn, ple, expert ffn and heads × head dim must be multiples of 32 (rows of block-quantized matrices)");
        Require(SharedKvLayers >= 0 && SharedKvLayers <= Layers - 2, "at least 2 layers must own their KV cache");
        Require(SlidingWindow > 0 && Context > 0, "sliding window and context must be positive");
        Require(Experts == 0 || (ExpertsUsed > 0 && ExpertsUsed <= Experts && ExpertFfn > 0), "experts used must be 1..experts, expert ffn > 0");
        LayerKind[] kinds = LayerKinds();
        Require(Array.IndexOf(kinds, LayerKind.Sliding) >= 0, "at least one sliding layer is needed");
        if (SharedKvLayers > 0)
        {
            // llama.cpp reads layer first_shared-2 for shared sliding layers and first_shared-1 for shared full
            // ones; HF reads the last owner of the same type. Only layouts where both agree are valid files.
            Require(kinds[FirstShared - 1] == LayerKind.Full && kinds[FirstShared - 2] == LayerKind.Sliding,
                $"layer {FirstShared - 1} must be full and layer {FirstShared - 2} sliding (the KV producers of shared layers)");
            Require(KvHeadsFull > 0, "full KV heads must be positive");
        }
    }
}
