namespace Edgewise.Core.Formats.Gguf;

/// <summary>Metadata value type ids, as in the GGUF spec (<c>gguf_type</c> in ggml's gguf.h).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>Sizes and CLR type mapping of <see cref="GgufValueType"/>.</summary>
public static class GgufValueTypeInfo
{
    /// <summary>Bytes of a fixed-size scalar; 0 for String and Array.</summary>
    public static int ScalarSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    public static bool IsKnown(GgufValueType type) => (uint)type <= (uint)GgufValueType.Float64;

    public static bool IsInteger(GgufValueType type) => type is GgufValueType.UInt8 or GgufValueType.Int8
        or GgufValueType.UInt16 or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32
        or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>The GGUF element type stored as <typeparamref name="T"/>, or null when no GGUF type is one.</summary>
    public static GgufValueType? Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(byte)) return GgufValueType.UInt8;
        if (typeof(T) == typeof(sbyte)) return GgufValueType.Int8;
        if (typeof(T) == typeof(ushort)) return GgufValueType.UInt16;
        if (typeof(T) == typeof(short)) return GgufValueType.Int16;
        if (typeof(T) == typeof(uint)) return GgufValueType.UInt32;
        if (typeof(T) == typeof(int)) return GgufValueType.Int32;
        if (typeof(T) == typeof(float)) return GgufValueType.Float32;
        if (typeof(T) == typeof(bool)) return GgufValueType.Bool;
        if (typeof(T) == typeof(ulong)) return GgufValueType.UInt64;
        if (typeof(T) == typeof(long)) return GgufValueType.Int64;
        if (typeof(T) == typeof(double)) return GgufValueType.Float64;
        return null;
    }
}
