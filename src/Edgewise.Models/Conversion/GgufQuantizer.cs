using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Conversion;

/// <summary>Options of <see cref="GgufQuantizer.Quantize"/>.</summary>
public sealed record QuantizeOptions
{
    public ModelFileType Type { get; init; } = ModelFileType.Q4_K_M;

    /// <summary>The PLE table's type, chosen apart from the rest; null = the rules' choice.</summary>
    public GgmlType? PerLayerEmbeddingType { get; init; }

    public int Threads { get; init; } = Environment.ProcessorCount;

    public IProgress<TensorProgress>? Progress { get; init; }
}

/// <summary>
/// <c>edgewise quantize</c>: GGUF → GGUF with another type mix, like <c>llama-quantize</c> without an importance
/// matrix. Streams tensor by tensor from the memory-mapped input (never the whole model in memory); metadata is
/// copied with <c>general.file_type</c> and <c>general.quantization_version</c> set. Tensors whose type does not
/// change are copied byte for byte; others are decoded to floats row by row and re-encoded (so an already
/// quantized input is re-quantized, as <c>llama-quantize --allow-requantize</c> does).
/// </summary>
public static class GgufQuantizer
{
    /// <summary>ggml's <c>GGML_QNT_VERSION</c>: the block layouts Edgewise writes.</summary>
    public const uint QuantizationVersion = 2;

    public static ConversionResult Quantize(string inputPath, string outputPath, QuantizeOptions options)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
        {
            throw new ArgumentException($"Input and output are the same file ({inputPath}); the input is read while the output is written.", nameof(outputPath));
        }
        using GgufFile input = GgufFile.Open(inputPath);
        string architecture = input.GetStringOrDefault("general.architecture") ?? "";
        int layers = input.GetInt32OrDefault(architecture + ".block_count", 0);
        int experts = input.GetInt32OrDefault(architecture + ".expert_count", 0);

        var tensors = new List<PlannedTensor>(input.Tensors.Count);
        var descriptors = new List<TensorDescriptor>(input.Tensors.Count);
        foreach (GgufTensorInfo info in input.Tensors)
        {
            TensorView view = input.GetTensor(info.Name);
            long[] shape = (long[])view.Shape.Clone();
            var planned = new PlannedTensor(info.Name, shape, view.Type, RowsOrThrow(view), view);
            tensors.Add(planned);
            descriptors.Add(planned.Descriptor);
        }
        var rules = new TensorTypeRules(options.Type, descriptors, layers, experts, options.PerLayerEmbeddingType, TypeRuleSet.Quantize);
        var types = new GgmlType[tensors.Count];
        for (int i = 0; i < types.Length; i++) types[i] = rules.TargetType(descriptors[i]);

        using var w = new GgufWriter(outputPath, (int)input.Alignment);
        foreach (GgufMetadataEntry entry in input.MetadataEntries)
        {
            if (entry.Key is "general.file_type" or "general.quantization_version" or "general.alignment") continue;
            if (entry.Key.StartsWith("split.", StringComparison.Ordinal)) continue;
            w.AddValue(entry.Key, entry.Value);
        }
        w.AddUInt32("general.quantization_version", QuantizationVersion);
        w.AddUInt32("general.file_type", (uint)options.Type);
        return HfCheckpointConverter.WriteTensors(w, architecture, tensors, types, [], options.Threads, options.Progress);
    }

    /// <summary>Row decoding for tensors that may need it; a type Edgewise cannot decode fails only if it must change.</summary>
    private static RowSource RowsOrThrow(TensorView view)
    {
        if (Core.Quantization.Dequantizer.CanDequantize(view.Type)) return TensorEncoder.Rows(view);
        string name = view.Name;
        GgmlType type = view.Type;
        return (_, _) => throw new NotSupportedException($"Tensor '{name}' is stored as {type}, which Edgewise cannot decode to re-quantize it.");
    }
}
