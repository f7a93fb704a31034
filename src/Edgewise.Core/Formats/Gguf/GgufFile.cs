using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Edgewise.Core.IO;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Gguf;

/// <summary>
/// A GGUF file (v2 or v3), memory-mapped read-only. Opening parses and validates the header, metadata and tensor
/// table straight from the mapping; tensor data is never read or copied, so <see cref="GetTensor"/> hands out views
/// into the file. Dispose the file only after every view and array span taken from it is dead.
/// </summary>
public sealed unsafe partial class GgufFile : IDisposable
{
    /// <summary>Alignment of tensor data when <c>general.alignment</c> is absent (GGUF spec).</summary>
    public const int DefaultAlignment = 32;

    private readonly IDisposable? _memoryOwner;
    private readonly byte* _base;
    private readonly long _length;
    private readonly List<GgufMetadataEntry> _entries = [];
    private readonly Dictionary<string, GgufValue> _metadata = new(StringComparer.Ordinal);
    private readonly List<GgufTensorInfo> _tensors = [];
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName = new(StringComparer.Ordinal);
    private bool _disposed;

    private GgufFile(string filePath, byte* data, long length, IDisposable? memoryOwner)
    {
        FilePath = filePath;
        _base = data;
        _length = length;
        _memoryOwner = memoryOwner;
    }

    public string FilePath { get; }

    public uint Version { get; private set; }

    /// <summary>Alignment of every tensor's data (from <c>general.alignment</c>, else 32).</summary>
    public long Alignment { get; private set; } = DefaultAlignment;

    /// <summary>Absolute byte offset where the tensor data region starts.</summary>
    public long DataOffset { get; private set; }

    /// <summary>File length in bytes.</summary>
    public long Length => _length;

    public IReadOnlyList<GgufMetadataEntry> MetadataEntries => _entries;

    public IReadOnlyList<GgufTensorInfo> Tensors => _tensors;

    /// <summary>Map and parse a GGUF file. Throws <see cref="GgufFormatException"/> for anything malformed.</summary>
    public static GgufFile Open(string path)
    {
        MappedFile mapping = MappedFile.Open(path);
        return Create(mapping.FilePath, mapping.Pointer, mapping.Length, mapping);
    }

    /// <summary>
    /// Parse a GGUF held in memory (pinned for the lifetime of the returned file). Meant for tests and for
    /// small in-memory models; real models should be opened with <see cref="Open"/>.
    /// </summary>
    public static GgufFile FromBytes(byte[] bytes, string name = "<memory>")
    {
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        var owner = new PinnedBytes(handle);
        return Create(name, (byte*)handle.AddrOfPinnedObject(), bytes.Length, owner);
    }

    private static GgufFile Create(string name, byte* data, long length, IDisposable owner)
    {
        var file = new GgufFile(name, data, length, owner);
        try
        {
            file.Parse();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    /// <summary>The value of <paramref name="key"/>; throws <see cref="GgufFormatException"/> when it is missing.</summary>
    public GgufValue this[string key] => _metadata.TryGetValue(key, out GgufValue? value)
        ? value
        : throw new GgufFormatException(FilePath, -1, $"required metadata key '{key}' is missing.");

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out GgufValue value)
    {
        return _metadata.TryGetValue(key, out value);
    }

    public string GetString(string key) => this[key].AsString();
    public bool GetBool(string key) => this[key].AsBool();
    public uint GetUInt32(string key) => this[key].AsUInt32();
    public int GetInt32(string key) => this[key].AsInt32();
    public ulong GetUInt64(string key) => this[key].AsUInt64();
    public long GetInt64(string key) => this[key].AsInt64();
    public float GetFloat32(string key) => this[key].AsFloat32();
    public double GetFloat64(string key) => this[key].AsFloat64();

    /// <summary>A copy of an array value; <typeparamref name="T"/> must match the stored element type.</summary>
    public T[] GetArray<T>(string key) where T : unmanaged => this[key].AsArray<T>();

    /// <summary>An array value viewed in place (zero copy, valid until this file is disposed).</summary>
    public ReadOnlySpan<T> GetArraySpan<T>(string key) where T : unmanaged => this[key].AsSpan<T>();

    public string[] GetStringArray(string key) => this[key].AsStringArray();

    public string? GetStringOrDefault(string key, string? fallback = null) => _metadata.TryGetValue(key, out GgufValue? v) ? v.AsString() : fallback;
    public bool GetBoolOrDefault(string key, bool fallback) => _metadata.TryGetValue(key, out GgufValue? v) ? v.AsBool() : fallback;
    public uint GetUInt32OrDefault(string key, uint fallback) => _metadata.TryGetValue(key, out GgufValue? v) ? v.AsUInt32() : fallback;
    public int GetInt32OrDefault(string key, int fallback) => _metadata.TryGetValue(key, out GgufValue? v) ? v.AsInt32() : fallback;
    public float GetFloat32OrDefault(string key, float fallback) => _metadata.TryGetValue(key, out GgufValue? v) ? v.AsFloat32() : fallback;

    public bool ContainsTensor(string name) => _tensorsByName.ContainsKey(name);

    /// <summary>Table entry of <paramref name="name"/>; throws <see cref="GgufFormatException"/> when it is missing.</summary>
    public GgufTensorInfo GetTensorInfo(string name) => _tensorsByName.TryGetValue(name, out GgufTensorInfo? info)
        ? info
        : throw new GgufFormatException(FilePath, -1, $"tensor '{name}' is not in the file ({_tensors.Count} tensors).");

    /// <summary>A zero-copy view of the tensor's data; throws <see cref="GgufFormatException"/> when it is missing.</summary>
    public TensorView GetTensor(string name) => View(GetTensorInfo(name));

    public bool TryGetTensor(string name, out TensorView view)
    {
        if (_tensorsByName.TryGetValue(name, out GgufTensorInfo? info))
        {
            view = View(info);
            return true;
        }
        view = default;
        return false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _memoryOwner?.Dispose();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private TensorView View(GgufTensorInfo info)
    {
        ThrowIfDisposed();
        // Offsets and sizes were validated against the file length at open time.
        return new TensorView(info.Name, info.Type, (long[])info.Shape.Clone(), _base + DataOffset + info.Offset, info.ByteSize);
    }

    private sealed class PinnedBytes(GCHandle handle) : IDisposable
    {
        private GCHandle _handle = handle;

        public void Dispose()
        {
            if (_handle.IsAllocated) _handle.Free();
        }
    }
}
