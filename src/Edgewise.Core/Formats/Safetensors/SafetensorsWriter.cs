using System.Text.Json;
using Edgewise.Core.IO;

namespace Edgewise.Core.Formats.Safetensors;

/// <summary>
/// Writes one .safetensors file: header (padded with spaces to 8 bytes, like the reference writer), then each
/// tensor's data contiguously in declaration order. Data callbacks run during <see cref="Write"/> so large
/// synthetic checkpoints stream to disk.
/// </summary>
public sealed class SafetensorsWriter
{
    private readonly string _path;
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private readonly List<(string Name, SafetensorsDtype Dtype, long[] Shape, long ByteSize, Action<Stream>? WriteData)> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public SafetensorsWriter(string path)
    {
        _path = path;
    }

    /// <summary>An entry of <c>__metadata__</c> (e.g. <c>format</c> = <c>pt</c>).</summary>
    public void AddMetadata(string key, string value) => _metadata[key] = value;

    /// <summary>Declares a tensor; pass null <paramref name="writeData"/> to leave zeros.</summary>
    /// <param name="shape">Hugging Face order (outermost first).</param>
    public void AddTensor(string name, SafetensorsDtype dtype, long[] shape, Action<Stream>? writeData)
    {
        if (name == "__metadata__" || !_names.Add(name)) throw new ArgumentException($"Tensor name '{name}' is reserved or already added.", nameof(name));
        long bytes = SafetensorsDtypeInfo.ElementSize(dtype);
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor '{name}' has a negative dimension.", nameof(shape));
            bytes = checked(bytes * d);
        }
        _tensors.Add((name, dtype, (long[])shape.Clone(), bytes, writeData));
    }

    public void AddTensor(string name, SafetensorsDtype dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        AddTensor(name, dtype, shape, stream => stream.Write(data.Span));
        if (_tensors[^1].ByteSize != data.Length)
        {
            long expected = _tensors[^1].ByteSize;
            _tensors.RemoveAt(_tensors.Count - 1);
            _names.Remove(name);
            throw new ArgumentException($"Tensor '{name}' ({dtype}, [{string.Join(", ", shape)}]) needs {expected} bytes, got {data.Length}.", nameof(data));
        }
    }

    /// <summary>Writes the file and returns its length.</summary>
    public long Write()
    {
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach ((string key, string value) in _metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.Dtype.ToString());
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteSize);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteSize;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        using var file = new FileStream(_path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        Span<byte> length = stackalloc byte[8];
        BitConverter.TryWriteBytes(length, (ulong)header.Length);
        file.Write(length);
        header.Position = 0;
        header.CopyTo(file);
        foreach (var t in _tensors)
        {
            if (t.WriteData is null)
            {
                file.Seek(t.ByteSize, SeekOrigin.Current);
                continue;
            }
            var bounded = new BoundedWriteStream(file, t.Name, t.ByteSize);
            t.WriteData(bounded);
            if (bounded.Written != t.ByteSize)
            {
                throw new InvalidOperationException($"Tensor '{t.Name}' needs {t.ByteSize} bytes; its writer wrote {bounded.Written}.");
            }
        }
        file.SetLength(file.Position);
        return file.Length;
    }

    /// <summary>Writes a <c>model.safetensors.index.json</c> mapping each tensor name to its shard's file name.</summary>
    public static void WriteIndex(string path, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach ((string name, string shard) in weightMap.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(name, shard);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
