using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Shape and storage of a synthetic Gemma 3n model. The named presets carry the released models' real dimensions
/// (spec §1.1); every dimension can be overridden to make small test models of the same structure.
/// </summary>
public sealed record Gemma3nSynthSpec
{
    public string Name { get; init; } = "synthetic-gemma3n";
    public int Hidden { get; init; }
    public int Layers { get; init; }
    public int Vocab { get; init; }
    public int Heads { get; init; }
    public int KvHeads { get; init; }
    public int HeadDim { get; init; }
    /// <summary>MLP width of every layer, unless <see cref="FfnPerLayer"/> gives one per layer.</summary>
    public int Ffn { get; init; }
    /// <summary>Per-layer MLP widths (HF <c>intermediate_size</c> as a list; GGUF writes an array).</summary>
    public int[]? FfnPerLayer { get; init; }
    /// <summary>PLE width <c>P</c> (256 on released models; llama.cpp assumes it).</summary>
    public int Ple { get; init; } = 256;
    public int SharedKvLayers { get; init; }
    /// <summary>Layer i is full attention iff (i + 1) % FullEvery == 0 (HF's default layer_types).</summary>
    public int FullEvery { get; init; } = 5;
    public int SlidingWindow { get; init; }
    public int Context { get; init; }
    public int AltUpInputs { get; init; } = 4;
    public int AltUpActiveIndex { get; init; }
    public int LaurelRank { get; init; } = 64;
    /// <summary>The first this-many layers are activation-sparse with <see cref="Sparsity"/>.</summary>
    public int SparseLayers { get; init; } = 10;
    /// <summary>HF <c>activation_sparsity_pattern</c> value of sparse layers (0.95 → std multiplier 1.6448536).</summary>
    public double Sparsity { get; init; } = 0.95;
    public float RopeThetaFull { get; init; } = 1_000_000f;
    public float RopeThetaSliding { get; init; } = 10_000f;
    public float Softcap { get; init; } = 30f;
    public ulong Seed { get; init; } = 1;
    /// <summary>Storage type of matrices; vectors, norms and AltUp coefficients stay F32 as the converter keeps them.</summary>
    public GgmlType Dtype { get; init; } = GgmlType.F32;
    /// <summary>When set, values are rounded through this type before being stored as <see cref="Dtype"/> (an F32 file holding exactly a Q8_0 file's values).</summary>
    public GgmlType? RoundThrough { get; init; }

    public static IReadOnlyList<string> ShapeNames { get; } = ["e2b", "e4b", "tiny"];

    /// <summary>The preset for <paramref name="shape"/>: e2b, e4b (the released sizes) or tiny (21 layers, hidden 64).</summary>
    public static Gemma3nSynthSpec Preset(string shape) => shape.ToLowerInvariant() switch
    {
        "e2b" => new() { Name = "synthetic-gemma3n-e2b", Hidden = 2048, Layers = 30, Vocab = 262400, Heads = 8, KvHeads = 2, HeadDim = 256, Ffn = 8192, SharedKvLayers = 10, SlidingWindow = 512, Context = 32768 },
        "e4b" => new() { Name = "synthetic-gemma3n-e4b", Hidden = 2048, Layers = 35, Vocab = 262400, Heads = 8, KvHeads = 2, HeadDim = 256, Ffn = 16384, SharedKvLayers = 15, SlidingWindow = 512, Context = 32768 },
        "tiny" => new() { Name = "synthetic-gemma3n-tiny", Hidden = 64, Layers = 21, Vocab = 512, Heads = 2, KvHeads = 1, HeadDim = 32, Ffn = 256, SharedKvLayers = 1, SlidingWindow = 8, Context = 512 },
        _ => throw new ArgumentException($"Unknown shape '{shape}'; expected one of: {string.Join(", ", ShapeNames)}.", nameof(shape)),
    };

    public int FirstShared => Layers - SharedKvLayers;

    public LayerKind[] LayerKinds()
    {
        var kinds = new LayerKind[Layers];
        for (int i = 0; i < Layers; i++) kinds[i] = (i + 1) % FullEvery == 0 ? LayerKind.Full : LayerKind.Sliding;
        return kinds;
    }

    public int[] FfnWidths()
    {
        if (FfnPerLayer is { } list) return (int[])list.Clone();
        var widths = new int[Layers];
        Array.Fill(widths, Ffn);
        return widths;
    }

    /// <summary>Per layer: HF <c>activation_sparsity_pattern</c>.</summary>
    public double[] SparsityPattern()
    {
        var pattern = new double[Layers];
        for (int i = 0; i < Math.Min(SparseLayers, Layers); i++) pattern[i] = Sparsity;
        return pattern;
    }

    /// <summary>Throws when the shape is not a valid Gemma 3n model.</summary>
    public void Validate()
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new ArgumentException($"Invalid synthetic model shape: {what}.");
        }
        Require(Hidden > 0 && Layers > 0 && Vocab > 0 && Heads > 0 && Ple > 0 && LaurelRank > 0, "hidden, layers, vocab, heads, ple and laurel rank must be positive");
        Require(KvHeads > 0 && Heads % KvHeads == 0, "KV heads must divide heads");
        Require(HeadDim % 2 == 0, "head dim must be even");
        int[] ffn = FfnWidths();
        Require(ffn.Length == Layers && ffn.All(f => f > 0 && f % 32 == 0), "one MLP width per layer, each a positive multiple of 32");
        Require(Hidden % 32 == 0 && Ple % 32 == 0 && LaurelRank % 32 == 0 && Heads * HeadDim % 32 == 0,
            "hidden, ple, laurel rank and heads × head dim must be multiples of 32 (rows of block-quantized matrices)");
        Require(AltUpInputs >= 2 && AltUpActiveIndex >= 0 && AltUpActiveIndex < AltUpInputs, "at least 2 AltUp streams and an active index among them");
        Require(SharedKvLayers >= 0 && SharedKvLayers < Layers, "at least one layer must own its KV cache");
        Require(Sparsity > 0 && Sparsity < 1, "sparsity must be in (0, 1)");
        Require(SlidingWindow > 0 && Context > 0, "sliding window and context must be positive");
        if (SharedKvLayers > 0)
        {
            LayerKind[] kinds = LayerKinds();
            for (int i = FirstShared; i < Layers; i++)
            {
                Require(Array.LastIndexOf(kinds, kinds[i], FirstShared - 1) >= 0, $"shared layer {i} needs an earlier KV-owning {kinds[i]} layer");
            }
        }
    }
}
