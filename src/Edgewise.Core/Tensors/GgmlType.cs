namespace Edgewise.Core.Tensors;

/// <summary>
/// Tensor element types, with ggml's numeric ids (ggml.h <c>enum ggml_type</c>) so that a GGUF's
/// type field maps straight onto this enum. Names keep ggml's spelling.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
}

/// <summary>Block geometry of each <see cref="GgmlType"/> (ggml's <c>type_traits</c> table).</summary>
public static class GgmlTypeInfo
{
    /// <summary>Values per block (1 for plain scalar types).</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.F64 => 1,
        GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 => 32,
        GgmlType.IQ4_NL or GgmlType.MXFP4 => 32,
        _ when IsKQuant(type) => 256,
        _ => throw new NotSupportedException($"ggml type {type} ({(uint)type}) has no known block layout."),
    };

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.F64 => 8,
        GgmlType.I8 => 1,
        GgmlType.I16 => 2,
        GgmlType.I32 => 4,
        GgmlType.I64 => 8,
        GgmlType.Q4_0 => 18,
        GgmlType.Q4_1 => 20,
        GgmlType.Q5_0 => 22,
        GgmlType.Q5_1 => 24,
        GgmlType.Q8_0 => 34,
        GgmlType.Q8_1 => 36,
        GgmlType.Q2_K => 84,
        GgmlType.Q3_K => 110,
        GgmlType.Q4_K => 144,
        GgmlType.Q5_K => 176,
        GgmlType.Q6_K => 210,
        GgmlType.Q8_K => 292,
        GgmlType.IQ4_NL => 18,
        GgmlType.IQ4_XS => 136,
        GgmlType.MXFP4 => 17,
        _ => throw new NotSupportedException($"ggml type {type} ({(uint)type}) has no known block layout."),
    };

    /// <summary>True for every id ggml defines, whether or not Edgewise computes with it.</summary>
    public static bool IsKnown(GgmlType type) => Enum.IsDefined(type);

    /// <summary>True when the block layout is known, so sizes can be computed (needed to read a file's table).</summary>
    public static bool HasKnownLayout(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.F64 or GgmlType.I8 or GgmlType.I16 or GgmlType.I32
            or GgmlType.I64 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0
            or GgmlType.Q8_1 or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K
            or GgmlType.Q8_K or GgmlType.IQ4_NL or GgmlType.IQ4_XS or GgmlType.MXFP4 => true,
        _ => false,
    };

    public static bool IsKQuant(GgmlType type) => type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K
        or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K or GgmlType.IQ4_XS;

    /// <summary>Bytes of one row of <paramref name="columns"/> values; the row length must be a whole number of blocks.</summary>
    public static long RowBytes(GgmlType type, long columns)
    {
        int bs = BlockSize(type);
        if (columns % bs != 0)
        {
            throw new ArgumentException($"A {type} row of {columns} values is not a whole number of {bs}-value blocks.", nameof(columns));
        }
        return columns / bs * BlockBytes(type);
    }
}
