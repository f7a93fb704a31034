using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.IO;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Common;

/// <summary>Tensors of a GGUF file (names are already GGUF names); owns the file.</summary>
public sealed class GgufTensorSource : ITensorSource
{
    // Pages mapped per madvise call: small enough that Dispose waits at most a few milliseconds for the prefault.
    private const long PrefaultChunk = 32L << 20;

    private Thread? _prefault;
    private volatile bool _stopPrefault;

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
    /// Maps the pages of every tensor except <paramref name="partlyRead"/> on a background thread, layers first in file
    /// order and the rest (the output head) last. A first prompt reads every one of those pages anyway; mapped now,
    /// while the tokenizer loads on one core, they cost the prompt no page faults (~20,000 at E2B), and a cold page
    /// cache starts reading from disk early. Tensors read only in part (the PLE table, an untied token embedding, MoE
    /// experts) must never be mapped whole. Before that, the runs of wholly read tensors get huge-page advice
    /// (<see cref="MemoryAdvice.HugePages"/>), so a cold page cache brings them in as 2 MiB pages; the partly read
    /// ones keep 4 KiB pages, so a token's row costs 4 KiB of memory, not 2 MiB. <see cref="Dispose"/> stops the thread.
    /// </summary>
    public void PrefaultInBackground(IReadOnlyCollection<string> partlyRead)
    {
        if (_prefault is not null) throw new InvalidOperationException($"{FilePath}: the prefault has already started.");
        var layers = new List<TensorView>();
        var rest = new List<TensorView>();
        AdviseHugePages(partlyRead);
        foreach (GgufTensorInfo info in File.Tensors)
        {
            if (partlyRead.Contains(info.Name)) continue;
            TensorView view = File.GetTensor(info.Name);
            (info.Name.StartsWith("blk.", StringComparison.Ordinal) ? layers : rest).Add(view);
        }
        layers.AddRange(rest);
        _prefault = new Thread(() => Prefault(layers)) { IsBackground = true, Name = "edgewise prefault" };
        _prefault.Start();
    }

    /// <summary>Huge-page advice over each run of file-adjacent tensors that are all read whole.</summary>
    private unsafe void AdviseHugePages(IReadOnlyCollection<string> partlyRead)
    {
        var byOffset = new List<GgufTensorInfo>(File.Tensors);
        byOffset.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        byte* runStart = null, runEnd = null;
        foreach (GgufTensorInfo info in byOffset)
        {
            TensorView view = File.GetTensor(info.Name);
            if (partlyRead.Contains(info.Name))
            {
                if (runStart != null) MemoryAdvice.HugePages(runStart, runEnd - runStart);
                runStart = null;
                continue;
            }
            if (runStart == null) runStart = view.Data;
            runEnd = view.Data + view.ByteLength;
        }
        if (runStart != null) MemoryAdvice.HugePages(runStart, runEnd - runStart);
    }

    private unsafe void Prefault(List<TensorView> tensors)
    {
        foreach (TensorView t in tensors)
        {
            for (long offset = 0; offset < t.ByteLength; offset += PrefaultChunk)
            {
                if (_stopPrefault) return;
                if (!MemoryAdvice.PopulateRead(t.Data + offset, Math.Min(PrefaultChunk, t.ByteLength - offset))) return;
            }
        }
    }

    public void Dispose()
    {
        // The thread touches the mapping: stop it before the file is unmapped.
        _stopPrefault = true;
        _prefault?.Join();
        File.Dispose();
    }
}
