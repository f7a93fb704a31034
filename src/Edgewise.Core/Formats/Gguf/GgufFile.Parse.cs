using System.Numerics;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Gguf;

// Header parsing and validation. Layout (GGUF v2/v3, little-endian):
//   magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count | kv_count x (string key, u32 type, value)
//   | tensor_count x (string name, u32 n_dims, n_dims x u64 ne, u32 ggml_type, u64 offset) | pad to alignment | data
public sealed unsafe partial class GgufFile
{
    private const uint Magic = 0x46554747;           // "GGUF" read little-endian
    private const int MaxDims = 4;                     // GGML_MAX_DIMS
    private const int MaxArrayNesting = 8;             // deeper nesting is never legitimate; bounds recursion
    private const long MinKvBytes = 8 + 4 + 1;         // empty key, type id, smallest value
    private const long MinTensorInfoBytes = 8 + 4 + 4 + 8; // empty name, n_dims = 0, type, offset

    private void Parse()
    {
        var reader = new GgufReader(FilePath, _base, _length);
        if (_length < 4)
        {
            throw reader.Error($"file is {_length} bytes; a GGUF file starts with the 4-byte magic \"GGUF\".");
        }
        uint magic = reader.ReadUInt32("magic");
        if (magic != Magic)
        {
            throw reader.ErrorAt(0, $"wrong magic: expected \"GGUF\" (47 47 55 46), found {_base[0]:X2} {_base[1]:X2} {_base[2]:X2} {_base[3]:X2}; not a GGUF file.");
        }

        uint version = reader.ReadUInt32("version");
        if (version == 1)
        {
            throw reader.ErrorAt(4, "GGUF version 1 is not supported (it used 32-bit counts); expected version 2 or 3. Re-convert the model with a current llama.cpp.");
        }
        if (version is 0x02000000 or 0x03000000)
        {
            throw reader.ErrorAt(4, "big-endian GGUF is not supported; expected a little-endian file.");
        }
        if (version is not (2 or 3))
        {
            throw reader.ErrorAt(4, $"unsupported GGUF version {version}; expected 2 or 3.");
        }
        Version = version;

        long tensorCountOffset = reader.Position;
        ulong tensorCount = reader.ReadUInt64("tensor count");
        long kvCountOffset = reader.Position;
        ulong kvCount = reader.ReadUInt64("metadata count");
        // Fail fast on absurd counts before allocating anything: every entry occupies at least a few bytes.
        if (kvCount > (ulong)(reader.Remaining / MinKvBytes))
        {
            throw reader.ErrorAt(kvCountOffset, $"metadata count {kvCount} cannot fit in the {reader.Remaining} bytes left in the file.");
        }
        if (tensorCount > (ulong)(reader.Remaining / MinTensorInfoBytes))
        {
            throw reader.ErrorAt(tensorCountOffset, $"tensor count {tensorCount} cannot fit in the {reader.Remaining} bytes left in the file.");
        }

        for (long i = 0; i < (long)kvCount; i++)
        {
            long keyOffset = reader.Position;
            string key = reader.ReadString($"key of metadata entry {i}");
            if (_metadata.ContainsKey(key))
            {
                throw reader.ErrorAt(keyOffset, $"duplicate metadata key '{key}'.");
            }
            long typeOffset = reader.Position;
            var type = (GgufValueType)reader.ReadUInt32($"type of '{key}'");
            GgufValue value = ReadValue(ref reader, key, type, typeOffset, depth: 0);
            _metadata.Add(key, value);
            _entries.Add(new GgufMetadataEntry(key, value));
        }

        if (_metadata.TryGetValue("general.alignment", out GgufValue? alignment))
        {
            if (alignment.Type != GgufValueType.UInt32)
            {
                throw new GgufFormatException(FilePath, -1, $"key 'general.alignment': expected UInt32, found {alignment.Type}.");
            }
            uint a = (uint)alignment.RawBits;
            if (a == 0 || !BitOperations.IsPow2(a))
            {
                throw new GgufFormatException(FilePath, -1, $"key 'general.alignment': expected a power of two, found {a}.");
            }
            Alignment = a;
        }

        for (long i = 0; i < (long)tensorCount; i++)
        {
            GgufTensorInfo info = ReadTensorInfo(ref reader, i);
            _tensors.Add(info);
            _tensorsByName.Add(info.Name, info);
        }

        long padding = (Alignment - reader.Position % Alignment) % Alignment;
        DataOffset = reader.Position + padding;
        ValidateDataRegion();
    }

    private GgufValue ReadValue(ref GgufReader reader, string key, GgufValueType type, long typeOffset, int depth)
    {
        switch (type)
        {
            case GgufValueType.String:
                return new GgufValue(this, key, type, 0, reader.ReadString($"value of '{key}'"));
            case GgufValueType.Array:
                return ReadArray(ref reader, key, depth);
            default:
                int size = GgufValueTypeInfo.ScalarSize(type);
                if (size == 0)
                {
                    throw reader.ErrorAt(typeOffset, $"key '{key}': unknown value type id {(uint)type}; expected 0..12.");
                }
                return new GgufValue(this, key, type, reader.ReadScalarBits(size, $"value of '{key}'"), null);
        }
    }

