namespace Edgewise.Core.IO;

/// <summary>
/// A write stream over a file that hands the OS whole <see cref="ChunkBytes"/> chunks at chunk-aligned offsets,
/// however the caller slices its writes. Why: on Linux 6.x, filesystems with large folios cache a buffered write in
/// folios as large as the write (up to 2 MiB, naturally aligned). A model file written in 4 MiB aligned pieces therefore
/// sits in the page cache as 2 MiB folios, and a mapping of it gets huge pages with no copy and no re-read; written in
/// small pieces, it stays in 4 KiB pages until evicted, and decode pays the TLB misses.
/// </summary>
/// <remarks>
/// Bytes reach the file when a chunk fills, on <see cref="Flush"/>, on a seek and on dispose. Until then
/// <see cref="FileStream.Length"/> of the underlying file does not count them, which keeps "the file's length is what
/// was written" true for resumable downloads.
/// </remarks>
public sealed class ChunkedWriteStream : Stream
{
    public const int ChunkBytes = 4 << 20;

    private readonly FileStream _file;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[ChunkBytes];
    private long _chunkStart;   // file offset of _buffer[0], a multiple of ChunkBytes
    private int _from;          // first buffered byte (above 0 after a seek into the middle of a chunk)
    private int _to;            // one past the last buffered byte
    private bool _disposed;
    private bool _smallPieces;

    /// <summary>Writes through <paramref name="file"/>, starting at its current position.</summary>
    public ChunkedWriteStream(FileStream file, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.CanWrite) throw new ArgumentException($"'{file.Name}' is not open for writing.", nameof(file));
        _file = file;
        _leaveOpen = leaveOpen;
        Reset(file.Position);
    }

    /// <summary>Creates (or truncates) <paramref name="path"/>.</summary>
    public static ChunkedWriteStream Create(string path)
        => new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0));

    public override bool CanRead => false;
    public override bool CanSeek => true;
    public override bool CanWrite => !_disposed;
    public override long Length => Math.Max(_file.Length, _chunkStart + _to);

    public override long Position
    {
        get => _chunkStart + _to;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>
    /// While set, writes go to the file at once in pieces of at most <see cref="SmallPieceBytes"/>, so the page cache
    /// holds them in small folios: for data read a row at a time, where a 2 MiB folio would map whole on the first
    /// touch of any row. Setting it writes out what is buffered.
    /// </summary>
    public bool SmallPieces
    {
        get => _smallPieces;
        set
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (value == _smallPieces) return;
            WriteOut(next: Position);
            _smallPieces = value;
        }
    }

    public const int SmallPieceBytes = 64 << 10;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_smallPieces)
        {
            WriteSmall(buffer);
            return;
        }
        while (!buffer.IsEmpty)
        {
            int n = Math.Min(buffer.Length, ChunkBytes - _to);
            buffer[..n].CopyTo(_buffer.AsSpan(_to));
            _to += n;
            buffer = buffer[n..];
            if (_to == ChunkBytes) WriteOut(next: _chunkStart + ChunkBytes);
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_smallPieces)
        {
            WriteSmall(buffer.Span);
            return;
        }
        while (!buffer.IsEmpty)
        {
            int n = Math.Min(buffer.Length, ChunkBytes - _to);
            buffer.Span[..n].CopyTo(_buffer.AsSpan(_to));
            _to += n;
            buffer = buffer[n..];
            if (_to == ChunkBytes) await WriteOutAsync(_chunkStart + ChunkBytes, cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        WriteOut(next: Position);
        _file.Flush();
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await WriteOutAsync(Position, cancellationToken).ConfigureAwait(false);
        await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, null),
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        if (target != Position) WriteOut(next: target);
        return target;
    }

    public override void SetLength(long value)
    {
        WriteOut(next: Math.Min(Position, value));
        _file.SetLength(value);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException($"{nameof(ChunkedWriteStream)} is write-only.");

    protected override void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            try
            {
                WriteOut(next: Position);
            }
            finally
            {
                _disposed = true;
                if (!_leaveOpen) _file.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            try
            {
                await WriteOutAsync(Position, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _disposed = true;
                if (!_leaveOpen) await _file.DisposeAsync().ConfigureAwait(false);
            }
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void WriteSmall(ReadOnlySpan<byte> buffer)
    {
        long position = Position;
        _file.Position = position;
        for (int at = 0; at < buffer.Length; at += SmallPieceBytes) _file.Write(buffer.Slice(at, Math.Min(SmallPieceBytes, buffer.Length - at)));
        Reset(position + buffer.Length);
    }

    /// <summary>Writes the buffered bytes at their offset, then starts buffering at <paramref name="next"/>.</summary>
    private void WriteOut(long next)
    {
        if (_to > _from)
        {
            _file.Position = _chunkStart + _from;
            _file.Write(_buffer, _from, _to - _from);
        }
        Reset(next);
    }

    private async ValueTask WriteOutAsync(long next, CancellationToken cancellationToken)
    {
        if (_to > _from)
        {
            _file.Position = _chunkStart + _from;
            await _file.WriteAsync(_buffer.AsMemory(_from, _to - _from), cancellationToken).ConfigureAwait(false);
        }
        Reset(next);
    }

    private void Reset(long position)
    {
        _chunkStart = position - position % ChunkBytes;
        _from = _to = (int)(position - _chunkStart);
    }
}
