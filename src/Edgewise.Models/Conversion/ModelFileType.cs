using Edgewise.Core.Tensors;

namespace Edgewise.Models.Conversion;

/// <summary>
/// What a whole model file is "mostly" stored as: llama.cpp's <c>llama_ftype</c>, with its numeric values, which is
/// what <c>general.file_type</c> records. <see cref="Q4_K_M"/> is a mix (mostly Q4_K, some Q6_K), the others one type.
/// </summary>
public enum ModelFileType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 7,
    Q4_K_M = 15,
    BF16 = 32,
}

public static class ModelFileTypes
{
    /// <summary>The names the CLI accepts, lower case, in the order help lists them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m"];

    /// <summary>Parses a CLI spelling (<c>q4_k_m</c>, <c>Q8_0</c>, <c>bf16</c>, ...).</summary>
    public static ModelFileType Parse(string text) => text.ToLowerInvariant() switch
    {
        "f32" => ModelFileType.F32,
        "f16" => ModelFileType.F16,
        "bf16" => ModelFileType.BF16,
        "q8_0" => ModelFileType.Q8_0,
        "q4_0" => ModelFileType.Q4_0,
        "q4_k_m" => ModelFileType.Q4_K_M,
        _ => throw new ArgumentException($"Unknown model type '{text}'; expected one of {string.Join(", ", Names)}.", nameof(text)),
    };

    public static string Name(ModelFileType type) => type.ToString().ToLowerInvariant();

    /// <summary>The tensor type most matrices get (llama.cpp's <c>llama_ftype_get_default_type</c>).</summary>
    public static GgmlType DefaultTensorType(ModelFileType type) => type switch
    {
        ModelFileType.F32 => GgmlType.F32,
        ModelFileType.F16 => GgmlType.F16,
        ModelFileType.BF16 => GgmlType.BF16,
        ModelFileType.Q8_0 => GgmlType.Q8_0,
        ModelFileType.Q4_0 => GgmlType.Q4_0,
        ModelFileType.Q4_K_M => GgmlType.Q4_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a file type Edgewise writes."),
    };

    /// <summary>
    /// True for the block-quantized file types that <c>llama-quantize</c> produces (its per-tensor rules apply);
    /// false for the plain float types and Q8_0, which <c>convert_hf_to_gguf</c> writes directly.
    /// </summary>
    public static bool IsQuantizeOnly(ModelFileType type) => type is ModelFileType.Q4_0 or ModelFileType.Q4_K_M;

    /// <summary>Parses a single tensor type for overrides such as <c>--ple-type</c> (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k).</summary>
    public static GgmlType ParseTensorType(string text) => text.ToLowerInvariant() switch
    {
        "f32" => GgmlType.F32,
        "f16" => GgmlType.F16,
        "bf16" => GgmlType.BF16,
        "q8_0" => GgmlType.Q8_0,
        "q4_0" => GgmlType.Q4_0,
        "q5_0" => GgmlType.Q5_0,
        "q4_k" => GgmlType.Q4_K,
        "q5_k" => GgmlType.Q5_K,
        "q6_k" => GgmlType.Q6_K,
        _ => throw new ArgumentException($"Unknown tensor type '{text}'; expected f32, f16, bf16, q8_0, q4_0, q5_0, q4_k, q5_k or q6_k.", nameof(text)),
    };
}
