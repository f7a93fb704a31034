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

    /// <summary>Row cache of <see cref="PerLayerEmbeddingMode.Stream"/> in bytes (<c>--ple-cache</c>); at least one row is kept.</summary>
    public long PerLayerEmbeddingCacheBytes { get; init; } = PerLayerEmbeddingStore.DefaultCacheBytes;

    public static ModelLoadOptions Default { get; } = new();
}
