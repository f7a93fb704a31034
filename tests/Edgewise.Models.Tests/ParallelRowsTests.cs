using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;
using Edgewise.Models.Tests.Gemma3n;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests;

/// <summary>
/// The per-row work between a chunk's matmuls (norms, AltUp, RoPE, GeGLU, KV stores) runs split over the pool
/// (<see cref="ParallelRanges"/>); every row must still come out bit for bit as the serial loop made it.
/// </summary>
public sealed class ParallelRowsTests
{
    [Theory]
    [InlineData("gemma3n", GgmlType.F32)]
    [InlineData("gemma3n", GgmlType.Q8_0)]
    [InlineData("gemma4-e", GgmlType.Q8_0)]
    [InlineData("gemma4-moe", GgmlType.F32)]
    [InlineData("gemma4-odd", GgmlType.F32)]
    public void Splitting_row_work_over_threads_changes_no_bit(string shape, GgmlType dtype)
    {
        using var dir = new TempDirectory();
        (string path, int vocab) = shape switch
        {
            "gemma3n" => (Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Wide, dtype), Gemma3nTestShapes.Wide.Vocab),
            _ => (TestShapes.Write(dir, TestShapes.ByName(shape["gemma4-".Length..]), dtype), TestShapes.ByName(shape["gemma4-".Length..]).Vocab),
        };
        // 37 tokens in chunks of 16, 16, 5: odd row counts, and a window smaller than a chunk on the sliding layers.
        int[] tokens = TestShapes.Tokens(37, vocab, seed: 21);

        (float[] serialAll, float[] serialLast) = Run(path, tokens, vocab, minRangeWork: long.MaxValue);
        (float[] splitAll, float[] splitLast) = Run(path, tokens, vocab, minRangeWork: 0);

        AssertBitIdentical(serialAll, splitAll, "every row (ForwardAll)");
        AssertBitIdentical(serialLast, splitLast, "last row only (Forward, rows trimmed at the first shared layer)");
    }

    /// <summary>Logits of every row, and of the last row when only it is asked for, with the matmuls split the same way both times.</summary>
    private static (float[] All, float[] Last) Run(string path, int[] tokens, int vocab, long minRangeWork)
    {
        using var pool = new WorkerPool(3) { MinRangeWork = minRangeWork };
        using ILanguageModel model = Architectures.Load(path, new ModelLoadOptions { Pool = pool, MaxBatch = 16 });
        var all = new float[tokens.Length * vocab];
        using (IModelState state = model.CreateState(64)) state.ForwardAll(tokens, all);
        var last = new float[vocab];
        using (IModelState state = model.CreateState(64)) state.Forward(tokens, last);
        return (all, last);
    }

    private static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: logit {i} is {actual[i]:R} split over threads, {expected[i]:R} serial.");
            }
        }
    }
}
