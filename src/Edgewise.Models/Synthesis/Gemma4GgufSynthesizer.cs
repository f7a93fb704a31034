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
    private const long SlabValues = 1 << 22;

    /// <param name="writeTokenizer">
    /// Writes the <c>tokenizer.ggml.*</c> keys of a tokenizer with exactly <c>spec.Vocab</c> pieces; null embeds the
    /// built-in <see cref="SynthVocabulary"/>.
    /// </param>
    /// <returns>Bytes written.</returns>
    public static long Write(Gemma4SynthSpec spec, string path, Action<GgufWriter>? writeTokenizer = null)
    {
        List<SynthTensor> plan = Gemma4TensorPlan.Build(spec);
        using var w = new GgufWriter(path);
        WriteMetadata(spec, w);
        if (writeTokenizer is null) SynthVocabulary.BuiltIn(spec.Vocab).WriteTo(w);
        else writeTokenizer(w);
        foreach (SynthTensor t in plan)
        {
            SynthTensor tensor = t;
            bool hole = spec.ZeroPerLayerTable && t.Name == Gemma4.Gemma4TensorNames.PerLayerTokenEmbedding;
            w.AddTensor(t.Name, t.Type, t.Shape, hole ? null : stream => WriteTensor(spec, tensor, stream));
        }
        return w.Write();
    }

    private static void WriteMetadata(Gemma4SynthSpec s, GgufWriter w)
    {
        var keys = new GemmaGgufKeys
        {
            Architecture = "gemma4", ContextLength = s.Context, HiddenSize = s.Hidden, FfnWidths = s.FfnWidths(),
            HeadCount = s.Heads, KvHeadCounts = s.KvHeadCounts(), HeadDim = s.HeadDimFull,
            RopeThetaFull = s.RopeThetaFull, RopeThetaSliding = s.RopeThetaSliding, RmsNormEps = 1e-6f,
            SlidingWindow = s.SlidingWindow, LayerKinds = s.LayerKinds(), SharedKvLayers = s.SharedKvLayers,
            FinalLogitSoftcap = s.Softcap, PerLayerInputSize = s.Ple,
        };
        string k = keys.Prefix;
        w.AddString("general.architecture", keys.Architecture);
        w.AddString("general.name", s.Name);
        w.AddUInt32("general.file_type", FileType(s.Dtype));
        keys.WriteSizes(w);
        w.AddUInt32(k + "attention.key_length_swa", (uint)s.HeadDim);
        w.AddUInt32(k + "attention.value_length_swa", (uint)s.HeadDim);
        w.AddUInt32(k + "rope.dimension_count", (uint)s.HeadDimFull);
        w.AddUInt32(k + "rope.dimension_count_swa", (uint)s.HeadDim);
        keys.WriteAttention(w);
        if (s.Experts > 0)
        {
            w.AddUInt32(k + "expert_count", (uint)s.Experts);
            w.AddUInt32(k + "expert_used_count", (uint)s.ExpertsUsed);
            w.AddUInt32(k + "expert_feed_forward_length", (uint)s.ExpertFfn);
        }
    }

    /// <summary>llama.cpp's <c>llama_ftype</c> for a file whose matrices are mostly <paramref name="type"/>.</summary>
    internal static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.Q4_K => 15,
        GgmlType.BF16 => 32,
        _ => 0,
    };

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
        WriteValues(t, spec.Seed, spec.RoundThrough, stream);
    }

    /// <summary>Streams a seeded tensor's values in its storage type, a slab of rows at a time (rows in parallel).</summary>
    internal static void WriteValues(SynthTensor t, ulong seed, GgmlType? roundThrough, Stream stream)
    {
        long rows = t.Rows, columns = t.Columns;
        long rowBytes = GgmlTypeInfo.RowBytes(t.Type, columns);
        int slabRows = (int)Math.Clamp(SlabValues / columns, 1, rows);
        var slab = new byte[slabRows * rowBytes];
        for (long row0 = 0; row0 < rows; row0 += slabRows)
        {
            int n = (int)Math.Min(slabRows, rows - row0);
            long first = row0;
            Parallel.For(0, n, () => new float[columns], (r, _, values) =>
            {
                Gemma4TensorPlan.Values(t, seed, (first + r) * columns, values);
                if (roundThrough is GgmlType through && t.Quantizable) RoundThrough(through, values);
                Quantizer.Quantize(t.Type, values, slab.AsSpan((int)(r * rowBytes), (int)rowBytes));
                return values;
            }, _ => { });
            stream.Write(slab, 0, (int)(n * rowBytes));
        }
    }

    /// <summary>Replaces values by what storing them as <paramref name="type"/> would give back.</summary>
    internal static void RoundThrough(GgmlType type, Span<float> values)
    {
        if (values.Length % GgmlTypeInfo.BlockSize(type) != 0) return;
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, values.Length)];
        Quantizer.Quantize(type, values, bytes);
        Dequantizer.DequantizeRow(type, bytes, values);
    }
}
