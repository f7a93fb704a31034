using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Conversion;
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
        return SynthFiles.WriteGguf(path, plan, spec.Vocab, w => WriteMetadata(spec, w), writeTokenizer,
            t => stream => SynthFiles.WriteValues(t, spec.Seed, spec.RoundThrough, stream));
    }

    private static void WriteMetadata(Gemma3nSynthSpec s, GgufWriter w)
    {
        var keys = new GemmaGgufKeys
        {
            Architecture = Gemma3nConfig.ArchitectureName, ContextLength = s.Context, HiddenSize = s.Hidden,
            FfnWidths = s.FfnWidths(), HeadCount = s.Heads, KvHeadCounts = [s.KvHeads], HeadDim = s.HeadDim,
            RopeThetaFull = s.RopeThetaFull, RopeThetaSliding = s.RopeThetaSliding, RmsNormEps = 1e-6f,
            SlidingWindow = s.SlidingWindow, LayerKinds = s.LayerKinds(), SharedKvLayers = s.SharedKvLayers,
            FinalLogitSoftcap = s.Softcap, PerLayerInputSize = s.Ple,
        };
        string k = keys.Prefix;
        w.AddString("general.architecture", keys.Architecture);
        w.AddString("general.name", s.Name);
        w.AddUInt32("general.file_type", SynthFiles.FileType(s.Dtype));
        keys.WriteSizes(w);
        keys.WriteAttention(w);
        w.AddUInt32(k + "altup.active_idx", (uint)s.AltUpActiveIndex);
        w.AddUInt32(k + "altup.num_inputs", (uint)s.AltUpInputs);
        // The converter writes Φ⁻¹(pattern[l]): the std multiplier, −inf for dense layers.
        double[] pattern = s.SparsityPattern();
        var scale = new float[s.Layers];
        for (int i = 0; i < s.Layers; i++) scale[i] = pattern[i] > 0 ? (float)Gemma3nConfig.NormalQuantile(pattern[i]) : float.NegativeInfinity;
        w.AddArray<float>(k + "activation_sparsity_scale", scale);
    }
}
