using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma3n;

/// <summary>
/// The sparse layers' transposed down projections are derived matrices of the repack cache: the load that writes the
/// cache also writes them, and later loads map them instead of building them at the first decode step.
/// </summary>
public sealed class Gemma3nRepackCacheTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.F16)]
    public void Transposes_from_the_cache_are_the_built_ones_and_change_no_logit(GgmlType dtype)
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, dtype);
        string repacked = dir.File("repacked");
        var options = new ModelLoadOptions { Threads = 2, RepackCacheDirectory = repacked, WaitForRepackCache = true };

        using (Gemma3nModel first = Gemma3nModel.Load(GgufFile.Open(path), options))
        {
            // No cache yet: this load builds its transposes at the first decode step, as without one.
            Assert.True(first.Weights.SparseDownsPending);
            Assert.Null(first.Weights.Layers[0].DownTransposed);
            Assert.True(first.Weights.SparseDownBytes > 0);
        }
        string cachePath = RepackCache.FileFor(repacked, path);
        using (RepackCache cache = RepackCache.TryOpen(cachePath, path) ?? throw new Xunit.Sdk.XunitException("no cache was written"))
        {
            Assert.Contains("blk.0.ffn_down.weight.T", cache.Names);
            Assert.DoesNotContain("blk.10.ffn_down.weight.T", cache.Names);   // dense layers have no transpose
        }
        DateTime written = File.GetLastWriteTimeUtc(cachePath);

        using Gemma3nModel cached = Gemma3nModel.Load(GgufFile.Open(path), options);
        // The same interleaved kernels without a cache: huge-page copies, transposes built at the first decode step.
        using Gemma3nModel built = Gemma3nModel.Load(GgufFile.Open(path), new ModelLoadOptions { Threads = 2, Weights = WeightPlacement.HugePages });
        Assert.Equal(written, File.GetLastWriteTimeUtc(cachePath));   // a complete cache is not rewritten
        Assert.False(cached.Weights.SparseDownsPending);   // nothing left for the first decode step
        Assert.True(cached.Weights.HasSparseDowns);
        Assert.Equal(0, cached.Weights.SparseDownBytes);   // file pages, no memory of their own
        Assert.Equal("0", cached.Info.Extra["sparse_down_bytes"]);
        built.Weights.EnsureSparseDowns();
        Assert.True(built.Weights.SparseDownBytes > 0);
        int sparseLayers = 0;
        for (int i = 0; i < cached.Config.LayerCount; i++)
        {
            WeightMatrix? mapped = cached.Weights.Layers[i].DownTransposed, owned = built.Weights.Layers[i].DownTransposed;
            if (!cached.Config.IsSparse(i))
            {
                Assert.Null(mapped);
                continue;
            }
            sparseLayers++;
            Assert.NotNull(mapped);
            Assert.NotNull(owned);
            Assert.Equal((owned.Name, owned.Type, owned.Rows, owned.Columns), (mapped.Name, mapped.Type, mapped.Rows, mapped.Columns));
            Assert.Equal(Gemma3nWeights.TransposedType(dtype), mapped.Type);
            float[] want = new float[owned.Columns], got = new float[mapped.Columns];
            for (int unit = 0; unit < owned.Rows; unit++)
            {
                owned.DequantizeRow(unit, want);
                mapped.DequantizeRow(unit, got);
                Assert.Equal(want, got);
            }
        }
        Assert.Equal(10, sparseLayers);

        int[] prompt = TestShapes.Tokens(12, spec.Vocab, seed: 5);
        using Gemma3nState a = cached.CreateGemma3nState(64), b = built.CreateGemma3nState(64);
        float[] la = new float[spec.Vocab], lb = new float[spec.Vocab];
        a.Forward(prompt, la);
        b.Forward(prompt, lb);
        Assert.Equal(lb, la);
        foreach (int token in new[] { 9, 250, 77, 3 })
        {
            a.Forward([token], la);
            b.Forward([token], lb);
            Assert.Equal(lb, la);   // bit for bit: same bytes, same sparse kernels
        }
        Assert.True(a.LastSparseTraffic.SurvivingUnits < a.LastSparseTraffic.Units);   // the sparse path ran
    }

    [Fact]
    public void A_cache_without_the_transposes_is_rewritten_whole_with_them()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, GgmlType.Q4_0);
        string repacked = dir.File("repacked");
        var options = new ModelLoadOptions { Threads = 2, RepackCacheDirectory = repacked, WaitForRepackCache = true };
        string cachePath = RepackCache.FileFor(repacked, path);

        // Sparse decode off: the cache holds the interleaved matrices only.
        using (Gemma3nModel.Load(GgufFile.Open(path), options, new Gemma3nOptions { SparseDecode = false })) { }
        using (RepackCache? interleavedOnly = RepackCache.TryOpen(cachePath, path))
        {
            Assert.NotNull(interleavedOnly);
            Assert.DoesNotContain("blk.0.ffn_down.weight.T", interleavedOnly.Names);
        }

        // Sparse decode on: the interleaved matrices come from the cache, the transposes do not, so the cache is
        // rewritten with both.
        using (Gemma3nModel partial = Gemma3nModel.Load(GgufFile.Open(path), options))
        {
            Assert.True(partial.Weights.Layers[0].Q.IsInterleaved);
            Assert.True(partial.Weights.SparseDownsPending);
        }
        using (Gemma3nModel complete = Gemma3nModel.Load(GgufFile.Open(path), options with { WaitForRepackCache = false }))
        {
            Assert.True(complete.Weights.Layers[0].Q.IsInterleaved);
            Assert.True(complete.Weights.Layers[0].Down.IsInterleaved);
            Assert.False(complete.Weights.SparseDownsPending);
            Assert.NotNull(complete.Weights.Layers[0].DownTransposed);
        }
        Assert.Empty(Directory.GetFiles(repacked, "*.tmp"));
    }

    [Fact]
    public void Without_a_cache_directory_nothing_changes()
    {
        using var dir = new TempDirectory();
        string path = Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Small, GgmlType.Q4_0);
        using Gemma3nModel model = Gemma3nModel.Load(GgufFile.Open(path), new ModelLoadOptions { Threads = 2, WaitForRepackCache = true });
        Assert.True(model.Weights.SparseDownsPending);
        Assert.True(model.Weights.SparseDownBytes > 0);
        Assert.Equal(model.Weights.SparseDownBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), model.Info.Extra["sparse_down_bytes"]);
    }
}
