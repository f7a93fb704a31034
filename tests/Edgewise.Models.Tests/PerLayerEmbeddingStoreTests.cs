using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests;

/// <summary>The three PLE placements (<c>--ple mmap|resident|stream</c>) serve the same rows and the same logits.</summary>
public sealed class PerLayerEmbeddingStoreTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void Every_mode_gives_bit_identical_logits(GgmlType dtype)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, dtype);
        int[] tokens = TestShapes.Tokens(20, TestShapes.EModel.Vocab, seed: 5);
        tokens[7] = tokens[3];   // a repeat: the stream cache serves it without a read
        float[][] mapped = TestShapes.EdgewiseLogits(path, tokens);
        foreach (PerLayerEmbeddingMode mode in new[] { PerLayerEmbeddingMode.Resident, PerLayerEmbeddingMode.Stream })
        {
            var options = new ModelLoadOptions { Threads = 2, PerLayerEmbeddings = mode, PerLayerEmbeddingCacheBytes = 3 << 10 };
            float[][] other = TestShapes.EdgewiseLogits(path, tokens, options);
            for (int i = 0; i < tokens.Length; i++) Assert.Equal(mapped[i], other[i]);
        }
    }

    [Fact]
    public void Stream_cache_reads_each_row_once_until_evicted()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, GgmlType.Q8_0);
        using GgufFile file = GgufFile.Open(path);
        GgufTensorInfo info = file.GetTensorInfo(Gemma4TensorNames.PerLayerTokenEmbedding);
        WeightMatrix table = WeightMatrix.Create(file.GetTensor(info.Name));
        long rowBytes = table.RowBytes;
        using var store = new StreamingPerLayerEmbeddingStore(path, file.DataOffset + info.Offset, table.Type, table.Rows, table.Columns, 2 * rowBytes);
        Assert.Equal(2, store.Capacity);

        var expected = new float[table.Columns];
        var row = new float[table.Columns];
        int[] reads = [5, 9, 5, 9, 11, 5, 9, table.Rows + 3];
        // Misses so far: 11 evicts 5 (9 was used later), 5 then evicts 9, 9 evicts 11; an out-of-range id reads row 0.
        long[] bytesAfter = [1, 2, 2, 2, 3, 4, 5, 6];
        for (int i = 0; i < reads.Length; i++)
        {
            store.ReadRow(reads[i], row);
            table.DequantizeRow(reads[i] < table.Rows ? reads[i] : 0, expected);
            Assert.Equal(expected, row);
            Assert.Equal(bytesAfter[i] * rowBytes, store.BytesRead);
        }
        Assert.Equal(reads.Length, store.RowsServed);
    }

    [Fact]
    public void Stream_mode_rejects_a_file_too_short_for_the_table()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, GgmlType.Q8_0);
        long length = new FileInfo(path).Length;
        var ex = Assert.Throws<Edgewise.Core.Formats.ModelFormatException>(
            () => new StreamingPerLayerEmbeddingStore(path, length - 100, GgmlType.Q8_0, 4, 256, 1 << 20));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Equal(length - 100, ex.Offset);
    }

    [Theory]
    [InlineData("64MB", 64L << 20)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("4096", 4096L)]
    public void Cache_sizes_parse(string text, long bytes) => Assert.Equal(bytes, PerLayerEmbeddingStore.ParseSize(text));

    [Theory]
    [InlineData("")]
    [InlineData("MB")]
    [InlineData("12 parsecs")]
    public void Bad_cache_sizes_are_rejected(string text) => Assert.Throws<FormatException>(() => PerLayerEmbeddingStore.ParseSize(text));

    [Theory]
    [InlineData("mmap", PerLayerEmbeddingMode.Mapped)]
    [InlineData("Resident", PerLayerEmbeddingMode.Resident)]
    [InlineData("stream", PerLayerEmbeddingMode.Stream)]
    public void Modes_parse(string text, PerLayerEmbeddingMode mode) => Assert.Equal(mode, PerLayerEmbeddingStore.ParseMode(text));
}
