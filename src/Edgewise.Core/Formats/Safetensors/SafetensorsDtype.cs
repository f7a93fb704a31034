using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Safetensors;

/// <summary>Element types a safetensors header may name (spelled as in the format).</summary>
public enum SafetensorsDtype
{
    BOOL,
    U8,
    I8,
    U16,
    I16,
    F16,
    BF16,
    U32,
    I32,
    F32,
    U64,
    I64,
    F64,
    F8_E4M3,
    F8_E5M2,
}

public static class SafetensorsDtypeInfo
{
    public static int ElementSize(SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.BOOL or SafetensorsDtype.U8 or SafetensorsDtype.I8 or SafetensorsDtype.F8_E4M3 or SafetensorsDtype.F8_E5M2 => 1,
        SafetensorsDtype.U16 or SafetensorsDtype.I16 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 => 2,
        SafetensorsDtype.U32 or SafetensorsDtype.I32 or SafetensorsDtype.F32 => 4,
        _ => 8,
    };

    /// <summary>The header spelling (e.g. "BF16") parsed, or null when it is not one of <see cref="SafetensorsDtype"/>.</summary>
    public static SafetensorsDtype? Parse(string text) => text switch
    {
        "BOOL" => SafetensorsDtype.BOOL,
        "U8" => SafetensorsDtype.U8,
        "I8" => SafetensorsDtype.I8,
        "U16" => SafetensorsDtype.U16,
        "I16" => SafetensorsDtype.I16,
        "F16" => SafetensorsDtype.F16,
        "BF16" => SafetensorsDtype.BF16,
        "U32" => SafetensorsDtype.U32,
        "I32" => SafetensorsDtype.I32,
        "F32" => SafetensorsDtype.F32,
        "U64" => SafetensorsDtype.U64,
        "I64" => SafetensorsDtype.I64,
        "F64" => SafetensorsDtype.F64,
        "F8_E4M3" => SafetensorsDtype.F8_E4M3,
        "F8_E5M2" => SafetensorsDtype.F8_E5M2,
        _ => null,
    };

    /// <summary>The ggml type with the same element layout, or null when ggml has none (unsigned, bool, fp8).</summary>
    public static GgmlType? ToGgmlType(SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F32 => GgmlType.F32,
        SafetensorsDtype.F16 => GgmlType.F16,
        SafetensorsDtype.BF16 => GgmlType.BF16,
        SafetensorsDtype.F64 => GgmlType.F64,
        SafetensorsDtype.I8 => GgmlType.I8,
        SafetensorsDtype.I16 => GgmlType.I16,
        SafetensorsDtype.I32 => GgmlType.I32,
        SafetensorsDtype.I64 => GgmlType.I64,
        _ => null,
    };
}

/// <summary>One tensor of a safetensors checkpoint.</summary>
/// <param name="Name">Hugging Face name (e.g. <c>model.language_model.layers.0.self_attn.q_proj.weight</c>).</param>
/// <param name="Shape">Hugging Face (row-major, outermost first) order.</param>
/// <param name="ShardPath">Full path of the file holding the data.</param>
/// <param name="Offset">Absolute byte offset of the data in <paramref name="ShardPath"/>.</param>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDtype Dtype, long[] Shape, string ShardPath, long Offset, long ByteSize)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }
}
