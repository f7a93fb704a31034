using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Writes a seeded random-weight Gemma 4 GGUF with exactly the keys, tensor names and shapes llama.cpp's
/// converter produces, streaming: tensors are generated, quantized and written a slab of rows at a time (rows in
/// parallel), so an E2B-shape file never sits in memory.
/// </summary>
public static class Gemma4GgufSynthesizer
{
    /// <param name="writeTokenizer">
    /// Writes the <c>tokenizer.ggml.*</c> keys of a tokenizer with exactly <c>spec.Vocab</c> pieces; null embeds the
    /// built-in <see cref="SynthVocabulary"/>.
    /// </param>
    /// <returns>Bytes written.</returns>
    public static long Write(Gemma4SynthSpec spec, string path, Action<GgufWriter>? writeTokenizer = null)
    {
        List<SynthTensor> plan = Gemma4TensorPlan.Build(spec);
        return SynthFiles.WriteGguf(path, plan, spec.Vocab, w => WriteMetadata(spec, w), writeTokenizer,
            t => spec.ZeroPerLayerTable && t.Name == Gemma4.Gemma4TensorNames.PerLayerTokenEmbedding ? null : stream => WriteTensor(spec, t, stream));
    }

    private static void WriteMetadata(Gemma4SynthSpec s, GgufWriter w)
    {
        var keys = new GemmaGgufKeys
        {
            Architecture = Gemma4.Gemma4Config.ArchitectureName, ContextLength = s.Context, HiddenSize = s.Hidden, FfnWidths = s.FfnWidths(),
            HeadCount = s.Heads, KvHeadCounts = s.KvHeadCounts(), HeadDim = s.HeadDimFull,
            RopeThetaFull = s.RopeThetaFull, RopeThetaSliding = s.RopeThetaSliding, RmsNormEps = 1e-6f,
            SlidingWindow = s.SlidingWindow, LayerKinds = s.LayerKinds(), SharedKvLayers = s.SharedKvLayers,
            FinalLogitSoftcap = s.Softcap, PerLayerInputSize = s.Ple,
        };
        w.AddString("general.architecture", keys.Architecture);
        w.AddString("general.name", s.Name);
        w.AddUInt32("general.file_type", SynthFiles.FileType(s.Dtype));
        keys.WriteSizes(w);
        Gemma4Conversion.WriteSlidingDims(w, s.HeadDim, s.HeadDimFull, s.HeadDim);
        keys.WriteAttention(w);
        if (s.Experts > 0) Gemma4Conversion.WriteExperts(w, s.Experts, s.ExpertsUsed, s.ExpertFfn);
    }

    private static void WriteTensor(Gemma4SynthSpec spec, SynthTensor t, Stream stream)
    {
        long rows = t.Rows, columns = t.Columns;
        long rowBytes = GgmlTypeInfo.RowBytes(t.Type, columns);
        if (t.Init == SynthInit.RopeFreqs)
        {
            var factors = new float[columns];
            Gemma4TensorPlan.RopeFreqValues(spec, factors);
            var bytes = new byte[rowBytes];
            Quantizer.Quantize(GgmlType.F32, factors, bytes);
            stream.Write(bytes);
            return;
        }
        SynthFiles.WriteValues(t, spec.Seed, spec.RoundThrough, stream);
    }
}
