using Edgewise.Core.Kernels;

namespace Edgewise.Models.Common;

/// <summary>Where the per-layer embedding (PLE) table lives (<c>--ple mmap|resident|stream</c>).</summary>
public enum PerLayerEmbeddingMode
{
    /// <summary>The table stays in the memory-mapped model file; a token touches only its own row's pages.</summary>
    Mapped,

    /// <summary>The whole table read into memory at load: lookups never fault, the table costs its full size in RAM.</summary>
    Resident,

    /// <summary>Positioned file reads into a bounded LRU of rows; the table never enters the page cache wholesale.</summary>
    Stream,
}

/// <summary>
/// The PLE lookup table (Gemma 3n / Gemma 4 <c>embed_tokens_per_layer</c>, GGUF <c>per_layer_token_embd</c>):
/// one row of <c>layers × P</c> values per token. It is the largest tensor of an E-model (2–2.8 B values), and
/// each token needs one row of it, so a store hands out rows, never the table. Stores are shared by every state
/// of a model and are safe to call from several threads.
/// </summary>
public interface IPerLayerEmbeddingStore : IDisposable
{
    /// <summary>Rows in the table; token ids at or beyond it read row 0 (HF maps such ids to the pad row).</summary>
    int RowCount { get; }

    /// <summary>Values per row (<c>layers × P</c>).</summary>
    int RowWidth { get; }

    PerLayerEmbeddingMode Mode { get; }

    /// <summary>Rows handed out so far (one per token processed).</summary>
    long RowsServed { get; }

    /// <summary>
    /// Table bytes pulled from the backing store so far: the row bytes touched for mapped and resident tables,
    /// the bytes read from the file (cache misses only) for a streaming one.
    /// </summary>
    long BytesRead { get; }

    /// <summary>Writes the dequantized, unscaled row of <paramref name="token"/> into <paramref name="destination"/>.</summary>
    void ReadRow(int token, Span<float> destination);
}

/// <summary>Opens the PLE table in the mode the load options ask for.</summary>
public static class PerLayerEmbeddingStore
{
    /// <summary>The default <c>--ple-cache</c>: 64 MiB holds ~7,000 E2B rows in Q8_0 (~13,000 in Q4_0).</summary>
    public const long DefaultCacheBytes = 64L << 20;

    /// <summary>The table <paramref name="name"/> of <paramref name="rows"/> × <paramref name="width"/> values, placed as <paramref name="options"/> say.</summary>
    public static IPerLayerEmbeddingStore Open(WeightReader reader, string name, long rows, long width, ModelLoadOptions options)
    {
        WeightMatrix table = reader.MappedMatrix(name, rows, width);
        switch (options.PerLayerEmbeddings)
        {
            case PerLayerEmbeddingMode.Mapped:
                return new MappedPerLayerEmbeddingStore(table);
            case PerLayerEmbeddingMode.Resident:
                // A file-backed table is read with positioned reads, so the copy does not also linger in the page cache.
                return reader.TryGetFileRange(name, out string file, out long offset)
                    ? new MappedPerLayerEmbeddingStore(WeightMatrix.ReadFromFile(name, table.Type, table.Rows, table.Columns, file, offset, dropFromPageCache: true), PerLayerEmbeddingMode.Resident)
                    : new MappedPerLayerEmbeddingStore(table.CopyToMemory(), PerLayerEmbeddingMode.Resident);
            case PerLayerEmbeddingMode.Stream:
                if (!reader.TryGetFileRange(name, out string path, out long start))
                {
                    throw ModelErrors.Field(reader.Path, name, "a tensor stored contiguously in one file (--ple stream)", "a tensor with no file range");
                }
                return new StreamingPerLayerEmbeddingStore(path, start, table.Type, table.Rows, table.Columns, options.PerLayerEmbeddingCacheBytes);
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.PerLayerEmbeddings, "Unknown PLE mode.");
        }
    }

    /// <summary>Parses <c>--ple</c>: <c>mmap</c> (or <c>mapped</c>), <c>resident</c>, <c>stream</c>.</summary>
    public static PerLayerEmbeddingMode ParseMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mmap" or "mapped" => PerLayerEmbeddingMode.Mapped,
        "resident" => PerLayerEmbeddingMode.Resident,
        "stream" => PerLayerEmbeddingMode.Stream,
        _ => throw new FormatException($"--ple: expected mmap, resident or stream; found '{text}'."),
    };

    /// <summary>Parses a size such as <c>64MB</c>, <c>512k</c>, <c>1GiB</c> or a plain byte count (units are powers of 1024).</summary>
    public static long ParseSize(string text)
    {
        string s = text.Trim().ToLowerInvariant();
        int split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.')) split++;
        string unit = s[split..].Trim();
        long multiplier = unit switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            _ => -1,
        };
        if (split == 0 || multiplier < 0 || !double.TryParse(s[..split], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) || value < 0)
        {
            throw new FormatException($"Expected a size such as 64MB, 512KB or 1GB; found '{text}'.");
        }
        return (long)(value * multiplier);
    }
}

/// <summary>
/// <see cref="PerLayerEmbeddingMode.Mapped"/> (rows dequantized straight from the mapped file: nothing copied at
/// load, the OS pages in the few KB a row covers) and <see cref="PerLayerEmbeddingMode.Resident"/> (the same over a
/// copy in memory).
/// </summary>
public sealed class MappedPerLayerEmbeddingStore : IPerLayerEmbeddingStore
{
    private readonly WeightMatrix _table;
    private long _rowsServed;

    public MappedPerLayerEmbeddingStore(WeightMatrix table, PerLayerEmbeddingMode mode = PerLayerEmbeddingMode.Mapped)
    {
        _table = table;
        Mode = mode;
    }

    public int RowCount => _table.Rows;
    public int RowWidth => _table.Columns;
    public PerLayerEmbeddingMode Mode { get; }
    public long RowsServed => Interlocked.Read(ref _rowsServed);
    public long BytesRead => RowsServed * _table.RowBytes;

    public void ReadRow(int token, Span<float> destination)
    {
        int row = (uint)token < (uint)RowCount ? token : 0;
        _table.DequantizeRow(row, destination[..RowWidth]);
        Interlocked.Increment(ref _rowsServed);
    }

    public void Dispose()
    {
    }
}
