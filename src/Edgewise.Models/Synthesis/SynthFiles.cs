using System.Runtime.InteropServices;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Conversion;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// The file writing every synthesizer shares, whatever the architecture: the GGUF layout (metadata, tokenizer,
/// tensors streamed a slab at a time by the converter's <see cref="TensorEncoder"/>) and the HF checkpoint layout
/// (config.json plus one F32 model.safetensors). A tensor's values come from its name and the seed only
/// (<see cref="Gemma4TensorPlan.Values"/>), so both formats hold the same model.
/// </summary>
internal static class SynthFiles
{
    /// <summary>Writes a GGUF: metadata, the tokenizer keys, then each tensor of <paramref name="plan"/> in order.</summary>
    /// <param name="writeTokenizer">The <c>tokenizer.ggml.*</c> keys; null embeds the built-in <see cref="SynthVocabulary"/>.</param>
    /// <param name="tensorData">A tensor's data writer; null leaves the tensor as zeros.</param>
    /// <returns>Bytes written.</returns>
    public static long WriteGguf(string path, List<SynthTensor> plan, int vocab, Action<GgufWriter> writeMetadata,
        Action<GgufWriter>? writeTokenizer, Func<SynthTensor, Action<Stream>?> tensorData)
    {
        using var w = new GgufWriter(path);
        writeMetadata(w);
        if (writeTokenizer is null) SynthVocabulary.BuiltIn(vocab).WriteTo(w);
        else writeTokenizer(w);
        foreach (SynthTensor t in plan) w.AddTensor(t.Name, t.Type, t.Shape, tensorData(t));
        w.RowReadTensors = RowTables.Of(plan.Select(t => t.Name));
        return w.Write();
    }

    /// <summary>Creates <paramref name="directory"/> with its config.json, and the writer of its model.safetensors.</summary>
    public static SafetensorsWriter CreateCheckpoint(string directory, string configJson)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), configJson);
        var writer = new SafetensorsWriter(Path.Combine(directory, "model.safetensors"));
        writer.AddMetadata("format", "pt");
        return writer;
    }

    /// <summary>The HF (row-major, outermost first) shape of a ggml shape (innermost first).</summary>
    public static long[] HfShape(long[] ggmlShape)
    {
        var shape = new long[ggmlShape.Length];
        for (int i = 0; i < shape.Length; i++) shape[i] = ggmlShape[shape.Length - 1 - i];
        return shape;
    }

    /// <summary>Streams rows [firstRow, firstRow + rows) of a seeded tensor as F32 (the safetensors checkpoints).</summary>
    public static void WriteF32Rows(SynthTensor t, ulong seed, GgmlType? roundThrough, long firstRow, long rows, Stream stream)
    {
        long columns = t.Columns;
        var row = new float[columns];
        for (long r = firstRow; r < firstRow + rows; r++)
        {
            Gemma4TensorPlan.Values(t, seed, r * columns, row);
            if (roundThrough is { } through && t.Quantizable) RoundThrough(through, row);
            stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    /// <summary>Streams a seeded tensor's values in its storage type through the converter's slab encoder.</summary>
    public static void WriteValues(SynthTensor t, ulong seed, GgmlType? roundThrough, Stream stream)
    {
        long columns = t.Columns;
        TensorEncoder.Write(stream, (row, values) =>
        {
            Gemma4TensorPlan.Values(t, seed, row * columns, values);
            if (roundThrough is GgmlType through && t.Quantizable) RoundThrough(through, values);
        }, t.Rows, columns, t.Type, Environment.ProcessorCount);
    }

    /// <summary>Replaces values by what storing them as <paramref name="type"/> would give back.</summary>
    public static void RoundThrough(GgmlType type, Span<float> values)
    {
        if (values.Length % GgmlTypeInfo.BlockSize(type) != 0) return;
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, values.Length)];
        Quantizer.Quantize(type, values, bytes);
        Dequantizer.DequantizeRow(type, bytes, values);
    }

    /// <summary>llama.cpp's <c>llama_ftype</c> for a file whose matrices are mostly <paramref name="type"/>.</summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.Q4_K => 15,
        GgmlType.BF16 => 32,
        _ => 0,
    };
}
