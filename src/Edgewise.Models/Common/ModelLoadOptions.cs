using Edgewise.Core.Threading;

namespace Edgewise.Models.Common;

/// <summary>How a model is loaded and run. The defaults suit one interactive session on this machine.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Threads for matmuls and attention, the caller included; ignored when <see cref="Pool"/> is given.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>A pool to share between models; the model then does not own (or dispose) it.</summary>
    public WorkerPool? Pool { get; init; }

    public KvCacheType KvCacheType { get; init; } = KvCacheType.F32;

    /// <summary>Prompt tokens processed per chunk; sliding-window rings hold window + this − 1 positions.</summary>
    public int MaxBatch { get; init; } = 64;

    public PerLayerEmbeddingMode PerLayerEmbeddings { get; init; } = PerLayerEmbeddingMode.Mapped;

    /// <summary>
    /// Where matrices that every token reads in full go. <see cref="WeightPlacement.Mapped"/> (the default) maps the
    /// file: instant load, and with a <see cref="RepackCacheDirectory"/> the Q4_0 and Q8_0 matrices come interleaved
    /// from the repack cache after the first load. <see cref="WeightPlacement.HugePages"/> copies them into huge-page
    /// memory at load (interleaved as they are read): the same kernels without a cache file, for ~4 s of kernel CPU at E2B
    /// Q4_0 here (page zeroing and copying), which a cold start cannot afford. Tables read a row at a time (token and
    /// PLE embeddings, routed experts) stay mapped either way.
    /// </summary>
    public WeightPlacement Weights { get; init; } = WeightPlacement.Mapped;

    /// <summary>
    /// Where mapped GGUF models keep their repack cache (<see cref="Edgewise.Core.Kernels.RepackCache"/>: Q4_0 and Q8_0 matrices
    /// stored interleaved and matrices a model derives from its weights, written once in the background, mapped on
    /// later loads for the interleaved kernels with no load-time copy or computation); null turns it off. The CLI and server use <c>EDGEWISE_HOME/repacked</c>.
    /// </summary>
    public string? RepackCacheDirectory { get; init; }

    /// <summary>Build a missing repack cache during the load instead of in the background (benchmarks, <c>pull</c>).</summary>
    public bool WaitForRepackCache { get; init; }

    /// <summary>Row cache of <see cref="PerLayerEmbeddingMode.Stream"/> in bytes (<c>--ple-cache</c>); at least one row is kept.</summary>
    public long PerLayerEmbeddingCacheBytes { get; init; } = PerLayerEmbeddingStore.DefaultCacheBytes;

    public static ModelLoadOptions Default { get; } = new();
}

/// <summary>Where dense weight matrices live once loaded.</summary>
public enum WeightPlacement
{
    /// <summary>
    /// Views of the memory-mapped file: instant load, shared with the page cache. The matrices get huge-page advice, so
    /// on Linux 6.x with a large-folio filesystem a cold page cache maps them in 2 MiB pages too.
    /// </summary>
    Mapped,

    /// <summary>Read into 2 MiB-aligned memory with transparent huge pages requested.</summary>
    HugePages,
}
