using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Edgewise.Core.Formats.Gguf;

/// <summary>
/// One metadata value of a <see cref="GgufFile"/>. Scalars and strings are decoded at open time; arrays of numbers
/// and strings stay in the mapped file and are decoded on request, so a 262k-entry vocabulary costs nothing until
/// the tokenizer asks for it. Valid until the owning file is disposed.
/// </summary>
public sealed unsafe class GgufValue
{
    private readonly GgufFile _owner;
    private readonly ulong _bits;            // scalar payload, little-endian bits zero-extended
    private readonly string? _string;
    private readonly byte* _data;            // array payload: raw elements, or the first string's length prefix
    private readonly long _dataBytes;        // bytes of the whole array payload
    private readonly GgufValue[]? _items;    // arrays of arrays

    internal GgufValue(GgufFile owner, string key, GgufValueType type, ulong bits, string? text)
    {
        _owner = owner;
        Key = key;
        Type = type;
        _bits = bits;
        _string = text;
    }

    internal GgufValue(GgufFile owner, string key, GgufValueType elementType, long length, byte* data, long dataBytes, GgufValue[]? items)
    {
        _owner = owner;
        Key = key;
        Type = GgufValueType.Array;
        ElementType = elementType;
        ArrayLength = length;
        _data = data;
        _dataBytes = dataBytes;
        _items = items;
    }

    /// <summary>The key this value belongs to (for an element of a nested array, <c>key[i]</c>).</summary>
    public string Key { get; }

    public GgufValueType Type { get; }

    /// <summary>Element type when <see cref="Type"/> is Array.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>Element count when <see cref="Type"/> is Array; 0 otherwise.</summary>
    public long ArrayLength { get; }

    public string AsString() => Type == GgufValueType.String ? _string! : throw Mismatch("String");

    public bool AsBool() => Type == GgufValueType.Bool ? _bits != 0 : throw Mismatch("Bool");

    // Integer getters accept any integer type whose value fits: converters disagree on u32 vs i32 for counts.
    public uint AsUInt32() => (uint)IntegerIn(uint.MinValue, uint.MaxValue, "UInt32");

    public int AsInt32() => (int)IntegerIn(int.MinValue, int.MaxValue, "Int32");

    public ulong AsUInt64() => (ulong)IntegerIn(ulong.MinValue, ulong.MaxValue, "UInt64");

    public long AsInt64() => (long)IntegerIn(long.MinValue, long.MaxValue, "Int64");

    public float AsFloat32() => Type switch
    {
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle((uint)_bits),
        GgufValueType.Float64 => (float)BitConverter.UInt64BitsToDouble(_bits),
        _ => throw Mismatch("Float32"),
    };

    public double AsFloat64() => Type switch
    {
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle((uint)_bits),
        GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(_bits),
        _ => throw Mismatch("Float64"),
    };