    private GgufValue ReadArray(ref GgufReader reader, string key, int depth)
    {
        long typeOffset = reader.Position;
        var elementType = (GgufValueType)reader.ReadUInt32($"element type of array '{key}'");
        long countOffset = reader.Position;
        ulong count = reader.ReadUInt64($"length of array '{key}'");
        if (!GgufValueTypeInfo.IsKnown(elementType))
        {
            throw reader.ErrorAt(typeOffset, $"array '{key}': unknown element type id {(uint)elementType}; expected 0..12.");
        }
        int minElementBytes = elementType switch
        {
            GgufValueType.String => 8,
            GgufValueType.Array => 4 + 8,
            _ => GgufValueTypeInfo.ScalarSize(elementType),
        };
        if (count > (ulong)(reader.Remaining / minElementBytes))
        {
            throw reader.ErrorAt(countOffset, $"array '{key}' claims {count} {elementType} elements, which cannot fit in the {reader.Remaining} bytes left.");
        }

        long length = (long)count;
        byte* start = reader.Current;
        long startPosition = reader.Position;
        GgufValue[]? items = null;
        if (elementType == GgufValueType.Array)
        {
            if (depth + 1 >= MaxArrayNesting)
            {
                throw reader.ErrorAt(typeOffset, $"array '{key}' nests arrays more than {MaxArrayNesting} deep.");
            }
            items = new GgufValue[length];
            for (long i = 0; i < length; i++)
            {
                items[i] = ReadArray(ref reader, $"{key}[{i}]", depth + 1);
            }
        }
        else if (elementType == GgufValueType.String)
        {
            for (long i = 0; i < length; i++)
            {
                reader.SkipString(key);
            }
        }
        else
        {
            reader.Skip(length * minElementBytes, $"array '{key}'");
        }
        return new GgufValue(this, key, elementType, length, start, reader.Position - startPosition, items);
    }

    private GgufTensorInfo ReadTensorInfo(ref GgufReader reader, long index)
    {
        long nameOffset = reader.Position;
        string name = reader.ReadString($"name of tensor {index}");
        if (_tensorsByName.ContainsKey(name))
        {
            throw reader.ErrorAt(nameOffset, $"duplicate tensor name '{name}'.");
        }

        long dimsOffset = reader.Position;
        uint dims = reader.ReadUInt32($"dimension count of tensor '{name}'");
        if (dims > MaxDims)
        {
            throw reader.ErrorAt(dimsOffset, $"tensor '{name}' has {dims} dimensions; expected at most {MaxDims}.");
        }
        var shape = new long[dims];
        long elements = 1;
        for (int d = 0; d < dims; d++)
        {
            long dimOffset = reader.Position;
            ulong ne = reader.ReadUInt64($"dimension {d} of tensor '{name}'");
            if (ne == 0 || ne > long.MaxValue)
            {
                throw reader.ErrorAt(dimOffset, $"tensor '{name}' dimension {d} is {(long)ne}; expected a positive size.");
            }
            shape[d] = (long)ne;
            if (elements > long.MaxValue / shape[d])
            {
                throw reader.ErrorAt(dimOffset, $"tensor '{name}' element count overflows 64 bits (shape [{string.Join(", ", shape[..(d + 1)])}]).");
            }
            elements *= shape[d];
        }

        long typeOffset = reader.Position;
        uint typeId = reader.ReadUInt32($"type of tensor '{name}'");
        var type = (GgmlType)typeId;
        if (!GgmlTypeInfo.IsKnown(type))
        {
            throw reader.ErrorAt(typeOffset, $"tensor '{name}' has unknown ggml type id {typeId}.");
        }
        if (!GgmlTypeInfo.HasKnownLayout(type))
        {
            throw reader.ErrorAt(typeOffset, $"tensor '{name}' has type {type}, whose block layout Edgewise does not know.");
        }

        long columns = dims > 0 ? shape[0] : 1;
        int blockSize = GgmlTypeInfo.BlockSize(type);
        if (columns % blockSize != 0)
        {
            throw reader.ErrorAt(dimsOffset, $"tensor '{name}' ({type}) has rows of {columns} values; expected a multiple of the {blockSize}-value block.");
        }
        long rowBytes = columns / blockSize * GgmlTypeInfo.BlockBytes(type);
        long rows = elements / columns;
        if (rows > long.MaxValue / rowBytes)
        {
            throw reader.ErrorAt(dimsOffset, $"tensor '{name}' byte size overflows 64 bits.");
        }

        long offsetOffset = reader.Position;
        ulong offset = reader.ReadUInt64($"data offset of tensor '{name}'");
        if (offset > long.MaxValue || (long)offset % Alignment != 0)
        {
            throw reader.ErrorAt(offsetOffset, $"tensor '{name}' data offset {offset} is not a multiple of the alignment {Alignment}.");
        }
        return new GgufTensorInfo(name, type, shape, (long)offset, rows * rowBytes);
    }

    // Every tensor must lie inside the file and no two may share bytes (a crafted table could otherwise alias
    // one tensor's data as another's, or point a view past the mapping).
    private void ValidateDataRegion()
    {
        long available = _length - DataOffset;
        var offsets = new long[_tensors.Count];
        var order = new int[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            GgufTensorInfo t = _tensors[i];
            if (t.ByteSize > 0 && (available < 0 || t.Offset > available - t.ByteSize))
            {
                throw new GgufFormatException(FilePath, DataOffset + t.Offset,
                    $"tensor '{t.Name}' data [{t.Offset}, {t.Offset} + {t.ByteSize}) relative to the data region at {DataOffset} runs past the end of the file ({_length} bytes).");
            }
            offsets[i] = t.Offset;
            order[i] = i;
        }
        Array.Sort(offsets, order);
        for (int i = 1; i < order.Length; i++)
        {
            GgufTensorInfo previous = _tensors[order[i - 1]];
            GgufTensorInfo current = _tensors[order[i]];
            if (current.Offset < previous.Offset + previous.ByteSize)
            {
                throw new GgufFormatException(FilePath, DataOffset + current.Offset,
                    $"tensor '{current.Name}' data at offset {current.Offset} overlaps tensor '{previous.Name}' [{previous.Offset}, {previous.Offset + previous.ByteSize}).");
            }
        }
    }
}
