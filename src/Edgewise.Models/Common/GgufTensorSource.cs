using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.IO;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Models.Common;

/// <summary>Tensors of a GGUF file (names are already GGUF names); owns the file and its repack cache.</summary>
public sealed class GgufTensorSource : ITensorSource
{
    // Pages mapped per madvise call: small enough that Dispose waits at most a few milliseconds for the prefault.
    private const long PrefaultChunk = 32L << 20;
    private const long HugePage = 2L << 20;
    private const int Page = 4096;

    private Thread? _prefault;
    private Thread? _repackBuild;
    private volatile bool _stop;
    private string? _repackPath;
    private RepackCache? _repacked;
    private readonly List<string> _served = [];
    private readonly List<WeightMatrix> _notInterleaved = [];
    private readonly List<DerivedMatrix> _derived = [];
    private int _derivedMissing;
    private readonly HashSet<string> _readAtRuntime = new(StringComparer.Ordinal);
    private IReadOnlyCollection<string>? _partlyRead;

    public GgufTensorSource(GgufFile file)
    {
        File = file;
    }

    public GgufFile File { get; }
    public string Path => File.FilePath;

    public bool TryGetTensor(string ggufName, out TensorView view) => File.TryGetTensor(ggufName, out view);

    public bool TryGetFileRange(string ggufName, out string file, out long offset)
    {
        file = FilePath;
        offset = 0;
        if (!File.TryGetTensor(ggufName, out _)) return false;
        offset = File.DataOffset + File.GetTensorInfo(ggufName).Offset;
        return true;
    }

    private string FilePath => File.FilePath;

