using System.Buffers.Binary;
using System.Text;

namespace Edgewise.Core.Formats.Gguf;

/// <summary>
/// Bounds-checked little-endian cursor over a mapped GGUF. Every read checks the remaining length first and
/// throws <see cref="GgufFormatException"/> naming the offset and the field, so a truncated or lying header can
/// never read past the mapping.
/// </summary>
internal unsafe struct GgufReader
{
    private readonly byte* _base;
    private readonly long _length;
    private readonly string _file;

    public GgufReader(string file, byte* data, long length)
    {
        _file = file;
        _base = data;
        _length = length;
        Position = 0;
    }

    public long Position { get; private set; }

    public readonly long Remaining => _length - Position;

    public readonly byte* Current => _base + Position;

    public uint ReadUInt32(string field)
    {
        Need(4, field);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_base + Position, 4));
        Position += 4;
        return v;
    }

    public ulong ReadUInt64(string field)
    {
        Need(8, field);
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base + Position, 8));
        Position += 8;
        return v;
    }

    /// <summary>Raw bits of a 1/2/4/8-byte scalar.</summary>
    public ulong ReadScalarBits(int size, string field)
    {
        Need(size, field);
        ulong v = GgufValue.ReadBits(_base + Position, size);
        Position += size;
        return v;
    }

    /// <summary>A GGUF string: u64 byte length, then UTF-8 bytes (no terminator).</summary>
    public string ReadString(string field)
    {
        int length = ReadStringLength(field);
        string s = Encoding.UTF8.GetString(_base + Position, length);
        Position += length;
        return s;
    }

    /// <summary>Skip a string after validating its length against the remaining bytes.</summary>
    public void SkipString(string field)
    {
        int length = ReadStringLength(field);
        Position += length;
    }

    public void Skip(long bytes, string field)
    {
        Need(bytes, field);
        Position += bytes;
    }

    public readonly GgufFormatException Error(string detail) => new(_file, Position, detail);

    public readonly GgufFormatException ErrorAt(long offset, string detail) => new(_file, offset, detail);

    private int ReadStringLength(string field)
    {
        long start = Position;
        ulong length = ReadUInt64(field);
        if (length > (ulong)Remaining)
        {
            throw ErrorAt(start, $"{field}: string length {length} runs past the end of the file ({Remaining} bytes left).");
        }
        if (length > int.MaxValue)
        {
            throw ErrorAt(start, $"{field}: string length {length} exceeds the 2 GiB string limit.");
        }
        return (int)length;
    }

    private readonly void Need(long bytes, string field)
    {
        if (bytes > _length - Position)
        {
            throw new GgufFormatException(_file, Position,
                $"file truncated while reading {field}: needed {bytes} bytes, {_length - Position} left (file is {_length} bytes).");
        }
    }
}