    /// <summary>
    /// The array's elements, viewed in place in the mapped file (zero copy; valid until the file is disposed).
    /// <typeparamref name="T"/> must be the stored element type exactly (e.g. <c>int</c> for Int32).
    /// </summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        CheckArrayOf<T>();
        if (ArrayLength > int.MaxValue)
        {
            throw new GgufFormatException(_owner.FilePath, -1, $"array '{Key}' has {ArrayLength} elements, more than one span holds.");
        }
        _owner.ThrowIfDisposed();
        return new ReadOnlySpan<T>(_data, (int)ArrayLength);
    }

    /// <summary>A copy of the array's elements. Bool arrays are normalised to true/false.</summary>
    public T[] AsArray<T>() where T : unmanaged
    {
        ReadOnlySpan<T> span = AsSpan<T>();
        if (typeof(T) == typeof(bool))
        {
            var flags = new bool[span.Length];
            ReadOnlySpan<byte> raw = MemoryMarshal.AsBytes(span);
            for (int i = 0; i < flags.Length; i++) flags[i] = raw[i] != 0;
            return (T[])(object)flags;
        }
        return span.ToArray();
    }

    /// <summary>The decoded elements of an array of strings.</summary>
    public string[] AsStringArray() => AsStringArray(int.MaxValue);

    /// <summary>The first <paramref name="maxCount"/> (or fewer) decoded elements of an array of strings.</summary>
    public string[] AsStringArray(int maxCount)
    {
        if (Type != GgufValueType.Array || ElementType != GgufValueType.String) throw Mismatch("Array of String");
        long count = Math.Min(ArrayLength, Math.Max(0, maxCount));
        if (count > Array.MaxLength) throw new GgufFormatException(_owner.FilePath, -1, $"array '{Key}' has {ArrayLength} strings, too many for one array.");
        _owner.ThrowIfDisposed();
        var result = new string[count];
        byte* p = _data;
        for (int i = 0; i < result.Length; i++)
        {
            // Lengths were bounds-checked when the file was opened.
            int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
            result[i] = Encoding.UTF8.GetString(p + 8, length);
            p += 8 + length;
        }
        return result;
    }

    /// <summary>The element values of an array of arrays.</summary>
    public IReadOnlyList<GgufValue> AsArrayOfValues()
    {
        if (Type != GgufValueType.Array || ElementType != GgufValueType.Array) throw Mismatch("Array of Array");
        return _items!;
    }

    /// <summary>A short human-readable rendering: the value, or an array's type, length and first few elements.</summary>
    public string Describe(int maxItems = 6, int maxStringLength = 60)
    {
        if (Type != GgufValueType.Array) return DescribeScalar(maxStringLength);
        string header = $"[{ElementType} x {ArrayLength}]";
        return ArrayLength == 0 || maxItems <= 0 ? header : header + " " + DescribeElements(maxItems, maxStringLength);
    }

    /// <summary>The first <paramref name="maxItems"/> elements of an array, comma-separated, with "..." when cut.</summary>
    public string DescribeElements(int maxItems = 6, int maxStringLength = 60)
    {
        if (Type != GgufValueType.Array) throw Mismatch("Array");
        var text = new StringBuilder();
        long shown = Math.Min(ArrayLength, Math.Max(0, maxItems));
        if (ElementType == GgufValueType.Array)
        {
            for (int i = 0; i < shown; i++) text.Append(i == 0 ? "" : ", ").Append(_items![i].Describe(2, maxStringLength));
        }
        else if (ElementType == GgufValueType.String)
        {
            _owner.ThrowIfDisposed();
            byte* p = _data;
            for (int i = 0; i < shown; i++)
            {
                int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
                // Decode only a prefix: a long string is cut to maxStringLength characters anyway.
                text.Append(i == 0 ? "" : ", ").Append(Quote(Encoding.UTF8.GetString(p + 8, Math.Min(length, maxStringLength * 4)), maxStringLength, length > maxStringLength * 4 ? length : -1));
                p += 8 + length;
            }
        }
        else
        {
            _owner.ThrowIfDisposed();
            int size = GgufValueTypeInfo.ScalarSize(ElementType);
            for (int i = 0; i < shown; i++)
            {
                text.Append(i == 0 ? "" : ", ").Append(FormatScalar(ElementType, ReadBits(_data + (long)i * size, size)));
            }
        }
        if (shown < ArrayLength) text.Append(shown == 0 ? "..." : ", ...");
        return text.ToString();
    }

    public override string ToString() => Describe();

    // ---- internals shared with GgufFile and GgufWriter ----

    internal ulong RawBits => _bits;

    /// <summary>The raw payload of an array of scalars or strings, exactly as stored (after type and count).</summary>
    internal ReadOnlySpan<byte> RawArrayPayload
    {
        get
        {
            _owner.ThrowIfDisposed();
            return _dataBytes <= int.MaxValue
                ? new ReadOnlySpan<byte>(_data, (int)_dataBytes)
                : throw new GgufFormatException(_owner.FilePath, -1, $"array '{Key}' payload is {_dataBytes} bytes, too big to copy at once.");
        }
    }

    internal static ulong ReadBits(byte* p, int size) => size switch
    {
        1 => *p,
        2 => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(p, 2)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(p, 4)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8)),
    };

    private Int128 IntegerIn(Int128 min, Int128 max, string expected)
    {
        Int128 v = Type switch
        {
            GgufValueType.UInt8 or GgufValueType.UInt16 or GgufValueType.UInt32 or GgufValueType.UInt64 => (Int128)_bits,
            GgufValueType.Int8 => (sbyte)(byte)_bits,
            GgufValueType.Int16 => (short)(ushort)_bits,
            GgufValueType.Int32 => (int)(uint)_bits,
            GgufValueType.Int64 => (long)_bits,
            _ => throw Mismatch(expected),
        };
        if (v < min || v > max)
        {
            throw new GgufFormatException(_owner.FilePath, -1, $"key '{Key}': expected {expected}, found {Type} {v} which is out of range.");
        }
        return v;
    }

    private void CheckArrayOf<T>() where T : unmanaged
    {
        GgufValueType? wanted = GgufValueTypeInfo.Of<T>();
        if (wanted is null) throw new ArgumentException($"{typeof(T).Name} is not a GGUF element type.", nameof(T));
        if (Type != GgufValueType.Array || ElementType != wanted) throw Mismatch($"Array of {wanted}");
    }

    private GgufFormatException Mismatch(string expected)
    {
        string found = Type == GgufValueType.Array ? $"Array of {ElementType}" : Type.ToString();
        return new GgufFormatException(_owner.FilePath, -1, $"key '{Key}': expected {expected}, found {found}.");
    }

    private string DescribeScalar(int maxStringLength) =>
        Type == GgufValueType.String ? Quote(_string!, maxStringLength, -1) : FormatScalar(Type, _bits);

    private static string FormatScalar(GgufValueType type, ulong bits) => type switch
    {
        GgufValueType.Int8 => ((sbyte)(byte)bits).ToString(CultureInfo.InvariantCulture),
        GgufValueType.Int16 => ((short)(ushort)bits).ToString(CultureInfo.InvariantCulture),
        GgufValueType.Int32 => ((int)(uint)bits).ToString(CultureInfo.InvariantCulture),
        GgufValueType.Int64 => ((long)bits).ToString(CultureInfo.InvariantCulture),
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle((uint)bits).ToString("R", CultureInfo.InvariantCulture),
        GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(bits).ToString("R", CultureInfo.InvariantCulture),
        GgufValueType.Bool => bits != 0 ? "true" : "false",
        _ => bits.ToString(CultureInfo.InvariantCulture),
    };

    /// <param name="prefixOfBytes">When <paramref name="s"/> is only a decoded prefix, the whole value's byte length; else -1.</param>
    private static string Quote(string s, int maxLength, int prefixOfBytes)
    {
        string escaped = s.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t").Replace("\"", "\\\"");
        if (escaped.Length <= maxLength && prefixOfBytes < 0) return $"\"{escaped}\"";
        string size = prefixOfBytes < 0 ? $"{s.Length} chars" : $"{prefixOfBytes} bytes";
        return $"\"{escaped[..Math.Min(maxLength, escaped.Length)]}\"... ({size})";
    }
}
