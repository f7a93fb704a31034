using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>
/// A mapped model with a repack cache directory writes its Q4_0 and Q8_0 matrices interleaved once, and later loads map them:
/// the interleaved kernels of <c>--weights hugepages</c> with the instant load of a mapping.
/// </summary>
public sealed class Gemma4RepackCacheTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void The_second_mapped_load_reads_interleaved_matrices_and_computes_what_hugepages_computes(GgmlType type)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, type);
        string repacked = dir.File("repacked");
        int[] tokens = TestShapes.Tokens(12, TestShapes.EModel.Vocab, seed: 4);
        var build = new ModelLoadOptions { Threads = 2, MaxBatch = 8, RepackCacheDirectory = repacked, WaitForRepackCache = true };

        using (var first = (Gemma4Model)Architectures.Load(path, build))
        {
            // This load found no cache: it runs on the plain mapped layout and wrote the cache for the next one.
            Assert.False(first.Weights.Layers[0].Q.IsInterleaved);
        }
        Assert.True(File.Exists(RepackCache.FileFor(repacked, path)));

        var cached = build with { WaitForRepackCache = false };
        using (var second = (Gemma4Model)Architectures.Load(path, cached))
        {
            Assert.True(second.Weights.Layers[0].Q.IsInterleaved);
            Assert.Equal(type, second.Weights.Layers[0].Q.Type);
            Assert.True(second.Weights.Output.IsInterleaved);
        }
        float[][] fromCache = TestShapes.EdgewiseLogits(path, tokens, cached);
        float[][] hugePages = TestShapes.EdgewiseLogits(path, tokens, new ModelLoadOptions { Threads = 2, MaxBatch = 8, Weights = WeightPlacement.HugePages });
        for (int i = 0; i < tokens.Length; i++) Assert.Equal(hugePages[i], fromCache[i]);   // same bytes, same kernels
        Assert.Single(Directory.GetFiles(repacked));
    }

    [Fact]
    public void A_stale_cache_is_rebuilt_and_a_model_disposed_mid_build_leaves_no_temporary_file()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, GgmlType.Q4_0);
        string repacked = dir.File("repacked");
        var options = new ModelLoadOptions { Threads = 2, RepackCacheDirectory = repacked };
        using (Architectures.Load(path, options with { WaitForRepackCache = true })) { }
        string cache = RepackCache.FileFor(repacked, path);
        DateTime built = File.GetLastWriteTimeUtc(cache);

        // The model file changes: its old cache no longer applies, and this load rewrites it.
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddMinutes(1));
        using (var model = (Gemma4Model)Architectures.Load(path, options with { WaitForRepackCache = true }))
        {
            Assert.False(model.Weights.Layers[0].Q.IsInterleaved);
        }
        using (RepackCache? rebuilt = RepackCache.TryOpen(cache, path)) Assert.NotNull(rebuilt);

        // Disposed at once: the background build stops (or finished); either way nothing half-written remains.
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddMinutes(1));
        using (Architectures.Load(path, options)) { }
        Assert.Empty(Directory.GetFiles(repacked, "*.tmp"));
        Assert.True(built <= File.GetLastWriteTimeUtc(cache));
    }
}
