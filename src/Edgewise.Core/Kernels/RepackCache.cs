using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Edgewise.Core.IO;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

/// <summary>
/// A file of matrices prepared from a model file once and mapped on later loads: the file's Q4_0 and Q8_0 matrices
/// interleaved sixteen rows at a time (<see cref="WeightMatrix.Interleave"/>), and <see cref="DerivedMatrix"/>es, plain
/// (ggml layout) matrices that a model computes from file tensors (a transpose, say). A mapped model then gets the
/// interleaved kernels and its derived matrices with no load-time work or copy: instant start, like a plain mapping,
/// and the decode speed of <c>--weights hugepages</c>. The file is written in aligned 4 MiB chunks
/// (<see cref="ChunkedWriteStream"/>), so the page cache holds it in 2 MiB folios that map as huge pages.
/// </summary>
/// <remarks>
/// Layout, little-endian: magic <c>EWQ4X16\0</c>, u32 version, u32 entry count, i64 source length, i64 source
/// last-write time (UTC ticks), u32 + UTF-8 source path, then per entry u32 + UTF-8 name, u32 layout
/// (<see cref="Layout"/>), u32 ggml type, u32 rows, u32 columns, i64 offset. Data starts at a 2 MiB boundary;
/// matrices follow 4 KiB apart. A cache whose source length or write time differ from the model file's is stale and
/// ignored (and rewritten by the next build). The cache knows no model: names are whatever its writer chose.
/// </remarks>
public sealed unsafe class RepackCache : IDisposable
{
    public const string Extension = ".q4x16";
    // Caches of an earlier layout (eight rows per group) that nothing reads any more: cleanup deletes them.
    private const string LegacyExtension = ".q4x8";
    // 5: entries carry a layout and a ggml type (derived plain matrices; Q8_0x16 came later as a new layout value, which
    // older readers reject as a malformed cache and rewrite); 4: sixteen rows per group; 3: matrices packed
    // 4 KiB apart again (2 put each on a 2 MiB boundary)
    private const uint Version = 5;
    private const int EntryFieldBytes = 24;   // layout, type, rows, columns, offset
    private const long DataAlignment = 2L << 20;
    // Matrices are packed (4 KiB apart) from a 2 MiB boundary: with one sequential pass over the whole data region at
    // load, every 2 MiB page is first touched at its start and maps whole; a 2 MiB page per matrix instead would put
    // ~1 MiB of hole per matrix into the resident set once its last page is a 2 MiB folio (measured: +350 MB at E2B).
    private const long MatrixAlignment = 4096;
    private const int ChunkRowsTarget = 4 << 20;   // bytes of source rows interleaved per write
    private static ReadOnlySpan<byte> Magic => "EWQ4X16\0"u8;

    private readonly MappedFile _file;
    private readonly Dictionary<string, Entry> _entries;

    private RepackCache(MappedFile file, Dictionary<string, Entry> entries)
    {
        _file = file;
        _entries = entries;
    }

    /// <summary>How an entry's bytes are arranged.</summary>
    private enum Layout : uint
    {
        /// <summary>ggml rows of the entry's type, as a GGUF file stores them.</summary>
        Plain = 0,
        /// <summary>Q4_0 rows interleaved sixteen at a time (<see cref="Q4_0x16"/>).</summary>
        Q4_0x16 = 1,
        /// <summary>Q8_0 rows interleaved sixteen at a time (<see cref="Q8_0x16"/>).</summary>
        Q8_0x16 = 2,
    }

    private static Layout InterleavedLayout(GgmlType type) => type == GgmlType.Q8_0 ? Layout.Q8_0x16 : Layout.Q4_0x16;

    private readonly record struct Entry(Layout Layout, GgmlType Type, int Rows, int Columns, long Offset)
    {
        public long Bytes => GgmlTypeInfo.RowBytes(Type, Columns) * Rows;
    }

    public string FilePath => _file.FilePath;

    /// <summary>Names of the matrices the cache holds.</summary>
    public IReadOnlyCollection<string> Names => _entries.Keys;

