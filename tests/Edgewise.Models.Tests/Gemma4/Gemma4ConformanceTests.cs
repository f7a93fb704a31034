using Edgewise.Core.Tensors;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>
/// Edgewise against llama.cpp on the same synthetic GGUF files, every position of a 48-token sequence.
/// F32 bounds come from the brief (max |Δ| ≤ 1e-2, mean ≤ 1.5e-3); llama.cpp's own spread is 1e-3..3.5e-3
/// and its fp16-table GELU sits ~3-5e-3 from exact GELU.
/// </summary>
public sealed class Gemma4ConformanceTests(ITestOutputHelper output)
{
    private const int SequenceLength = 48;
    private const double MaxTolerance = 1e-2, MeanTolerance = 1.5e-3;

    // Q8_0 files: ggml rounds every activation vector to Q8_0 blocks inside each matmul, Edgewise's kernels do the
    // same but not in the same order of operations everywhere; on a random network the flips cascade.
    private const double Q8MaxTolerance = 0.6, Q8MeanTolerance = 0.06;

    [Theory]
    [MemberData(nameof(TestShapes.Names), MemberType = typeof(TestShapes))]
    public void F32_logits_match_llama_cpp(string shape)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.ByName(shape), GgmlType.F32);
        LogitComparison c = Compare(path, shape);
        Assert.True(c.MaxAbs <= MaxTolerance && c.MeanAbs <= MeanTolerance, c.ToString());
        Assert.True(c.ArgmaxMismatches == 0, c.ToString());
    }

    [Theory]
    [MemberData(nameof(TestShapes.Names), MemberType = typeof(TestShapes))]
    public void Q8_0_values_stored_as_F32_match_llama_cpp_to_the_F32_bound(string shape)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.ByName(shape), GgmlType.F32, roundThrough: GgmlType.Q8_0);
        LogitComparison c = Compare(path, shape);
        Assert.True(c.MaxAbs <= MaxTolerance && c.MeanAbs <= MeanTolerance, c.ToString());
        Assert.True(c.ArgmaxMismatches == 0, c.ToString());
    }

    [Theory]
    [MemberData(nameof(TestShapes.Names), MemberType = typeof(TestShapes))]
    public void Q8_0_logits_match_llama_cpp(string shape)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.ByName(shape), GgmlType.Q8_0);
        LogitComparison c = Compare(path, shape);
        Assert.True(c.MaxAbs <= Q8MaxTolerance && c.MeanAbs <= Q8MeanTolerance, c.ToString());
    }

    private LogitComparison Compare(string path, string shape)
    {
        int vocab = TestShapes.ByName(shape).Vocab;
        int[] tokens = TestShapes.Tokens(SequenceLength, vocab, seed: 100 + shape.Length);
        float[][] reference = LlamaReference.Logits(path, tokens);
        float[][] actual = TestShapes.EdgewiseLogits(path, tokens);
        LogitComparison c = LogitComparison.Compare(reference, actual, tieMargin: 2 * MaxTolerance);
        output.WriteLine($"{Path.GetFileName(path)}: {c}");
        return c;
    }
}
