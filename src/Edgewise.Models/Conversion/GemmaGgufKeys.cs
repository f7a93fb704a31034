using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Common;

namespace Edgewise.Models.Conversion;

/// <summary>
/// The <c>{arch}.*</c> hyperparameter keys Gemma 3n and Gemma 4 GGUFs share, in the order llama.cpp's converter writes
/// them (spec §5.3). The converter and the synthesizers both write through it, so their files cannot drift apart;
/// each architecture writes its own keys between <see cref="WriteSizes"/> and <see cref="WriteAttention"/> (Gemma 4's
/// sliding head and RoPE dims) and after them (AltUp, sparsity, experts).
/// </summary>
internal sealed record GemmaGgufKeys
{
    public required string Architecture { get; init; }
    public required int ContextLength { get; init; }
    public required int HiddenSize { get; init; }
    public required int[] FfnWidths { get; init; }
    public required int HeadCount { get; init; }
    public required int[] KvHeadCounts { get; init; }

    /// <summary><c>key_length</c> and <c>value_length</c> (of full-attention layers where they differ).</summary>
    public required int HeadDim { get; init; }

    public required float RopeThetaFull { get; init; }
    public required float RopeThetaSliding { get; init; }
    public required float RmsNormEps { get; init; }
    public required int SlidingWindow { get; init; }
    public required LayerKind[] LayerKinds { get; init; }
    public required int SharedKvLayers { get; init; }
    public required float FinalLogitSoftcap { get; init; }
    public required int PerLayerInputSize { get; init; }

    /// <summary>The key prefix, <c>{arch}.</c>.</summary>
    public string Prefix => Architecture + ".";

    /// <summary><c>context_length</c> .. <c>attention.value_length</c>.</summary>
    public void WriteSizes(GgufWriter w)
    {
        string k = Prefix;
        w.AddUInt32(k + "context_length", (uint)ContextLength);
        w.AddUInt32(k + "embedding_length", (uint)HiddenSize);
        w.AddUInt32(k + "block_count", (uint)LayerKinds.Length);
        AddScalarOrArray(w, k + "feed_forward_length", FfnWidths);
        w.AddUInt32(k + "attention.head_count", (uint)HeadCount);
        AddScalarOrArray(w, k + "attention.head_count_kv", KvHeadCounts);
        w.AddUInt32(k + "attention.key_length", (uint)HeadDim);
        w.AddUInt32(k + "attention.value_length", (uint)HeadDim);
    }

    /// <summary><c>rope.freq_base</c> .. <c>embedding_length_per_layer_input</c>.</summary>
    public void WriteAttention(GgufWriter w)
    {
        string k = Prefix;
        w.AddFloat32(k + "rope.freq_base", RopeThetaFull);
        w.AddFloat32(k + "rope.freq_base_swa", RopeThetaSliding);
        w.AddFloat32(k + "attention.layer_norm_rms_epsilon", RmsNormEps);
        w.AddUInt32(k + "attention.sliding_window", (uint)SlidingWindow);
        var sliding = new bool[LayerKinds.Length];
        for (int i = 0; i < sliding.Length; i++) sliding[i] = LayerKinds[i] == LayerKind.Sliding;
        w.AddArray<bool>(k + "attention.sliding_window_pattern", sliding);
        w.AddUInt32(k + "attention.shared_kv_layers", (uint)SharedKvLayers);
        w.AddFloat32(k + "final_logit_softcapping", FinalLogitSoftcap);
        w.AddUInt32(k + "embedding_length_per_layer_input", (uint)PerLayerInputSize);
    }

    /// <summary>A scalar when every layer agrees, else a per-layer Int32 array (as gguf-py writes Python int lists).</summary>
    private static void AddScalarOrArray(GgufWriter w, string key, int[] values)
    {
        bool uniform = true;
        for (int i = 1; i < values.Length; i++) uniform &= values[i] == values[0];
        if (uniform) w.AddUInt32(key, (uint)values[0]);
        else w.AddArray<int>(key, values);
    }
}
