using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Core.Tests.Formats;
using Edgewise.Core.Threading;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public sealed class RepackCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _source;
    private readonly WeightMatrix[] _plain;

    public RepackCacheTests()
    {
        // The "model file" is only an identity (length and write time) for the cache; the matrices come from memory.
        _source = _dir.File("model.gguf");
        File.WriteAllBytes(_source, new byte[1000]);
        var random = new Random(17);
        _plain = [Matrix("blk.0.attn_q.weight", 64, 96, random), Matrix("output.weight", 1008, 64, random), Matrix("blk.0.ffn_down.weight", 48, 160, random)];
    }

    public void Dispose() => _dir.Dispose();

    private static WeightMatrix Matrix(string name, int rows, int columns, Random random)
    {
        var values = new float[rows * columns];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return WeightMatrix.FromRows(name, GgmlType.Q4_0, values, rows, columns);
    }

    private string CachePath => RepackCache.FileFor(_dir.File("repacked"), _source);

    /// <summary>A derived matrix whose producer writes the bytes of <see cref="WeightMatrix.FromRows"/> over seeded values.</summary>
    private static (DerivedMatrix Derived, WeightMatrix Expected) Derived(string name, GgmlType type, int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var values = new float[rows * columns];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        WeightMatrix expected = WeightMatrix.FromRows(name, type, values, rows, columns);
        return (new DerivedMatrix(name, type, rows, columns, destination => Bytes(expected).CopyTo(destination)), expected);
    }

    private static unsafe ReadOnlySpan<byte> Bytes(WeightMatrix m) => new(m.RowPointer(0), checked((int)m.ByteLength));

    [Fact]
    public void A_written_cache_serves_the_interleaved_bytes_of_every_matrix()
    {
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        using RepackCache cache = RepackCache.TryOpen(CachePath, _source) ?? throw new Xunit.Sdk.XunitException("cache did not open");
        Assert.Equal(_plain.Select(m => m.Name).Order(), cache.Names.Order());
        using var pool = new WorkerPool(2);
        foreach (WeightMatrix plain in _plain)
        {
            Assert.True(cache.TryGetInterleaved(plain.Name, plain.Rows, plain.Columns, out WeightMatrix cached));
            Assert.True(cached.IsInterleaved);
            WeightMatrix reference = plain.Interleave();
            var x = new float[plain.Columns];
            for (int i = 0; i < x.Length; i++) x[i] = MathF.Sin(i + 1);
            float[] expected = new float[plain.Rows], actual = new float[plain.Rows];
            reference.MatVec(x, expected, pool);
            cached.MatVec(x, actual, pool);
            Assert.Equal(expected, actual);   // same bytes, same kernel: bit for bit
            float[] row = new float[plain.Columns], cachedRow = new float[plain.Columns];
            plain.DequantizeRow(plain.Rows - 1, row);
            cached.DequantizeRow(plain.Rows - 1, cachedRow);
            Assert.Equal(row, cachedRow);
        }
        Assert.False(cache.TryGetInterleaved("output.weight", 1008, 32, out _));   // another shape is another tensor
        Assert.False(cache.TryGetInterleaved("blk.1.attn_q.weight", 64, 96, out _));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(CachePath)!, "*.tmp"));
    }

    [Fact]
    public void Derived_matrices_of_every_plain_type_come_back_byte_for_byte_beside_the_interleaved_ones()
    {
        (DerivedMatrix Derived, WeightMatrix Expected)[] derived =
        [
            Derived("blk.3.ffn_down.weight.T", GgmlType.Q8_0, 160, 64, 1),
            Derived("f16.T", GgmlType.F16, 7, 40, 2),
            Derived("bf16.T", GgmlType.BF16, 33, 24, 3),
            Derived("f32.T", GgmlType.F32, 5, 3, 4),
        ];
        Assert.True(RepackCache.Write(CachePath, _source, _plain, [.. derived.Select(d => d.Derived)]));
        using RepackCache cache = RepackCache.TryOpen(CachePath, _source) ?? throw new Xunit.Sdk.XunitException("cache did not open");
        Assert.Equal(_plain.Length + derived.Length, cache.Names.Count);
        (nint dataStart, long dataLength) = cache.Data;
        foreach ((DerivedMatrix d, WeightMatrix expected) in derived)
        {
            Assert.True(cache.TryGetDerived(d.Name, d.Type, d.Rows, d.Columns, out WeightMatrix cached));
            Assert.Equal((d.Name, d.Type, d.Rows, d.Columns, false), (cached.Name, cached.Type, cached.Rows, cached.Columns, cached.IsInterleaved));
            Assert.True(Bytes(expected).SequenceEqual(Bytes(cached)));
            // The prefault's span covers the derived entries too.
            unsafe
            {
                Assert.InRange((nint)cached.RowPointer(0), dataStart, dataStart + (nint)dataLength - (nint)d.Bytes);
            }
            // Another type or shape is another matrix, and a derived entry is never served as an interleaved one.
            Assert.False(cache.TryGetDerived(d.Name, d.Type == GgmlType.F32 ? GgmlType.F16 : GgmlType.F32, d.Rows, d.Columns, out _));
            Assert.False(cache.TryGetDerived(d.Name, d.Type, d.Rows + 1, d.Columns, out _));
            Assert.False(cache.TryGetInterleaved(d.Name, d.Rows, d.Columns, out _));
        }
        foreach (WeightMatrix plain in _plain)
        {
            Assert.True(cache.TryGetInterleaved(plain.Name, plain.Rows, plain.Columns, out WeightMatrix interleaved));
            Assert.True(interleaved.IsInterleaved);
            Assert.False(cache.TryGetDerived(plain.Name, GgmlType.Q4_0, plain.Rows, plain.Columns, out _));
        }
    }

    [Fact]
    public void Dropping_the_data_from_the_page_cache_keeps_every_matrix_readable()
    {
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        using RepackCache cache = RepackCache.TryOpen(CachePath, _source) ?? throw new Xunit.Sdk.XunitException("cache did not open");
        var before = new Dictionary<string, float[]>();
        foreach (WeightMatrix plain in _plain)
        {
            Assert.True(cache.TryGetInterleaved(plain.Name, plain.Rows, plain.Columns, out WeightMatrix cached));
            before[plain.Name] = Rows(cached);
        }
        cache.DropData();   // unmapped and evicted: the next reads come from the file
        foreach (WeightMatrix plain in _plain)
        {
            Assert.True(cache.TryGetInterleaved(plain.Name, plain.Rows, plain.Columns, out WeightMatrix cached));
            Assert.Equal(before[plain.Name], Rows(cached));
            Assert.Equal(Rows(plain), Rows(cached));
        }

        static float[] Rows(WeightMatrix m)
        {
            var all = new float[m.Rows * m.Columns];
            for (int r = 0; r < m.Rows; r++) m.DequantizeRow(r, all.AsSpan(r * m.Columns, m.Columns));
            return all;
        }
    }

    [Fact]
    public void A_cache_of_the_previous_version_is_stale_and_a_rewrite_replaces_it()
    {
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        byte[] bytes = File.ReadAllBytes(CachePath);
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 4), 4u);   // version 4: entries without layout and type
        File.WriteAllBytes(CachePath, bytes);
        Assert.Null(RepackCache.TryOpen(CachePath, _source));
        RepackCache.RemoveOrphans(Path.GetDirectoryName(CachePath)!);
        Assert.True(File.Exists(CachePath));   // its model file exists: the next build overwrites it in place
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        using RepackCache? rewritten = RepackCache.TryOpen(CachePath, _source);
        Assert.NotNull(rewritten);
    }

    [Fact]
    public void A_write_stopped_before_a_producer_runs_it_not_and_leaves_no_file()
    {
        bool produced = false;
        var derived = new DerivedMatrix("late.T", GgmlType.F32, 2, 2, destination => produced = true);
        int calls = 0;
        // One call per interleaved chunk (one chunk per small matrix), then one before each producer.
        Assert.False(RepackCache.Write(CachePath, _source, _plain, [derived], stop: () => ++calls > _plain.Length));
        Assert.False(produced);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(CachePath)!));
    }

    [Fact]
    public void Derived_matrices_need_unique_names_and_a_type_the_kernels_read()
    {
        var q51 = new DerivedMatrix("q51.T", GgmlType.Q5_1, 2, 32, _ => { });
        Assert.Contains("q51.T", Assert.Throws<ArgumentException>(() => RepackCache.Write(CachePath, _source, [], [q51])).Message, StringComparison.Ordinal);
        var clash = new DerivedMatrix(_plain[0].Name, GgmlType.F32, 2, 2, _ => { });
        Assert.Throws<ArgumentException>(() => RepackCache.Write(CachePath, _source, _plain, [clash]));
        Assert.False(File.Exists(CachePath));
    }

    [Fact]
    public void A_changed_model_file_makes_the_cache_stale()
    {
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        File.SetLastWriteTimeUtc(_source, File.GetLastWriteTimeUtc(_source).AddSeconds(5));
        Assert.Null(RepackCache.TryOpen(CachePath, _source));
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        File.AppendAllText(_source, "x");
        Assert.Null(RepackCache.TryOpen(CachePath, _source));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("empty")]
    public void A_damaged_cache_is_ignored_without_an_exception(string damage)
    {
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        DateTime stamp = File.GetLastWriteTimeUtc(CachePath);
        switch (damage)
        {
            case "truncated":
                using (FileStream f = File.OpenWrite(CachePath)) f.SetLength(f.Length - 4096);
                break;
            case "garbage":
                byte[] bytes = File.ReadAllBytes(CachePath);
                bytes[40] ^= 0xFF;   // inside the source path's length or the first name
                bytes[36] ^= 0xFF;
                File.WriteAllBytes(CachePath, bytes);
                break;
            default:
                File.WriteAllBytes(CachePath, []);
                break;
        }
        File.SetLastWriteTimeUtc(CachePath, stamp);
        Assert.Null(RepackCache.TryOpen(CachePath, _source));
    }

    [Fact]
    public void A_stopped_write_leaves_no_file_behind()
    {
        int calls = 0;
        Assert.False(RepackCache.Write(CachePath, _source, _plain, stop: () => ++calls > 1));
        Assert.False(File.Exists(CachePath));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(CachePath)!));
    }

    [Fact]
    public void Only_plain_interleavable_Q4_0_matrices_can_be_cached()
    {
        var ex = Assert.Throws<ArgumentException>(() => RepackCache.Write(CachePath, _source, [_plain[0].Interleave()]));
        Assert.Contains("blk.0.attn_q.weight", ex.Message, StringComparison.Ordinal);
        WeightMatrix q8 = WeightMatrix.FromRows("q8", GgmlType.Q8_0, new float[8 * 32], 8, 32);
        Assert.Throws<ArgumentException>(() => RepackCache.Write(CachePath, _source, [q8]));
    }

    [Fact]
    public void Orphans_of_deleted_model_files_are_removed_and_the_others_kept()
    {
        string other = _dir.File("other.gguf");
        File.WriteAllBytes(other, new byte[10]);
        string directory = _dir.File("repacked");
        string otherCache = RepackCache.FileFor(directory, other);
        Assert.True(RepackCache.Write(CachePath, _source, _plain));
        Assert.True(RepackCache.Write(otherCache, other, [_plain[0]], [Derived("d.T", GgmlType.Q8_0, 4, 32, 5).Derived]));
        Assert.NotEqual(CachePath, otherCache);
        File.Delete(other);
        // A cache of the older eight-row layout, for a model that still exists: nothing can read it any more.
        string legacy = Path.ChangeExtension(CachePath, ".q4x8");
        File.Copy(CachePath, legacy);
        RepackCache.RemoveOrphans(directory);
        Assert.True(File.Exists(CachePath));
        Assert.False(File.Exists(otherCache));
        Assert.False(File.Exists(legacy));
    }
}
