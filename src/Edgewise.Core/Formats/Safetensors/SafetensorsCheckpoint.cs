using System.Text.Json;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Safetensors;

/// <summary>
/// A Hugging Face safetensors checkpoint: one file, or a directory of shards listed by
/// <c>model.safetensors.index.json</c>. Every shard is memory-mapped; <see cref="GetTensor"/> returns views into
/// the mapping with the shape reversed into ggml order, so model code treats it exactly like a GGUF tensor.
/// </summary>
public sealed unsafe class SafetensorsCheckpoint : IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsShard> _shards;
    private readonly List<SafetensorsTensorInfo> _tensors = [];
    private readonly Dictionary<string, (SafetensorsTensorInfo Info, SafetensorsShard Shard)> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private bool _disposed;

    private SafetensorsCheckpoint(string path, List<SafetensorsShard> shards)
    {
        Path = path;
        _shards = shards;
    }

    /// <summary>The file or directory that was opened.</summary>
    public string Path { get; }

    public IReadOnlyList<SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>The <c>__metadata__</c> of every shard, merged (first shard wins on a conflicting key).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>Full paths of the shard files, in load order.</summary>
    public IReadOnlyList<string> ShardPaths => [.. _shards.Select(s => s.FilePath)];

    /// <summary>
    /// Open a .safetensors file, an index json, or a directory holding either <c>model.safetensors.index.json</c>,
    /// <c>model.safetensors</c>, or exactly one .safetensors file.
    /// </summary>
    public static SafetensorsCheckpoint Open(string fileOrDirectory)
    {
        string full = System.IO.Path.GetFullPath(fileOrDirectory);
        string[] shardFiles;
        Dictionary<string, string>? weightMap = null;
        if (Directory.Exists(full))
        {
            string index = System.IO.Path.Combine(full, IndexFileName);
            if (File.Exists(index))
            {
                (shardFiles, weightMap) = ReadIndex(index);
            }
            else if (File.Exists(System.IO.Path.Combine(full, "model.safetensors")))
            {
                shardFiles = [System.IO.Path.Combine(full, "model.safetensors")];
            }
            else
            {
                string[] candidates = Directory.GetFiles(full, "*.safetensors");
                if (candidates.Length != 1)
                {
                    throw new SafetensorsFormatException(full, -1,
                        $"expected {IndexFileName}, model.safetensors or a single .safetensors file in the directory; found {candidates.Length} .safetensors files and no index.");
                }
                shardFiles = candidates;
            }
        }
        else if (full.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
        {
            (shardFiles, weightMap) = ReadIndex(full);
        }
        else
        {
            shardFiles = [full];
        }

        var shards = new List<SafetensorsShard>(shardFiles.Length);
        var checkpoint = new SafetensorsCheckpoint(full, shards);
        try
        {
            foreach (string file in shardFiles)
            {
                if (!File.Exists(file))
                {
                    throw new SafetensorsFormatException(file, -1, "shard named by the index does not exist.");
                }
                shards.Add(SafetensorsShard.Open(file));
            }
            checkpoint.Index(weightMap);
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public bool ContainsTensor(string name) => _byName.ContainsKey(name);

    public SafetensorsTensorInfo GetTensorInfo(string name) => _byName.TryGetValue(name, out var entry)
        ? entry.Info
        : throw new SafetensorsFormatException(Path, -1, $"tensor '{name}' is not in the checkpoint ({_tensors.Count} tensors).");

    /// <summary>
    /// A zero-copy view with the shape in ggml order (reversed) and the matching <see cref="GgmlType"/>
    /// (F32/F16/BF16, also F64 and signed integers). Throws <see cref="SafetensorsFormatException"/> for a missing
    /// tensor, a dtype ggml has no type for, or more than 4 dimensions.
    /// </summary>
    public TensorView GetTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_byName.TryGetValue(name, out var entry))
        {
            throw new SafetensorsFormatException(Path, -1, $"tensor '{name}' is not in the checkpoint ({_tensors.Count} tensors).");
        }
        SafetensorsTensorInfo info = entry.Info;
        GgmlType type = SafetensorsDtypeInfo.ToGgmlType(info.Dtype)
            ?? throw new SafetensorsFormatException(info.ShardPath, info.Offset, $"tensor '{name}' has dtype {info.Dtype}, which has no ggml equivalent.");
        if (info.Shape.Length > 4)
        {
            throw new SafetensorsFormatException(info.ShardPath, info.Offset, $"tensor '{name}' has {info.Shape.Length} dimensions; at most 4 fit a tensor view.");
        }
        var shape = new long[info.Shape.Length];
        for (int i = 0; i < shape.Length; i++) shape[i] = info.Shape[shape.Length - 1 - i];
        return new TensorView(name, type, shape, entry.Shard.Pointer + info.Offset, info.ByteSize);
    }

    public bool TryGetTensor(string name, out TensorView view)
    {
        if (_byName.ContainsKey(name))
        {
            view = GetTensor(name);
            return true;
        }
        view = default;
        return false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (SafetensorsShard shard in _shards) shard.Dispose();
    }

    private void Index(Dictionary<string, string>? weightMap)
    {
        foreach (SafetensorsShard shard in _shards)
        {
            foreach (SafetensorsTensorInfo info in shard.Tensors)
            {
                if (_byName.TryGetValue(info.Name, out var existing))
                {
                    throw new SafetensorsFormatException(shard.FilePath, info.Offset,
                        $"tensor '{info.Name}' is also in {existing.Shard.FilePath}.");
                }
                _byName.Add(info.Name, (info, shard));
                _tensors.Add(info);
            }
            foreach ((string key, string value) in shard.Metadata) _metadata.TryAdd(key, value);
        }
        if (weightMap is null) return;
        foreach ((string name, string file) in weightMap)
        {
            if (!_byName.TryGetValue(name, out var entry))
            {
                throw new SafetensorsFormatException(Path, -1, $"the index maps tensor '{name}' to {file}, which does not contain it.");
            }
            if (!string.Equals(System.IO.Path.GetFileName(entry.Shard.FilePath), file, StringComparison.Ordinal))
            {
                throw new SafetensorsFormatException(Path, -1, $"the index maps tensor '{name}' to {file}, but it is in {entry.Shard.FilePath}.");
            }
        }
    }

    private static (string[] Shards, Dictionary<string, string> WeightMap) ReadIndex(string indexPath)
    {
        var info = new FileInfo(indexPath);
        if (info.Length > SafetensorsShard.MaxHeaderBytes)
        {
            throw new SafetensorsFormatException(indexPath, -1, $"index is {info.Length} bytes; expected at most {SafetensorsShard.MaxHeaderBytes}.");
        }
        string directory = System.IO.Path.GetDirectoryName(indexPath)!;
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var shards = new List<string>();
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map)
                || map.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, -1, "expected an object with a \"weight_map\" object.");
            }
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafetensorsFormatException(indexPath, -1, $"weight_map entry '{p.Name}' must be a file name string, found {p.Value.ValueKind}.");
                }
                string file = p.Value.GetString()!;
                // Shards must sit beside the index: a downloaded index must not reach elsewhere on disk.
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                {
                    throw new SafetensorsFormatException(indexPath, -1, $"weight_map entry '{p.Name}' names \"{file}\"; expected a file name in the same directory.");
                }
                if (!weightMap.TryAdd(p.Name, file))
                {
                    throw new SafetensorsFormatException(indexPath, -1, $"weight_map names tensor '{p.Name}' twice.");
                }
                string full = System.IO.Path.Combine(directory, file);
                if (!shards.Contains(full)) shards.Add(full);
            }
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(indexPath, -1, $"index is not valid JSON: {e.Message}", e);
        }
        shards.Sort(StringComparer.Ordinal);
        return ([.. shards], weightMap);
    }
}
