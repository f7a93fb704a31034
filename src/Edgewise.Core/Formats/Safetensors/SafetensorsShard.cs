using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using Edgewise.Core.IO;

namespace Edgewise.Core.Formats.Safetensors;

/// <summary>
/// One memory-mapped .safetensors file: an 8-byte little-endian header length, a JSON header, then the data
/// region. The header is parsed with a forward-only JSON reader straight from the mapping.
/// </summary>
internal sealed unsafe class SafetensorsShard : IDisposable
{
    /// <summary>Largest header accepted (the reference implementation's limit), so a lying length cannot exhaust memory.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile _mapping;

    private SafetensorsShard(MappedFile mapping)
    {
        _mapping = mapping;
    }

    public string FilePath => _mapping.FilePath;

    public long Length => _mapping.Length;

    public long DataOffset { get; private set; }

    public List<SafetensorsTensorInfo> Tensors { get; } = [];

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public byte* Pointer => _mapping.Pointer;

    public static SafetensorsShard Open(string path)
    {
        var shard = new SafetensorsShard(MappedFile.Open(path));
        try
        {
            shard.Parse();
            return shard;
        }
        catch
        {
            shard.Dispose();
            throw;
        }
    }

    public void Dispose() => _mapping.Dispose();

    private SafetensorsFormatException Error(long offset, string detail) => new(FilePath, offset, detail);