    /// <summary>
    /// Opens <paramref name="file"/> as a model's tensor source and runs <paramref name="construct"/> on it, with
    /// everything a mapped load does around that: the repack cache opened first, the prefault, and after construction
    /// the unmapping of load-only pages and the cache build. The model owns the source; on failure it is disposed.
    /// </summary>
    public static T LoadModel<T>(GgufFile file, ModelLoadOptions options, Func<GgufTensorSource, T> construct)
    {
        var source = new GgufTensorSource(file);
        try
        {
            if (options.Weights == WeightPlacement.Mapped)
            {
                if (options.RepackCacheDirectory is string repacked) source.OpenRepackCache(repacked);
                source.PrefaultInBackground(RowTables.Of(file.Tensors.Select(t => t.Name)));
            }
            T model = construct(source);
            source.FinishLoad();
            source.BuildRepackCache(options.WaitForRepackCache);
            return model;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps the pages a first prompt will read before it reads them (~20,000 page faults at E2B fewer; a cold page
    /// cache starts reading from disk early). Runs of wholly read tensors get huge-page advice
    /// (<see cref="MemoryAdvice.HugePages"/>) so a cold page cache brings them in as 2 MiB pages; row tables
    /// (<paramref name="partlyRead"/>: the PLE table, an untied token embedding, MoE experts) never are mapped whole and
    /// keep small folios, so a token's row costs 4 KiB of memory, not 2 MiB. Without a repack cache the file's tensors
    /// are mapped on a background thread while the tokenizer loads. With one, the cache is mapped here, before the
    /// first forward pass, and the file's tensors wait for <see cref="FinishLoad"/>, which knows which the model still
    /// reads. <see cref="Dispose"/> stops the thread.
    /// </summary>
    private unsafe void PrefaultInBackground(IReadOnlyCollection<string> partlyRead)
    {
        List<(nint Start, nint End, nint Floor)> whole = Runs(info => !partlyRead.Contains(info.Name));
        foreach ((nint start, nint end, _) in whole) MemoryAdvice.HugePages((byte*)start, end - start);
        SmallFoliosForRowTables(partlyRead);
        if (_repacked is null)
        {
            StartPrefault(whole);
            return;
        }
        // One pass from the data region's 2 MiB-aligned start: every 2 MiB page is then first touched at its start,
        // which is what lets the kernel map a cached 2 MiB folio with one entry (the prompt's workers, touching
        // matrices mid-way, would get 4 KiB entries: half the cache ended up in huge pages that way). A cached cache
        // maps in milliseconds, an evicted one is read now instead of by the prompt, in 2 MiB folios thanks to the advice.
        (nint data, long length) = _repacked.Data;
        MemoryAdvice.HugePages((byte*)data, length);
        Prefault([(data, data + (nint)length, data)]);
        if (ShouldRereadInLargeFolios(data, length))
        {
            _repacked.DropData();
            Prefault([(data, data + (nint)length, data)]);
        }
        _partlyRead = partlyRead;
    }

    /// <summary>
    /// True when the repack cache just mapped largely through 4 KiB entries, so the page cache holds much of it in small
    /// folios (it was last read while memory was fragmented; one compare run here found 848 of its 1243 MiB in 2 MiB
    /// pages), and enough free 2 MiB blocks exist now to read it again in large ones. Left so, every decode step pays TLB
    /// misses on the small-folio part; read again from disk, it costs a second or two once (Gemma 4 E2B Q4_0: 848 MiB
    /// -> 1.20 GiB in 2 MiB pages, load 1.9 s instead of 0.2), and later loads find it cached whole.
    /// </summary>
    private static bool ShouldRereadInLargeFolios(nint data, long length)
    {
        long whole = (((long)data + length) & ~(HugePage - 1)) - (((long)data + HugePage - 1) & ~(HugePage - 1));
        return ProcessMemory.PmdMappedBytes(data, length) is { } mapped && ProcessMemory.FreeHugePageBlocks() is { } free
            && ShouldReread(whole, mapped, free);
    }

    /// <summary>
    /// The decision of <see cref="ShouldRereadInLargeFolios"/> for <paramref name="whole"/> bytes of whole 2 MiB pages, of
    /// which <paramref name="mapped"/> map through 2 MiB entries, with <paramref name="freeBlocks"/> free 2 MiB blocks.
    /// Only where some of it already maps in 2 MiB pages (proof that this kernel and filesystem cache the file in large
    /// folios: elsewhere every load would read it again for nothing), less than three quarters does (a re-read gave 97%
    /// here, so a cache read again does not qualify next time), and the missing part fits twice over in free blocks (the
    /// page cache takes what it reads from the same pool as everyone; short of it, the read gives small folios again).
    /// </summary>
    internal static bool ShouldReread(long whole, long mapped, long freeBlocks)
        => whole >= MinRereadBytes && mapped > 0 && mapped < whole * 3 / 4 && freeBlocks * HugePage >= 2 * (whole - mapped);

    /// <summary>Caches smaller than this (tests' tiny models) are never read again: their TLB cost is negligible.</summary>
    private const long MinRereadBytes = 64L << 20;

    private void StartPrefault(List<(nint Start, nint End, nint Floor)> runs)
    {
        _prefault = new Thread(() => Prefault(runs)) { IsBackground = true, Name = "edgewise prefault" };
        _prefault.Start();
    }

    /// <summary>
    /// [start, end) of each run of file-adjacent tensors that <paramref name="include"/> accepts, in file order, with
    /// the end of the last tensor before it that it does not accept (or the file's start): how far down a prefault of
    /// the run may round without mapping bytes that are not to be mapped.
    /// </summary>
    private unsafe List<(nint Start, nint End, nint Floor)> Runs(Func<GgufTensorInfo, bool> include)
    {
        var byOffset = new List<GgufTensorInfo>(File.Tensors);
        byOffset.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        var runs = new List<(nint Start, nint End, nint Floor)>();
        nint runStart = 0, runEnd = 0, excludedEnd = FileStart();
        foreach (GgufTensorInfo info in byOffset)
        {
            TensorView view = File.GetTensor(info.Name);
            if (!include(info))
            {
                if (runStart != 0) runs.Add((runStart, runEnd, excludedEnd));
                runStart = 0;
                excludedEnd = (nint)(view.Data + view.ByteLength);
                continue;
            }
            if (runStart == 0) runStart = (nint)view.Data;
            runEnd = (nint)(view.Data + view.ByteLength);
        }
        if (runStart != 0) runs.Add((runStart, runEnd, excludedEnd));
        return runs;
    }

    /// <summary>
    /// A row table cached in large folios (the file was read sequentially, e.g. copied, checksummed or loaded by
    /// another engine) would enter the resident set 2 MiB per row touched: Linux maps a whole large folio on the first
    /// touch of any page. Such a table leaves the page cache now (pages other processes map stay), and its rows come
    /// back from disk one small folio at a time.
    /// </summary>
    private unsafe void SmallFoliosForRowTables(IReadOnlyCollection<string> partlyRead)
    {
        foreach (string name in partlyRead)
        {
            if (!File.TryGetTensor(name, out TensorView view) || !MemoryAdvice.MapsLargeFolios(view.Data, view.ByteLength)) continue;
            MemoryAdvice.UnmapAndDrop(view.Data, view.ByteLength, FilePath, File.DataOffset + File.GetTensorInfo(name).Offset);
        }
    }

    /// <summary>The first byte of the mapped file (tensor views are offsets into it).</summary>
    private unsafe nint FileStart()
    {
        foreach (GgufTensorInfo info in File.Tensors) return (nint)File.GetTensor(info.Name).Data - (nint)(File.DataOffset + info.Offset);
        return 0;
    }

    /// <param name="runs">Ranges to map, each with the lowest address its rounding down may reach.</param>
    private unsafe void Prefault(List<(nint Start, nint End, nint Floor)> runs)
    {
        foreach ((nint start, nint end, nint floor) in runs)
        {
            // From the 2 MiB boundary at or below the run (never below its floor, the end of bytes not to be mapped):
            // the kernel maps a cached 2 MiB folio with one PMD entry only when the first touch of that 2 MiB page
            // falls in its first 64 KiB; touched first in the middle, as a run that starts mid-page would, it gets
            // 512 PTEs instead.
            nint first = Math.Max(start & ~(nint)(HugePage - 1), floor);
            for (nint p = first; p < end; p += (nint)PrefaultChunk)
            {
                if (_stop) return;
                if (!MemoryAdvice.PopulateRead((byte*)p, Math.Min(PrefaultChunk, end - p))) return;
            }
        }
    }

    /// <summary>
    /// Uses (and, after <see cref="BuildRepackCache"/>, keeps up to date) the repack cache of this file in
    /// <paramref name="directory"/>: Q4_0 and Q8_0 matrices stored interleaved by an earlier load, served by
    /// <see cref="TryGetInterleaved"/>, and the model's derived matrices, served by <see cref="TryGetDerived"/>.
    /// Opened before <see cref="PrefaultInBackground"/>, so the prefault maps the cache's pages instead of the file's.
    /// </summary>
    private void OpenRepackCache(string directory)
    {
        _repackPath = RepackCache.FileFor(directory, FilePath);
        _repacked = RepackCache.TryOpen(_repackPath, FilePath);
    }

    /// <summary>The repack cache's copy of <paramref name="ggufName"/>, when one is open and holds it with this shape.</summary>
    internal bool TryGetInterleaved(string ggufName, int rows, int columns, out WeightMatrix matrix)
    {
        matrix = null!;
        if (_repacked is null || !_repacked.TryGetInterleaved(ggufName, rows, columns, out matrix)) return false;
        lock (_served) _served.Add(ggufName);
        return true;
    }

    /// <summary>
    /// The repack cache's copy of a matrix the model derives from this file's tensors, when one is open and holds it
    /// with this type and shape. With a cache directory the producer is kept either way: on a miss the cache build
    /// runs it, and a rebuild for any other reason writes it again (a partial cache is rewritten whole).
    /// </summary>
    internal bool TryGetDerived(DerivedMatrix derived, out WeightMatrix matrix)
    {
        matrix = null!;
        if (_repackPath is null) return false;
        bool hit = _repacked is not null && _repacked.TryGetDerived(derived.Name, derived.Type, derived.Rows, derived.Columns, out matrix);
        lock (_derived)
        {
            _derived.Add(derived);
            if (!hit) _derivedMissing++;
        }
        return hit;
    }

    /// <summary>A tensor the model reads from this file's mapping while it runs (not only while it loads).</summary>
    internal void NoteReadAtRuntime(string ggufName)
    {
        if (_repacked is null) return;   // only FinishLoad, with a cache, asks
        lock (_readAtRuntime) _readAtRuntime.Add(ggufName);
    }

    /// <summary>
    /// With a repack cache, most of the file is read only while the model loads (norm vectors copied out, header),
    /// or not at all (the matrices the cache holds); but every page read maps its whole cached folio, up to 2 MiB
    /// that also covers neighbouring tensors. This unmaps the file except the tensors the model reads at run time
    /// (<see cref="NoteReadAtRuntime"/>) and the row tables, then prefaults those in the background. Unmapping is
    /// always safe: a page still needed maps again on its next touch. Without a cache, does nothing.
    /// </summary>
    private unsafe void FinishLoad()
    {
        if (_partlyRead is null) return;
        IReadOnlyCollection<string> partlyRead = _partlyRead;
        HashSet<string> kept;
        lock (_readAtRuntime) kept = new HashSet<string>(_readAtRuntime, StringComparer.Ordinal);
        foreach (string name in partlyRead) kept.Add(name);
        nint mappingStart = FileStart(), at = mappingStart;
        foreach ((nint start, nint end, _) in Runs(info => kept.Contains(info.Name)))
        {
            // The gap before this run, whole pages only: the pages at the edges hold kept bytes.
            nint gapEnd = start & ~(nint)(Page - 1);
            if (gapEnd > at) MemoryAdvice.Unmap((byte*)at, gapEnd - at);
            at = (end + Page - 1) & ~(nint)(Page - 1);
        }
        nint fileEnd = mappingStart + (nint)File.Length;
        if (fileEnd > at) MemoryAdvice.Unmap((byte*)at, (fileEnd - at) & ~(nint)(Page - 1));
        StartPrefault(Runs(info => kept.Contains(info.Name) && !partlyRead.Contains(info.Name)));
    }

    /// <summary>A mapped Q4_0 or Q8_0 matrix that a model wanted interleaved and the cache did not hold.</summary>
    internal void NoteNotInterleaved(WeightMatrix mapped)
    {
        if (_repackPath is null) return;
        lock (_notInterleaved) _notInterleaved.Add(mapped);
    }

    /// <summary>
    /// When the model asked for interleaved or derived matrices that the cache lacks (first load, or the model file
    /// changed), writes a complete cache for the next load: on a low-priority background thread, or before returning
    /// with <paramref name="wait"/>. This load keeps its plain matrices, and computes its derived ones itself, either
    /// way. A full disk or an unwritable directory only costs the speed-up; <see cref="Dispose"/> stops an unfinished
    /// build and leaves no file behind.
    /// </summary>
    private void BuildRepackCache(bool wait)
    {
        if (_repackPath is null || (_notInterleaved.Count == 0 && _derivedMissing == 0)) return;
        // Every matrix, not only the missing ones, from the file's plain layout: a partial cache is rewritten whole.
        var all = new List<WeightMatrix>(_notInterleaved);
        foreach (string name in _served) all.Add(WeightMatrix.Create(File.GetTensor(name)));
        var derived = new List<DerivedMatrix>(_derived);
        string path = _repackPath, directory = System.IO.Path.GetDirectoryName(path)!;
        long bytes = 0;
        foreach (WeightMatrix m in all) bytes += m.RowBytes * m.Rows;
        foreach (DerivedMatrix d in derived) bytes += d.Bytes;
        _repackBuild = new Thread(() =>
        {
            BackgroundPriority.LowerCurrentThread();
            try
            {
                RepackCache.RemoveOrphans(directory);
                Directory.CreateDirectory(directory);
                // Leave a margin: the cache is an optimisation, never worth filling the disk.
                if (new DriveInfo(System.IO.Path.GetFullPath(directory)).AvailableFreeSpace < bytes + (1L << 30)) return;
                RepackCache.Write(path, FilePath, all, derived, () => _stop);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Read-only or full: this model keeps running on plain matrices; the next load tries again.
            }
        })
        { IsBackground = true, Name = "edgewise repack cache" };
        _repackBuild.Start();
        if (wait) _repackBuild.Join();
    }

    public void Dispose()
    {
        // The threads touch the mapping: stop them before the file is unmapped.
        _stop = true;
        _prefault?.Join();
        _repackBuild?.Join();
        _repacked?.Dispose();
        File.Dispose();
    }
}
