using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

/// <summary>
/// Hyperparameters of a Gemma 4 text decoder (HF <c>Gemma4TextConfig</c>, GGUF architecture <c>gemma4</c>),
/// parsed once, with the per-layer tables the forward pass needs computed up front.
/// Build one with <see cref="FromGguf"/> or <see cref="FromHfConfig"/>; nothing the file states is hard-coded.
/// </summary>
public sealed partial record Gemma4Config
{
    public const string ArchitectureName = "gemma4";

    public required int HiddenSize { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required float RmsNormEps { get; init; }

    /// <summary>Keys a sliding layer sees, the current position included (<c>p − W &lt; j ≤ p</c>).</summary>
    public required int SlidingWindow { get; init; }

    /// <summary>Final logit softcap (30 on every released model); 0 disables it.</summary>
    public required float FinalLogitSoftcap { get; init; }

    /// <summary>PLE width <c>P</c> (<c>hidden_size_per_layer_input</c>); 0 for models without per-layer embeddings.</summary>
    public required int PerLayerInputSize { get; init; }

    /// <summary>Rows of the PLE table (<c>vocab_size_per_layer_input</c>); ids at or above it use row 0.</summary>
    public required int PerLayerVocabSize { get; init; }

    public required int HeadDimFull { get; init; }
    public required int HeadDimSliding { get; init; }

    /// <summary>Rotated dimensions (ggml <c>n_rot</c>) of full and sliding layers.</summary>
    public required int RopeDimsFull { get; init; }
    public required int RopeDimsSliding { get; init; }
    public required float RopeThetaFull { get; init; }
    public required float RopeThetaSliding { get; init; }

    /// <summary>
    /// HF <c>partial_rotary_factor</c> of the full layers' proportional RoPE. GGUF files state the same thing
    /// as the <c>rope_freqs</c> tensor instead, which wins when present.
    /// </summary>
    public required float FullRopePartialFactor { get; init; }

    /// <summary>
    /// HF <c>attention_k_eq_v</c>: full layers take V from the raw K projection. GGUF states it by leaving out
    /// <c>attn_v</c>, so a GGUF config reports false and the missing tensor decides.
    /// </summary>
    public bool AttentionKEqV { get; init; }

    /// <summary>Trailing layers that own no KV cache and read an earlier layer's (HF <c>num_kv_shared_layers</c>).</summary>
    public required int SharedKvLayers { get; init; }

    public required int ExpertCount { get; init; }
    public required int ExpertsUsed { get; init; }
    public required int ExpertFfnWidth { get; init; }

    /// <summary>Per layer: sliding or full attention.</summary>
    public required LayerKind[] LayerKinds { get; init; }

    /// <summary>Per layer: KV heads (sliding layers use <c>num_key_value_heads</c>, full ones <c>num_global_key_value_heads</c>).</summary>
    public required int[] KvHeadCounts { get; init; }

    /// <summary>Per layer: dense MLP width (double on E2B's KV-shared layers, <c>use_double_wide_mlp</c>).</summary>
    public required int[] FfnWidths { get; init; }

    // ---- derived tables (filled by Derive) ----

    /// <summary>Per layer: head dim (<see cref="HeadDimSliding"/> or <see cref="HeadDimFull"/>).</summary>
    public int[] HeadDims { get; private init; } = [];

    /// <summary>Per layer: RoPE dims.</summary>
    public int[] RopeDims { get; private init; } = [];

    /// <summary>Per layer: the layer whose KV cache it reads: itself when it owns one, else the last earlier owner of the same kind.</summary>
    public int[] KvSourceLayers { get; private init; } = [];

    /// <summary>First layer that owns no KV cache (= <see cref="LayerCount"/> when nothing is shared).</summary>
    public int FirstSharedLayer => LayerCount - SharedKvLayers;

    public bool HasPerLayerInputs => PerLayerInputSize > 0;
    public bool IsMoe => ExpertCount > 0;
    public bool OwnsKv(int layer) => KvSourceLayers[layer] == layer;
    public int MaxHeadDim => Math.Max(HeadDimFull, HeadDimSliding);

    /// <summary>Fills the derived per-layer tables and checks that the numbers fit together.</summary>
    internal Gemma4Config Derive(string source)
    {
        int n = LayerCount;
        Check(source, "block_count", n > 0, "> 0", n);
        Check(source, "layer kinds", LayerKinds.Length == n, $"{n} entries", LayerKinds.Length);
        Check(source, "head_count_kv", KvHeadCounts.Length == n, $"{n} entries", KvHeadCounts.Length);
        Check(source, "feed_forward_length", FfnWidths.Length == n, $"{n} entries", FfnWidths.Length);
        Check(source, "shared_kv_layers", SharedKvLayers >= 0 && SharedKvLayers < n, $"0..{n - 1}", SharedKvLayers);
        Check(source, "embedding_length", HiddenSize > 0, "> 0", HiddenSize);
        var headDims = new int[n];
        var ropeDims = new int[n];
        var source2 = new int[n];
        for (int i = 0; i < n; i++)
        {
            bool full = LayerKinds[i] == LayerKind.Full;
            headDims[i] = full ? HeadDimFull : HeadDimSliding;
            ropeDims[i] = full ? RopeDimsFull : RopeDimsSliding;
            Check(source, $"layer {i} head_count_kv", KvHeadCounts[i] > 0 && HeadCount % KvHeadCounts[i] == 0,
                $"a divisor of head_count {HeadCount}", KvHeadCounts[i]);
            Check(source, $"layer {i} rope dims", ropeDims[i] > 0 && ropeDims[i] <= headDims[i] && ropeDims[i] % 2 == 0,
                $"even and <= head dim {headDims[i]}", ropeDims[i]);
            if (i < FirstSharedLayer)
            {
                source2[i] = i;
                continue;
            }
            // Same as HF Gemma4TextAttention: a shared layer reads the last KV-owning layer of its own type.
            int producer = -1;
            for (int j = FirstSharedLayer - 1; j >= 0; j--)
            {
                if (LayerKinds[j] == LayerKinds[i])
                {
                    producer = j;
                    break;
                }
            }
            Check(source, $"layer {i} KV source", producer >= 0, $"an earlier KV-owning {LayerKinds[i]} layer", "none");
            Check(source, $"layer {i} KV heads", KvHeadCounts[producer] == KvHeadCounts[i],
                $"{KvHeadCounts[i]} (as its source layer {producer})", KvHeadCounts[producer]);
            source2[i] = producer;
        }
        if (ExpertCount > 0)
        {
            Check(source, "expert_used_count", ExpertsUsed > 0 && ExpertsUsed <= ExpertCount, $"1..{ExpertCount}", ExpertsUsed);
            Check(source, "expert_feed_forward_length", ExpertFfnWidth > 0, "> 0", ExpertFfnWidth);
        }
        return this with { HeadDims = headDims, RopeDims = ropeDims, KvSourceLayers = source2 };
    }

    private static void Check(string source, string field, bool ok, string expected, object found)
    {
        if (!ok)
        {
            throw ModelErrors.Field(source, field, expected, found.ToString() ?? "null");
        }
    }
}
