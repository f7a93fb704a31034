using Edgewise.Core.Kernels;

namespace Edgewise.Models.Common;

/// <summary>
/// Where the per-layer embedding (PLE) table lives. Only <see cref="Mapped"/> exists today; the others are the
/// planned modes the <see cref="IPerLayerEmbeddingStore"/> interface is shaped for.
/// </summary>
public enum PerLayerEmbeddingMode
{
    /// <summary>The table stays in the memory-mapped model file; a token touches only its own row's pages.</summary>
    Mapped,

    /// <summary>Planned: the whole table copied into memory (fast lookups, full cost in RAM).</summary>
    Resident,

    /// <summary>Planned: positioned file reads into a bounded LRU of rows (no mapping at all).</summary>
    Stream,
}

/// <summary>
/// The PLE lookup table (Gemma 3n / Gemma 4 <c>embed_tokens_per_layer</c>, GGUF <c>per_layer_token_embd</c>):
/// one row of <c>layers × P</c> values per token. It is the largest tensor of an E-model (2–2.8 B values), and
/// each token needs one row of it, so a store hands out rows, never the table.
/// </summary>
public interface IPerLayerEmbeddingStore
{
    /// <summary>Rows in the table; token ids at or beyond it read row 0 (HF maps such ids to the pad row).</summary>
    int RowCount { get; }

    /// <summary>Values per row (<c>layers × P</c>).</summary>
    int RowWidth { get; }

    PerLayerEmbeddingMode Mode { get; }

    /// <summary>Writes the dequantized, unscaled row of <paramref name="token"/> into <paramref name="destination"/>.</summary>
    void ReadRow(int token, Span<float> destination);
}

/// <summary>
/// <see cref="PerLayerEmbeddingMode.Mapped"/>: dequantizes one row straight from the mapped file. Nothing is
/// copied at load; the OS pages in the few KB a token's row covers.
/// </summary>
public sealed class MappedPerLayerEmbeddingStore : IPerLayerEmbeddingStore
{
    private readonly WeightMatrix _table;

    public MappedPerLayerEmbeddingStore(WeightMatrix table)
    {
        _table = table;
    }

    public int RowCount => (int)_table.Rows;
    public int RowWidth => (int)_table.Columns;
    public PerLayerEmbeddingMode Mode => PerLayerEmbeddingMode.Mapped;

    public void ReadRow(int token, Span<float> destination)
    {
        int row = (uint)token < (uint)RowCount ? token : 0;
        _table.DequantizeRow(row, destination[..RowWidth]);
    }
}
