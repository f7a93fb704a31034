using System.Runtime.InteropServices;
using Edgewise.Core.Formats;
using Edgewise.Core.IO;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Microsoft.Win32.SafeHandles;

namespace Edgewise.Models.Common;

/// <summary>
/// <see cref="PerLayerEmbeddingMode.Stream"/>: rows come from positioned reads (<see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/>)
/// into a bounded least-recently-used cache of raw (still quantized) rows. The file is advised
/// <c>POSIX_FADV_RANDOM</c> (no read-ahead) and each row read is dropped from the page cache right after, so
/// neither this process nor the page cache ever holds more of the table than the cache size. Repeated tokens
/// (prompt templates, common words) hit the cache and cost no I/O.
/// </summary>
public sealed unsafe class StreamingPerLayerEmbeddingStore : IPerLayerEmbeddingStore
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly long _offset;
    private readonly GgmlType _type;
    private readonly int _rowBytes;
    private readonly byte* _slots;             // [capacity, rowBytes] raw rows
    private readonly int[] _slotRow;           // row held by each slot, -1 = empty
    private readonly int[] _newer, _older;     // LRU list links by slot; -1 ends the list
    private readonly Dictionary<int, int> _slotOfRow;
    private readonly object _gate = new();
    private int _newest = -1, _oldest = -1, _used;
    private long _rowsServed, _bytesRead;
    private bool _disposed;

    /// <param name="path">The model file.</param>
    /// <param name="offset">Byte offset of row 0 in the file.</param>
    /// <param name="cacheBytes">Cache budget; the cache holds <c>cacheBytes / rowBytes</c> rows (at least one).</param>
    public StreamingPerLayerEmbeddingStore(string path, long offset, GgmlType type, int rows, int width, long cacheBytes)
    {
        if (!Dequantizer.CanDequantize(type)) throw new NotSupportedException($"'{path}': PLE table type {type} cannot be dequantized.");
        if (width % GgmlTypeInfo.BlockSize(type) != 0)
        {
            throw new ArgumentException($"'{path}': PLE row of {width} values is not a multiple of the {type} block size.", nameof(width));
        }
        _path = path;
        _offset = offset;
        _type = type;
        RowCount = rows;
        RowWidth = width;
        _rowBytes = checked((int)GgmlTypeInfo.RowBytes(type, width));
        long tableBytes = (long)_rowBytes * rows;
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        if (RandomAccess.GetLength(_file) < offset + tableBytes)
        {
            _file.Dispose();
            throw new ModelFormatException(path, offset, $"the PLE table needs {tableBytes} bytes from here; the file is shorter.");
        }
        FileAdvice.Random(_file, offset, tableBytes);
        Capacity = (int)Math.Clamp(cacheBytes / _rowBytes, 1, rows);
        _slots = (byte*)NativeMemory.Alloc((nuint)Capacity * (nuint)_rowBytes);
        _slotRow = new int[Capacity];
        _newer = new int[Capacity];
        _older = new int[Capacity];
        _slotOfRow = new Dictionary<int, int>(Capacity);
        Array.Fill(_slotRow, -1);
    }

    public int RowCount { get; }
    public int RowWidth { get; }
    public PerLayerEmbeddingMode Mode => PerLayerEmbeddingMode.Stream;

    /// <summary>Rows the cache holds.</summary>
    public int Capacity { get; }

    public long RowsServed => Interlocked.Read(ref _rowsServed);
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public void ReadRow(int token, Span<float> destination)
    {
        int row = (uint)token < (uint)RowCount ? token : 0;
        if (destination.Length < RowWidth)
        {
            throw new ArgumentException($"A PLE row has {RowWidth} values; the destination holds {destination.Length}.", nameof(destination));
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_slotOfRow.TryGetValue(row, out int slot))
            {
                Unlink(slot);
            }
            else
            {
                slot = _used < Capacity ? _used++ : Evict();
                Load(row, slot);
            }
            PushNewest(slot);
            _rowsServed++;
            fixed (float* d = destination)
            {
                Dequantizer.DequantizeRow(_type, _slots + (long)slot * _rowBytes, d, RowWidth);
            }
        }
    }

    private void Load(int row, int slot)
    {
        long at = _offset + (long)row * _rowBytes;
        var buffer = new Span<byte>(_slots + (long)slot * _rowBytes, _rowBytes);
        for (int done = 0; done < _rowBytes;)
        {
            int read = RandomAccess.Read(_file, buffer[done..], at + done);
            if (read <= 0) throw new EndOfStreamException($"'{_path}': PLE row {row} at offset {at + done} is past the end of the file.");
            done += read;
        }
        // The copy is ours now; the page cache need not keep it (the whole point of this mode).
        FileAdvice.DontNeed(_file, at, _rowBytes);
        _bytesRead += _rowBytes;
        _slotRow[slot] = row;
        _slotOfRow[row] = slot;
    }

    private int Evict()
    {
        int slot = _oldest;
        Unlink(slot);
        _slotOfRow.Remove(_slotRow[slot]);
        _slotRow[slot] = -1;
        return slot;
    }

    private void Unlink(int slot)
    {
        int newer = _newer[slot], older = _older[slot];
        if (newer >= 0) _older[newer] = older; else _newest = older;
        if (older >= 0) _newer[older] = newer; else _oldest = newer;
    }

    private void PushNewest(int slot)
    {
        _newer[slot] = -1;
        _older[slot] = _newest;
        if (_newest >= 0) _newer[_newest] = slot;
        _newest = slot;
        if (_oldest < 0) _oldest = slot;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            NativeMemory.Free(_slots);
            _file.Dispose();
        }
    }
}
