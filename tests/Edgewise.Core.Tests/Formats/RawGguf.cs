using System.Text;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Tests.Formats;

/// <summary>
/// Builds GGUF bytes field by field, including things <see cref="GgufWriter"/> refuses to write (duplicate keys,
/// lying counts, bad offsets), so malformed-input tests can say exactly what is wrong with each file.
/// Records where every length/count field landed so mutation tests can inflate them.
/// </summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _stream = new();
    private readonly BinaryWriter _w;

    public RawGguf(uint version = 3, ulong? tensorCount = null, ulong? kvCount = null, uint magic = 0x46554747)
    {
        _w = new BinaryWriter(_stream);
        _w.Write(magic);
        _w.Write(version);
        TensorCountOffset = _stream.Position;
        _w.Write(tensorCount ?? 0);
        KvCountOffset = _stream.Position;
        _w.Write(kvCount ?? 0);
    }

    public long TensorCountOffset { get; }
    public long KvCountOffset { get; }

    /// <summary>Offsets of every u64 length or count field written so far.</summary>
    public List<long> LengthFields { get; } = [];

    public long Position => _stream.Position;

    public RawGguf SetCounts(ulong tensors, ulong kvs)
    {
        long at = _stream.Position;
        _stream.Position = TensorCountOffset;
        _w.Write(tensors);
        _w.Write(kvs);
        _stream.Position = at;
        return this;
    }

    public RawGguf String(string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        LengthFields.Add(_stream.Position);
        _w.Write((ulong)bytes.Length);
        _w.Write(bytes);
        return this;
    }

    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf Bytes(params byte[] v) { _w.Write(v); return this; }

    public RawGguf Kv(string key, GgufValueType type) => String(key).U32((uint)type);

    public RawGguf KvU32(string key, uint v) => Kv(key, GgufValueType.UInt32).U32(v);

    public RawGguf KvString(string key, string v) => Kv(key, GgufValueType.String).String(v);

    public RawGguf ArrayHeader(GgufValueType elementType, ulong count)
    {
        U32((uint)elementType);
        LengthFields.Add(_stream.Position);
        return U64(count);
    }

    public RawGguf Tensor(string name, GgmlType type, ulong offset, params ulong[] shape)
    {
        String(name).U32((uint)shape.Length);
        foreach (ulong d in shape) U64(d);
        return U32((uint)type).U64(offset);
    }

    /// <summary>Pads to <paramref name="alignment"/> and appends <paramref name="dataBytes"/> bytes of data.</summary>
    public RawGguf Data(long dataBytes, int alignment = 32)
    {
        while (_stream.Position % alignment != 0) _w.Write((byte)0);
        for (long i = 0; i < dataBytes; i++) _w.Write((byte)(i * 7));
        return this;
    }

    public byte[] ToArray() => _stream.ToArray();
}
