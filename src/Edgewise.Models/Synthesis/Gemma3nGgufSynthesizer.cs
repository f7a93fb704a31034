using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Writes a seeded random-weight Gemma 3n GGUF with exactly the keys, tensor names and shapes llama.cpp's converter
/// produces (spec §5.3-5.5), streaming tensor by tensor so an E2B-shape file never sits in memory.
/// </summary>
public static class Gemma3nGgufSynthesizer
{
    /// <param name="writeTokenizer">
    /// Writes the <c>tokenizer.ggml.*</c> keys of a tokenizer with exactly <c>spec.Vocab</c> pieces; null embeds the
    /// built-in <see cref="SynthVocabulary"/>.
    /// </param>
    /// <returns>Bytes written.</returns>
    public static long Write(Gemma3nSynthSpec spec, string path, Action<GgufWriter>? writeTokenizer = null)
    {
        List<SynthTensor> plan = Gemma3nTensorPlan.Build(spec);
        using var w = new GgufWriter(path);
        WriteMetadata(spec, w);
        if (writeTokenizer is null) SynthVocabulary.BuiltIn(spec.Vocab).WriteTo(w);
        else writeTokenizer(w);
        foreach (SynthTensor t in plan)
        {
            SynthTensor tensor = t;
            w.AddTensor(t.Name, t.Type, t.Shape, stream => Gemma4GgufSynthesizer.WriteValues(tensor, spec.Seed, spec.RoundThrough, stream));
        }
        return w.Write();
    }

    private static void WriteMetadata(Gemma3nSynthSpec s, GgufWriter w)
    {
        const string k = Gemma3nConfig.ArchitectureName + ".";
        LayerKind[] kinds = s.LayerKinds();
        int[] ffn = s.FfnWidths();
        w.AddString("general.architecture", Gemma3nConfig.ArchitectureName);
        w.AddString("general.name", s.Name);
        w.AddUInt32("general.file_type", Gemma4GgufSynthesizer.FileType(s.Dtype));
        w.AddUInt32(k + "context_length", (uint)s.Context);
        w.AddUInt32(k + "embedding_length", (uint)s.Hidden);
        w.AddUInt32(k + "block_count", (uint)s.Layers);
        if (ffn.Distinct().Count() == 1) w.AddUInt32(k + "feed_forward_length", (uint)ffn[0]);
        else w.AddArray<int>(k + "feed_forward_length", ffn);
        w.AddUInt32(k + "attention.head_count", (uint)s.Heads);
        w.AddUInt32(k + "attention.head_count_kv", (uint)s.KvHeads);
        w.AddUInt32(k + "attention.key_length", (uint)s.HeadDim);
        w.AddUInt32(k + "attention.value_length", (uint)s.HeadDim);
        w.AddFloat32(k + "rope.freq_base", s.RopeThetaFull);
        w.AddFloat32(k + "rope.freq_base_swa", s.RopeThetaSliding);
        w.AddFloat32(k + "attention.layer_norm_rms_epsilon", 1e-6f);
        w.AddUInt32(k + "attention.sliding_window", (uint)s.SlidingWindow);
        var sliding = new bool[s.Layers];
        for (int i = 0; i < s.Layers; i++) sliding[i] = kinds[i] == LayerKind.Sliding;
        w.AddArray<bool>(k + "attention.sliding_window_pattern", sliding);
        w.AddUInt32(k + "attention.shared_kv_layers", (uint)s.SharedKvLayers);
        w.AddFloat32(k + "final_logit_softcapping", s.Softcap);
        w.AddUInt32(k + "embedding_length_per_layer_input", (uint)s.Ple);
        w.AddUInt32(k + "altup.active_idx", (uint)s.AltUpActiveIndex);
        w.AddUInt32(k + "altup.num_inputs", (uint)s.AltUpInputs);
        // The converter writes Φ⁻¹(pattern[l]): the std multiplier, −inf for dense layers.
        double[] pattern = s.SparsityPattern();
        var scale = new float[s.Layers];
        for (int i = 0; i < s.Layers; i++) scale[i] = pattern[i] > 0 ? (float)Gemma3nConfig.NormalQuantile(pattern[i]) : float.NegativeInfinity;
        w.AddArray<float>(k + "activation_sparsity_scale", scale);
    }
}