    private void Parse()
    {
        long length = _mapping.Length;
        if (length < 8)
        {
            throw Error(0, $"file is {length} bytes; a safetensors file starts with an 8-byte header length.");
        }
        ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_mapping.Pointer, 8));
        if (headerBytes > MaxHeaderBytes)
        {
            throw Error(0, $"header length {headerBytes} exceeds the {MaxHeaderBytes}-byte limit; not a safetensors file or corrupt.");
        }
        if ((long)headerBytes > length - 8)
        {
            throw Error(0, $"header length {headerBytes} runs past the end of the file ({length} bytes).");
        }
        DataOffset = 8 + (long)headerBytes;
        var header = new ReadOnlySpan<byte>(_mapping.Pointer + 8, (int)headerBytes);
        if (!Utf8.IsValid(header))
        {
            throw Error(8, "header is not valid UTF-8 JSON.");
        }
        try
        {
            ParseHeader(header);
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(FilePath, 8 + (e.BytePositionInLine ?? 0), $"header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString throws this for escapes that decode to invalid UTF-16 (lone surrogates).
            throw new SafetensorsFormatException(FilePath, 8, $"header holds an undecodable string: {e.Message}", e);
        }
        ValidateDataRegion();
    }

    private void ParseHeader(ReadOnlySpan<byte> header)
    {
        var json = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 16 });
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            throw Error(8, "header must be a JSON object.");
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            long at = 8 + json.TokenStartIndex;
            string name = json.GetString()!;
            if (!names.Add(name))
            {
                throw Error(at, $"header names '{name}' twice.");
            }
            json.Read();
            if (name == "__metadata__")
            {
                ParseMetadata(ref json, at);
            }
            else
            {
                Tensors.Add(ParseTensor(ref json, name, at));
            }
        }
        if (json.TokenType != JsonTokenType.EndObject)
        {
            throw Error(8 + json.TokenStartIndex, $"expected a tensor name, found {json.TokenType}.");
        }
        // Anything after the closing brace must be whitespace padding (writers pad to 8 bytes with spaces).
        for (int i = (int)json.BytesConsumed; i < header.Length; i++)
        {
            if (header[i] is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0))
            {
                throw Error(8 + i, $"unexpected byte 0x{header[i]:X2} after the header's JSON object.");
            }
        }
    }

    private void ParseMetadata(ref Utf8JsonReader json, long at)
    {
        if (json.TokenType != JsonTokenType.StartObject)
        {
            throw Error(at, $"__metadata__ must be an object of strings, found {json.TokenType}.");
        }
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            string key = json.GetString()!;
            json.Read();
            if (json.TokenType != JsonTokenType.String)
            {
                throw Error(8 + json.TokenStartIndex, $"__metadata__ value of '{key}' must be a string, found {json.TokenType}.");
            }
            Metadata[key] = json.GetString()!;
        }
    }

    private SafetensorsTensorInfo ParseTensor(ref Utf8JsonReader json, string name, long at)
    {
        if (json.TokenType != JsonTokenType.StartObject)
        {
            throw Error(at, $"tensor '{name}' must be an object with dtype, shape and data_offsets, found {json.TokenType}.");
        }
        SafetensorsDtype? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            string field = json.GetString()!;
            json.Read();
            long fieldAt = 8 + json.TokenStartIndex;
            switch (field)
            {
                case "dtype":
                    string text = json.TokenType == JsonTokenType.String ? json.GetString()! : throw Error(fieldAt, $"tensor '{name}': dtype must be a string.");
                    dtype = SafetensorsDtypeInfo.Parse(text) ?? throw Error(fieldAt, $"tensor '{name}': unknown dtype \"{text}\"; expected one of {string.Join(", ", Enum.GetNames<SafetensorsDtype>())}.");
                    break;
                case "shape":
                    shape = ReadIntegers(ref json, name, field, fieldAt);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref json, name, field, fieldAt);
                    break;
                default:
                    json.Skip();
                    break;
            }
        }
        if (dtype is null || shape is null || offsets is null)
        {
            throw Error(at, $"tensor '{name}' lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        }
        if (offsets.Length != 2 || offsets[0] > offsets[1])
        {
            throw Error(at, $"tensor '{name}': data_offsets must be [begin, end] with begin <= end, found [{string.Join(", ", offsets)}].");
        }
        long bytes = SafetensorsDtypeInfo.ElementSize(dtype.Value);
        foreach (long d in shape)
        {
            if (d != 0 && bytes > long.MaxValue / d)
            {
                throw Error(at, $"tensor '{name}': shape [{string.Join(", ", shape)}] overflows 64 bits.");
            }
            bytes *= d;
        }
        if (offsets[1] - offsets[0] != bytes)
        {
            throw Error(at, $"tensor '{name}' ({dtype}, [{string.Join(", ", shape)}]) needs {bytes} bytes, but data_offsets [{offsets[0]}, {offsets[1]}) span {offsets[1] - offsets[0]}.");
        }
        if (offsets[1] > Length - DataOffset)
        {
            throw Error(at, $"tensor '{name}' data [{offsets[0]}, {offsets[1]}) runs past the data region ({Length - DataOffset} bytes).");
        }
        return new SafetensorsTensorInfo(name, dtype.Value, shape, FilePath, DataOffset + offsets[0], bytes);
    }

    private long[] ReadIntegers(ref Utf8JsonReader json, string name, string field, long at)
    {
        if (json.TokenType != JsonTokenType.StartArray)
        {
            throw Error(at, $"tensor '{name}': {field} must be an array of integers, found {json.TokenType}.");
        }
        var values = new List<long>(4);
        while (json.Read() && json.TokenType != JsonTokenType.EndArray)
        {
            if (json.TokenType != JsonTokenType.Number || !json.TryGetInt64(out long v) || v < 0)
            {
                throw Error(8 + json.TokenStartIndex, $"tensor '{name}': {field} must hold non-negative integers.");
            }
            values.Add(v);
        }
        return [.. values];
    }

    private void ValidateDataRegion()
    {
        long dataBytes = Length - DataOffset;
        var sorted = Tensors.ToArray();
        Array.Sort(sorted, (a, b) => a.Offset.CompareTo(b.Offset));
        SafetensorsTensorInfo? furthest = null;     // the non-empty tensor reaching furthest so far
        foreach (SafetensorsTensorInfo t in sorted)
        {
            long relative = t.Offset - DataOffset;
            if (relative > dataBytes - t.ByteSize)
            {
                throw Error(t.Offset, $"tensor '{t.Name}' data [{relative}, {relative + t.ByteSize}) runs past the data region ({dataBytes} bytes).");
            }
            if (t.ByteSize == 0) continue;
            if (furthest is not null && t.Offset < furthest.Offset + furthest.ByteSize)
            {
                throw Error(t.Offset, $"tensor '{t.Name}' data overlaps tensor '{furthest.Name}'.");
            }
            furthest = t;
        }
    }
}