    /// <summary>
    /// The cache file of <paramref name="sourcePath"/> in <paramref name="directory"/>: the model's file name plus a hash
    /// of its full path, so two models of the same name in different folders do not share one.
    /// </summary>
    public static string FileFor(string directory, string sourcePath)
    {
        string full = Path.GetFullPath(sourcePath);
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(full)))[..12];
        return Path.Combine(directory, $"{Path.GetFileNameWithoutExtension(full)}-{hash}{Extension}");
    }

    /// <summary>
    /// Opens the cache at <paramref name="cachePath"/> when it exists, is well formed and was built from
    /// <paramref name="sourcePath"/> as it is now (same full path, length and write time); null otherwise. Never throws for a bad
    /// cache: it is only ever an optimisation, rebuilt on demand.
    /// </summary>
    public static RepackCache? TryOpen(string cachePath, string sourcePath)
    {
        if (!File.Exists(cachePath) || !File.Exists(sourcePath)) return null;
        MappedFile? file = null;
        try
        {
            file = MappedFile.Open(cachePath);
            var source = new FileInfo(sourcePath);
            Dictionary<string, Entry>? entries = ReadHeader(new ReadOnlySpan<byte>(file.Pointer, (int)Math.Min(file.Length, int.MaxValue)),
                file.Length, Path.GetFullPath(sourcePath), source.Length, source.LastWriteTimeUtc.Ticks);
            if (entries is null)
            {
                file.Dispose();
                return null;
            }
            return new RepackCache(file, entries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            return null;
        }
    }

    /// <summary>
    /// The cached interleaved copy of the file's Q4_0 or Q8_0 matrix <paramref name="name"/> when the cache holds it
    /// with exactly this shape; a view of the mapping, valid while the cache is open.
    /// </summary>
    public bool TryGetInterleaved(string name, int rows, int columns, out WeightMatrix matrix)
    {
        matrix = null!;
        if (!_entries.TryGetValue(name, out Entry e) || e.Layout is not (Layout.Q4_0x16 or Layout.Q8_0x16) || e.Rows != rows || e.Columns != columns) return false;
        matrix = WeightMatrix.FromInterleaved(name, e.Type, _file.Pointer + e.Offset, rows, columns);
        return true;
    }

    /// <summary>
    /// The cached derived matrix <paramref name="name"/> (<see cref="DerivedMatrix"/>) when the cache holds it with
    /// exactly this type and shape; a view of the mapping in ggml layout, valid while the cache is open.
    /// </summary>
    public bool TryGetDerived(string name, GgmlType type, int rows, int columns, out WeightMatrix matrix)
    {
        matrix = null!;
        if (!_entries.TryGetValue(name, out Entry e) || e.Layout != Layout.Plain || e.Type != type || e.Rows != rows || e.Columns != columns) return false;
        matrix = WeightMatrix.Create(new TensorView(name, type, [columns, rows], _file.Pointer + e.Offset, e.Bytes));
        return true;
    }

    /// <summary>The mapped span from the first cached matrix to the end of the last (the prefault maps it in one pass).</summary>
    public (nint Start, long Length) Data
    {
        get
        {
            (long offset, long length) = DataInFile();
            return ((nint)(_file.Pointer + offset), length);
        }
    }

    /// <summary>
    /// Unmaps <see cref="Data"/> from this process and drops it from the page cache (pages another process maps stay),
    /// so that the next touch reads it from the file again: in 2 MiB folios where memory allows and the mapping asks
    /// for huge pages, where the cache may have been sitting in small ones.
    /// </summary>
    public void DropData()
    {
        (long offset, long length) = DataInFile();
        MemoryAdvice.UnmapAndDrop(_file.Pointer + offset, length, FilePath, offset);
    }

    private (long Offset, long Length) DataInFile()
    {
        if (_entries.Count == 0) return (0, 0);
        long first = long.MaxValue, end = 0;
        foreach (Entry e in _entries.Values)
        {
            first = Math.Min(first, e.Offset);
            end = Math.Max(end, e.Offset + e.Bytes);
        }
        return (first, end - first);
    }

    /// <summary>
    /// Writes the cache of <paramref name="sourcePath"/> to <paramref name="cachePath"/>: the plain (ggml layout) Q4_0
    /// and Q8_0 <paramref name="matrices"/> interleaved 4 MiB of rows at a time, then each of <paramref name="derived"/> as its
    /// producer computes it. Writes a temporary file and renames it, so a reader never sees half a cache; returns
    /// false, leaving nothing behind, when <paramref name="stop"/> turns true (asked between chunks and before each
    /// producer runs).
    /// </summary>
    public static bool Write(string cachePath, string sourcePath, IReadOnlyList<WeightMatrix> matrices, IReadOnlyList<DerivedMatrix>? derived = null,
        Func<bool>? stop = null)
    {
        derived ??= [];
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (WeightMatrix m in matrices)
        {
            if (!m.CanInterleave || m.IsInterleaved)
            {
                throw new ArgumentException($"'{m.Name}' ({m.Type}, {m.Rows} rows) is not a plain Q4_0 or Q8_0 matrix with a multiple of sixteen rows.", nameof(matrices));
            }
            if (!names.Add(m.Name)) throw new ArgumentException($"'{m.Name}' is given twice.", nameof(matrices));
        }
        int largestDerived = 0;
        foreach (DerivedMatrix d in derived)
        {
            if (!names.Add(d.Name)) throw new ArgumentException($"'{d.Name}' is given twice.", nameof(derived));
            if (!WeightMatrix.IsSupported(d.Type) || d.Rows <= 0 || d.Columns <= 0)
            {
                throw new ArgumentException($"'{d.Name}': {d.Rows} rows of {d.Columns} {d.Type} values is not a matrix the kernels read.", nameof(derived));
            }
            largestDerived = Math.Max(largestDerived, d.Bytes <= Array.MaxLength
                ? (int)d.Bytes
                : throw new ArgumentException($"'{d.Name}': {d.Bytes} bytes; a derived matrix is produced into one array of at most {Array.MaxLength}.", nameof(derived)));
        }
        var entries = new List<(string Name, Entry Entry)>(matrices.Count + derived.Count);
        foreach (WeightMatrix m in matrices) entries.Add((m.Name, new Entry(InterleavedLayout(m.Type), m.Type, m.Rows, m.Columns, 0)));
        foreach (DerivedMatrix d in derived) entries.Add((d.Name, new Entry(Layout.Plain, d.Type, d.Rows, d.Columns, 0)));
        var source = new FileInfo(sourcePath);
        byte[] header = Header(entries, Path.GetFullPath(sourcePath), source.Length, source.LastWriteTimeUtc.Ticks);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cachePath))!);
        string temporary = $"{cachePath}.{Environment.ProcessId}.tmp";
        try
        {
            using (ChunkedWriteStream output = ChunkedWriteStream.Create(temporary))
            {
                output.Write(header);
                for (int i = 0; i < matrices.Count; i++)
                {
                    output.Seek(entries[i].Entry.Offset, SeekOrigin.Begin);
                    if (!WriteInterleaved(output, matrices[i], stop)) return false;
                }
                // One buffer for every derived matrix: a producer writes the whole matrix, so nothing stale survives.
                byte[] buffer = derived.Count == 0 ? [] : GC.AllocateUninitializedArray<byte>(largestDerived);
                for (int i = 0; i < derived.Count; i++)
                {
                    if (stop?.Invoke() == true) return false;
                    Span<byte> bytes = buffer.AsSpan(0, (int)derived[i].Bytes);
                    derived[i].Produce(bytes);
                    output.Seek(entries[matrices.Count + i].Entry.Offset, SeekOrigin.Begin);
                    output.Write(bytes);
                }
            }
            File.Move(temporary, cachePath, overwrite: true);
            return true;
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Deletes cache files in <paramref name="directory"/> whose model file no longer exists, and caches of the older layout.</summary>
    public static void RemoveOrphans(string directory)
    {
        if (!Directory.Exists(directory)) return;
        foreach (string path in Directory.EnumerateFiles(directory, "*" + Extension).Concat(Directory.EnumerateFiles(directory, "*" + LegacyExtension)))
        {
            try
            {
                string? source = path.EndsWith(Extension, StringComparison.Ordinal) ? ReadSourcePath(path) : null;
                if (source is null || !File.Exists(source)) File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another process may be mapping or replacing it; the next cleanup retries.
            }
        }
    }

    public void Dispose() => _file.Dispose();

    private static bool WriteInterleaved(ChunkedWriteStream output, WeightMatrix m, Func<bool>? stop)
    {
        int blocks = m.Columns / 32;
        long rowBytes = m.RowBytes;
        int groupsPerChunk = (int)Math.Max(1, ChunkRowsTarget / (rowBytes * Q4_0x16.GroupRows));
        byte[] chunk = GC.AllocateUninitializedArray<byte>((int)(groupsPerChunk * Q4_0x16.GroupRows * rowBytes), pinned: true);
        fixed (byte* buffer = chunk)
        {
            for (int row = 0; row < m.Rows; row += groupsPerChunk * Q4_0x16.GroupRows)
            {
                if (stop?.Invoke() == true) return false;
                int rows = Math.Min(groupsPerChunk * Q4_0x16.GroupRows, m.Rows - row);
                long bytes = rows * rowBytes;
                Buffer.MemoryCopy(m.RowPointer(row), buffer, bytes, bytes);
                WeightMatrix.InterleaveRows(m.Type, buffer, rows, blocks);
                output.Write(new ReadOnlySpan<byte>(buffer, (int)bytes));
            }
        }
        return true;
    }

    /// <summary>The header of <paramref name="entries"/>, whose offsets it assigns (in place) in list order.</summary>
    private static byte[] Header(List<(string Name, Entry Entry)> entries, string sourcePath, long sourceLength, long sourceTicks)
    {
        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8);
        w.Write(Magic);
        w.Write(Version);
        w.Write((uint)entries.Count);
        w.Write(sourceLength);
        w.Write(sourceTicks);
        WriteString(w, sourcePath);
        long headerBytes = header.Length;
        foreach ((string name, _) in entries) headerBytes += 4 + Encoding.UTF8.GetByteCount(name) + EntryFieldBytes;
        long next = AlignUp(headerBytes, DataAlignment);
        for (int i = 0; i < entries.Count; i++)
        {
            entries[i] = (entries[i].Name, entries[i].Entry with { Offset = next });
            next = AlignUp(next + entries[i].Entry.Bytes, MatrixAlignment);
        }
        foreach ((string name, Entry e) in entries)
        {
            WriteString(w, name);
            w.Write((uint)e.Layout);
            w.Write((uint)e.Type);
            w.Write((uint)e.Rows);
            w.Write((uint)e.Columns);
            w.Write(e.Offset);
        }
        w.Flush();
        return header.ToArray();
    }

    /// <summary>The entries, or null when the header is malformed, the data lies outside the file, or the source differs.</summary>
    private static Dictionary<string, Entry>? ReadHeader(ReadOnlySpan<byte> s, long fileLength, string sourcePath, long sourceLength, long sourceTicks)
    {
        if (s.Length < 32 || !s[..8].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt32LittleEndian(s[8..]) != Version) return null;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[12..]);
        if (BinaryPrimitives.ReadInt64LittleEndian(s[16..]) != sourceLength || BinaryPrimitives.ReadInt64LittleEndian(s[24..]) != sourceTicks) return null;
        int at = 32;
        if (ReadString(s, ref at) != sourcePath) return null;
        var entries = new Dictionary<string, Entry>((int)Math.Min(count, 100_000), StringComparer.Ordinal);
        for (uint i = 0; i < count; i++)
        {
            string? name = ReadString(s, ref at);
            if (name is null || at + EntryFieldBytes > s.Length) return null;
            var e = new Entry((Layout)BinaryPrimitives.ReadUInt32LittleEndian(s[at..]), (GgmlType)BinaryPrimitives.ReadUInt32LittleEndian(s[(at + 4)..]),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(at + 8)..]), (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(at + 12)..]),
                BinaryPrimitives.ReadInt64LittleEndian(s[(at + 16)..]));
            at += EntryFieldBytes;
            if (!Sane(e, at, fileLength) || !entries.TryAdd(name, e)) return null;
        }
        return entries;
    }

    /// <summary>A layout this version knows with a type and shape it allows, and data inside the file past the header.</summary>
    private static bool Sane(Entry e, int headerEnd, long fileLength)
    {
        if (e.Rows <= 0 || e.Columns <= 0) return false;
        bool shape = e.Layout switch
        {
            Layout.Q4_0x16 or Layout.Q8_0x16 => e.Type is GgmlType.Q4_0 or GgmlType.Q8_0 && InterleavedLayout(e.Type) == e.Layout
                && Q4_0x16.Fits(e.Rows) && e.Columns % 32 == 0,
            // Checked first: only types with a matrix kernel (all of known block layout) reach BlockSize.
            Layout.Plain => WeightMatrix.IsSupported(e.Type) && e.Columns % GgmlTypeInfo.BlockSize(e.Type) == 0,
            _ => false,
        };
        return shape && e.Offset >= headerEnd && e.Offset % MatrixAlignment == 0 && e.Offset + e.Bytes <= fileLength;
    }

    private static string? ReadSourcePath(string cachePath)
    {
        using FileStream f = File.OpenRead(cachePath);
        Span<byte> head = stackalloc byte[4096];
        int n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n < 36 || !head[..8].SequenceEqual(Magic)) return null;
        int at = 32;
        return ReadString(head[..n], ref at);
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        w.Write((uint)bytes.Length);
        w.Write(bytes);
    }

    private static string? ReadString(ReadOnlySpan<byte> s, ref int at)
    {
        if (at + 4 > s.Length) return null;
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
        if (length > 4096 || at + 4 + length > s.Length) return null;
        string value = Encoding.UTF8.GetString(s.Slice(at + 4, (int)length));
        at += 4 + (int)length;
        return value;
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
