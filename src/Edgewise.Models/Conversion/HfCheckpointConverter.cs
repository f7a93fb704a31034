using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Conversion;

/// <summary>Options of <see cref="HfCheckpointConverter.Convert"/>.</summary>
public sealed record ConvertOptions
{
    /// <summary>What matrices are stored as; the per-tensor choice follows <see cref="TensorTypeRules"/>.</summary>
    public ModelFileType Type { get; init; } = ModelFileType.BF16;

    /// <summary>The PLE table's (<c>per_layer_token_embd</c>) type, chosen apart from the rest; null = the rules' choice.</summary>
    public GgmlType? PerLayerEmbeddingType { get; init; }

    /// <summary>
    /// Writes the <c>tokenizer.*</c> keys (vocabulary, merges, special ids, chat template). It receives the model's
    /// vocabulary size (rows of <c>token_embd</c>) so it can pad. Edgewise.Models does not read tokenizers, so the
    /// caller supplies this (the CLI uses Edgewise.Text); null writes no tokenizer.
    /// </summary>
    public Action<GgufWriter, int>? WriteTokenizer { get; init; }

    /// <summary><c>general.name</c>; defaults to the checkpoint folder's name.</summary>
    public string? Name { get; init; }

    public int Threads { get; init; } = Environment.ProcessorCount;

    public IProgress<TensorProgress>? Progress { get; init; }
}

/// <summary>What a conversion or quantization wrote.</summary>
/// <param name="Ignored">Source tensors that were not written (unknown names), for the user to check.</param>
public sealed record ConversionResult(string Architecture, long Bytes, IReadOnlyList<(string Name, GgmlType Type)> Tensors, IReadOnlyList<string> Ignored)
{
    /// <summary>How many tensors of each type were written.</summary>
    public IReadOnlyDictionary<GgmlType, int> TypeCounts
    {
        get
        {
            var counts = new SortedDictionary<GgmlType, int>();
            foreach ((_, GgmlType type) in Tensors) counts[type] = counts.GetValueOrDefault(type) + 1;
            return counts;
        }
    }
}

/// <summary>
/// <c>edgewise convert</c>: a Hugging Face checkpoint directory (config.json + safetensors, F32/F16/BF16) to one GGUF
/// file, streaming tensor by tensor. The architecture comes from <c>config.json</c>'s <c>model_type</c>.
/// </summary>
public static class HfCheckpointConverter
{
    /// <summary>The <c>model_type</c> values this converter reads.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = ["gemma4", "gemma4_text", "gemma3n", "gemma3n_text"];

    public static ConversionResult Convert(string checkpointDirectory, string outputPath, ConvertOptions options)
    {
        string configPath = Path.Combine(checkpointDirectory, "config.json");
        if (!File.Exists(configPath))
        {
            throw ModelErrors.Field(checkpointDirectory, "config.json", "a Hugging Face config.json in the checkpoint directory", "none");
        }
        using JsonDocument config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        string modelType = config.RootElement.TryGetProperty("model_type", out JsonElement mt) ? mt.GetString() ?? "" : "";
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(checkpointDirectory);
        var hf = new HfTensors(checkpoint);
        ConversionPlan plan = modelType switch
        {
            "gemma4" or "gemma4_text" => Gemma4Conversion.Plan(config, hf, configPath),
            "gemma3n" or "gemma3n_text" => Gemma3nConversion.Plan(config, hf, configPath),
            _ => throw ModelErrors.Field(configPath, "model_type", "one of: " + string.Join(", ", ModelTypes), modelType.Length == 0 ? "nothing" : modelType),
        };

        var descriptors = new List<TensorDescriptor>(plan.Tensors.Count);
        foreach (PlannedTensor t in plan.Tensors) descriptors.Add(t.Descriptor);
        // Quantize-only types (Q4_0, Q4_K_M) are "convert, then llama-quantize": what llama-quantize leaves alone
        // keeps the type the checkpoint stores it in, except that the converter's F32 rule still applies.
        var rules = new TensorTypeRules(options.Type, descriptors, plan.LayerCount, plan.ExpertCount, options.PerLayerEmbeddingType);
        var types = new GgmlType[plan.Tensors.Count];
        for (int i = 0; i < types.Length; i++)
        {
            PlannedTensor t = plan.Tensors[i];
            TensorDescriptor d = t.Descriptor;
            if (ModelFileTypes.IsQuantizeOnly(options.Type) && TensorTypeRules.KeepsF32InConverter(d)) d = d with { Type = GgmlType.F32 };
            types[i] = rules.TargetType(d);
        }

        using var w = new GgufWriter(outputPath);
        w.AddString("general.architecture", plan.Architecture);
        w.AddString("general.name", options.Name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpointDirectory))));
        w.AddUInt32("general.file_type", (uint)options.Type);
        w.AddUInt32("general.quantization_version", GgufQuantizer.QuantizationVersion);
        plan.WriteHyperparameters(w);
        options.WriteTokenizer?.Invoke(w, plan.VocabSize);
        return WriteTensors(w, plan.Architecture, plan.Tensors, types, plan.Ignored, options.Threads, options.Progress);
    }

    internal static ConversionResult WriteTensors(GgufWriter w, string architecture, List<PlannedTensor> tensors, GgmlType[] types,
        IReadOnlyList<string> ignored, int threads, IProgress<TensorProgress>? progress)
    {
        long total = 0;
        for (int i = 0; i < tensors.Count; i++) total += GgmlTypeInfo.RowBytes(types[i], tensors[i].Columns) * tensors[i].RowCount;
        long done = 0;
        var written = new List<(string, GgmlType)>(tensors.Count);
        for (int i = 0; i < tensors.Count; i++)
        {
            PlannedTensor t = tensors[i];
            GgmlType type = types[i];
            int index = i + 1;
            written.Add((t.Name, type));
            w.AddTensor(t.Name, type, t.Shape, stream =>
            {
                if (t.Direct is TensorView view && view.Type == type) TensorEncoder.Copy(view, stream);
                else TensorEncoder.Write(stream, t.Rows, t.RowCount, t.Columns, type, threads);
                done += GgmlTypeInfo.RowBytes(type, t.Columns) * t.RowCount;
                progress?.Report(new TensorProgress(index, tensors.Count, t.Name, type, done, total));
            });
        }
        w.RowReadTensors = RowTables.Of(tensors.Select(t => t.Name));
        long bytes = w.Write();
        return new ConversionResult(architecture, bytes, written, ignored);
    }
}
