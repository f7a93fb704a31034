using System.IO.MemoryMappedFiles;

namespace Edgewise.Core.IO;

/// <summary>
/// A whole file mapped read-only, exposed as one pointer. Nothing is read until a page is touched, so opening a
/// multi-GB model costs only the header pages. The pointer stays valid until <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// If another process truncates the file while it is mapped, touching the lost pages faults (SIGBUS on Unix);
/// no managed check can prevent that, which is why readers bounds-check against the length seen at open time.
/// </remarks>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    private MappedFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        FilePath = path;
        _map = map;
        _view = view;
        _pointer = pointer;
        Length = length;
    }

    public string FilePath { get; }

    /// <summary>File length in bytes at the time it was mapped.</summary>
    public long Length { get; }

    /// <summary>First byte of the file. Null for an empty file (which cannot be mapped).</summary>
    public byte* Pointer => _pointer != null || Length == 0 ? _pointer : throw new ObjectDisposedException(FilePath);

    /// <summary>Map <paramref name="path"/> read-only. Throws <see cref="FileNotFoundException"/> when it does not exist.</summary>
    public static MappedFile Open(string path)
    {
        string full = Path.GetFullPath(path);
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        long length = stream.Length;
        if (length == 0)
        {
            // The OS refuses to map an empty file; callers report "truncated" from the length instead.
            stream.Dispose();
            return new MappedFile(full, null, null, null, 0);
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new MappedFile(full, map, view, pointer + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            if (map is null) stream.Dispose();
            map?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_view is not null && _pointer != null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map!.Dispose();
        }
    }
}
