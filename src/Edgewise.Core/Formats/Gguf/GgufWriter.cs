using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Edgewise.Core.IO;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Gguf;

/// <summary>
/// Writes a GGUF v3 file in one streaming pass: header, metadata and tensor table first, then each tensor's data in
/// declaration order, each padded to the alignment. Tensor data comes from callbacks invoked during
/// <see cref="Write"/>, so multi-GB files stream without holding their data in memory.
/// </summary>
public sealed class GgufWriter : IDisposable
{
    private readonly string _path;
    private readonly List<(string Key, GgufValueType Type, Action<BinaryWriter> WritePayload)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private int _alignment;
    private bool _written;

    /// <param name="path">Destination file (created or overwritten by <see cref="Write"/>).</param>
    /// <param name="alignment">Data alignment; anything but 32 is recorded as <c>general.alignment</c>.</param>
    public GgufWriter(string path, int alignment = GgufFile.DefaultAlignment)
    {
        if (alignment <= 0 || !BitOperations.IsPow2(alignment))
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Alignment must be a positive power of two.");
        }
        _path = path;
        _alignment = alignment;
    }

    public void AddString(string key, string value) => Add(key, GgufValueType.String, w => WriteString(w, value));
    public void AddBool(string key, bool value) => Add(key, GgufValueType.Bool, w => w.Write(value));
    public void AddUInt8(string key, byte value) => Add(key, GgufValueType.UInt8, w => w.Write(value));
    public void AddInt8(string key, sbyte value) => Add(key, GgufValueType.Int8, w => w.Write(value));
    public void AddUInt16(string key, ushort value) => Add(key, GgufValueType.UInt16, w => w.Write(value));
    public void AddInt16(string key, short value) => Add(key, GgufValueType.Int16, w => w.Write(value));
    public void AddInt32(string key, int value) => Add(key, GgufValueType.Int32, w => w.Write(value));
    public void AddUInt64(string key, ulong value) => Add(key, GgufValueType.UInt64, w => w.Write(value));
    public void AddInt64(string key, long value) => Add(key, GgufValueType.Int64, w => w.Write(value));
    public void AddFloat32(string key, float value) => Add(key, GgufValueType.Float32, w => w.Write(value));
    public void AddFloat64(string key, double value) => Add(key, GgufValueType.Float64, w => w.Write(value));

    /// <summary>Adds a UInt32; <c>general.alignment</c> also sets the data alignment.</summary>
    public void AddUInt32(string key, uint value)
    {
        if (key == "general.alignment")
        {
            if (value == 0 || !BitOperations.IsPow2(value) || value > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "general.alignment must be a power of two.");
            }
            _alignment = (int)value;
        }
        Add(key, GgufValueType.UInt32, w => w.Write(value));
    }

    public void AddStringArray(string key, IReadOnlyList<string> values)
    {
        string[] copy = [.. values];
        Add(key, GgufValueType.Array, w =>
        {
            w.Write((uint)GgufValueType.String);
            w.Write((ulong)copy.Length);
            foreach (string s in copy) WriteString(w, s);
        });
    }

    /// <summary>An array of numbers or bools; the GGUF element type follows <typeparamref name="T"/>.</summary>
    public void AddArray<T>(string key, ReadOnlySpan<T> values) where T : unmanaged
    {
        GgufValueType elementType = ElementTypeOf<T>();
        byte[] payload = MemoryMarshal.AsBytes(values).ToArray();
        long count = values.Length;
        Add(key, GgufValueType.Array, w =>
        {
            w.Write((uint)elementType);
            w.Write((ulong)count);
            w.Write(payload);
        });
    }

    /// <summary>An array whose elements are arrays of numbers (GGUF allows nesting; few files use it).</summary>
    public void AddArrayOfArrays<T>(string key, IReadOnlyList<T[]> arrays) where T : unmanaged
    {
        GgufValueType elementType = ElementTypeOf<T>();
        byte[][] payloads = [.. arrays.Select(a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray())];
        int[] counts = [.. arrays.Select(a => a.Length)];
        Add(key, GgufValueType.Array, w =>
        {
            w.Write((uint)GgufValueType.Array);
            w.Write((ulong)payloads.Length);
            for (int i = 0; i < payloads.Length; i++)
            {
                w.Write((uint)elementType);
                w.Write((ulong)counts[i]);
                w.Write(payloads[i]);
            }
        });
    }

    /// <summary>
    /// Copies a value read from another GGUF (e.g. when converting or quantizing a model). The source file must
    /// stay open until <see cref="Write"/> returns.
    /// </summary>
    public void AddValue(string key, GgufValue value)
    {
        if (key == "general.alignment" && value.Type == GgufValueType.UInt32)
        {
            AddUInt32(key, value.AsUInt32());
            return;
        }
        Add(key, value.Type, w => WriteValuePayload(w, value));
    }

    /// <summary>
    /// Declares a tensor. <paramref name="writeData"/> is called during <see cref="Write"/> and must write exactly
    /// the tensor's byte size; pass null to leave the data as zeros (a sparse hole where the file system allows).
    /// </summary>
    /// <param name="shape">ggml order: <c>shape[0]</c> is the row length.</param>
    public void AddTensor(string name, GgmlType type, long[] shape, Action<Stream>? writeData)
    {
        if (!_tensorNames.Add(name)) throw new ArgumentException($"Tensor '{name}' was already added.", nameof(name));
        if (shape.Length > 4) throw new ArgumentException($"Tensor '{name}' has {shape.Length} dimensions; GGUF allows at most 4.", nameof(shape));
        long elements = 1;
        foreach (long d in shape)
        {
            if (d <= 0) throw new ArgumentException($"Tensor '{name}' has a non-positive dimension in [{string.Join(", ", shape)}].", nameof(shape));
            elements = checked(elements * d);
        }
        long columns = shape.Length > 0 ? shape[0] : 1;
        long byteSize = checked(GgmlTypeInfo.RowBytes(type, columns) * (elements / columns));
        _tensors.Add(new PendingTensor(name, type, (long[])shape.Clone(), byteSize, writeData));
    }

    /// <summary>Declares a tensor whose bytes are already in memory (already in <paramref name="type"/>'s layout).</summary>
    public void AddTensor(string name, GgmlType type, long[] shape, ReadOnlyMemory<byte> data)
    {
        AddTensor(name, type, shape, stream => stream.Write(data.Span));
        long expected = _tensors[^1].ByteSize;
        if (data.Length != expected)
        {
            _tensors.RemoveAt(_tensors.Count - 1);
            _tensorNames.Remove(name);
            throw new ArgumentException($"Tensor '{name}' ({type}, [{string.Join(", ", shape)}]) needs {expected} bytes, got {data.Length}.", nameof(data));
        }
    }

    /// <summary>
    /// Tensors that readers take a row at a time (a PLE table, an untied embedding, experts): written in small pieces,
    /// so the page cache keeps them in small folios; everything else goes out in aligned 4 MiB chunks and stays
    /// cached in 2 MiB folios, which a mapping gets as huge pages (see <see cref="ChunkedWriteStream"/>).
    /// </summary>
    public IReadOnlySet<string> RowReadTensors { get; set; } = new HashSet<string>();

    /// <summary>Writes the whole file. Returns the number of bytes written.</summary>
    public long Write()
    {
        if (_written) throw new InvalidOperationException("GgufWriter.Write was already called.");
        if (_alignment != GgufFile.DefaultAlignment && !_keys.Contains("general.alignment"))
        {
            AddUInt32("general.alignment", (uint)_alignment);
        }
        _written = true;

        var offsets = new long[_tensors.Count];
        long dataSize = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = dataSize;
            dataSize = AlignUp(dataSize + _tensors[i].ByteSize, _alignment);
        }

        // Aligned 4 MiB writes: the new file stays in the page cache as 2 MiB folios, which map as huge pages.
        using var file = ChunkedWriteStream.Create(_path);
        using (var header = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
        {
            header.Write("GGUF"u8);
            header.Write(3u);
            header.Write((ulong)_tensors.Count);
            header.Write((ulong)_metadata.Count);
            foreach ((string key, GgufValueType type, Action<BinaryWriter> payload) in _metadata)
            {
                WriteString(header, key);
                header.Write((uint)type);
                payload(header);
            }
            for (int i = 0; i < _tensors.Count; i++)
            {
                PendingTensor t = _tensors[i];
                WriteString(header, t.Name);
                header.Write((uint)t.Shape.Length);
                foreach (long d in t.Shape) header.Write((ulong)d);
                header.Write((uint)t.Type);
                header.Write((ulong)offsets[i]);
            }
            header.Flush();
        }

        long dataOffset = AlignUp(file.Position, _alignment);
        WriteZeros(file, dataOffset - file.Position);
        for (int i = 0; i < _tensors.Count; i++)
        {
            PendingTensor t = _tensors[i];
            long start = dataOffset + offsets[i];
            if (t.WriteData is null)
            {
                // Leave a hole: seeking past unwritten bytes reads back as zeros.
                file.Seek(start + t.ByteSize, SeekOrigin.Begin);
                continue;
            }
            WriteZeros(file, start - file.Position);
            file.SmallPieces = RowReadTensors.Contains(t.Name);
            var bounded = new BoundedWriteStream(file, t.Name, t.ByteSize);
            t.WriteData(bounded);
            if (bounded.Written != t.ByteSize)
            {
                throw new InvalidOperationException($"Tensor '{t.Name}' ({t.Type}, [{string.Join(", ", t.Shape)}]) needs {t.ByteSize} bytes; its writer wrote {bounded.Written}.");
            }
        }
        long total = dataOffset + dataSize;
        file.SetLength(total);
        return total;
    }

    public void Dispose()
    {
        // Nothing is held open between calls; present so callers can scope the writer with `using`.
    }

    private void Add(string key, GgufValueType type, Action<BinaryWriter> payload)
    {
        if (_written) throw new InvalidOperationException("Cannot add metadata after Write.");
        if (!_keys.Add(key)) throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        _metadata.Add((key, type, payload));
    }

    private static GgufValueType ElementTypeOf<T>() where T : unmanaged =>
        GgufValueTypeInfo.Of<T>() ?? throw new ArgumentException($"{typeof(T).Name} is not a GGUF element type.", nameof(T));

    private static void WriteValuePayload(BinaryWriter w, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.String:
                WriteString(w, value.AsString());
                break;
            case GgufValueType.Array:
                w.Write((uint)value.ElementType);
                w.Write((ulong)value.ArrayLength);
                if (value.ElementType == GgufValueType.Array)
                {
                    foreach (GgufValue item in value.AsArrayOfValues()) WriteValuePayload(w, item);
                }
                else
                {
                    w.Write(value.RawArrayPayload);
                }
                break;
            default:
                Span<byte> bits = stackalloc byte[8];
                BitConverter.TryWriteBytes(bits, value.RawBits);
                w.Write(bits[..GgufValueTypeInfo.ScalarSize(value.Type)]);
                break;
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteZeros(Stream stream, long count)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            stream.Write(zeros[..n]);
            count -= n;
        }
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Shape, long ByteSize, Action<Stream>? WriteData);
}
