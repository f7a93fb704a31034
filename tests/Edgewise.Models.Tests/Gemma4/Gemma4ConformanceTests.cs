using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
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

    // Q8_0 files: both engines round each activation vector to Q8_0 blocks inside every Q8_0 matmul, so a 1e-6
    // difference upstream flips a rounding step and the flips cascade through a random network (measured here:
    // max |Δ| 0.10-0.19, mean 0.015-0.026; llama-cpp-reference.md reports 0.15-0.5 for an f32-activation engine).
    // The same values stored as F32 meet the F32 bound above, which pins the Q8_0 decoding itself.
    // The MoE seed is one whose router top-k gaps exceed that noise (others flip an expert choice: max |Δ| ~1).
    private const double Q8MaxTolerance = 0.35, Q8MeanTolerance = 0.04;

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
        // The Q8_0 rows interleaved sixteen at a time (Q8_0x16, as the repack cache or --weights hugepages serve
        // them) against the same reference: only float summation order differs from the ggml layout.
        LogitComparison interleaved = Compare(path, shape, new ModelLoadOptions { Threads = 2, Weights = WeightPlacement.HugePages });
        Assert.True(interleaved.MaxAbs <= Q8MaxTolerance && interleaved.MeanAbs <= Q8MeanTolerance, interleaved.ToString());
    }

    /// <summary>
    /// F16, Q4_0 and Q4_K files (the real head geometry, so every row is whole 256-value super-blocks). llama.cpp
    /// rounds activations to F16 / Q8_0 / Q8_K inside these matmuls; the bound is a sanity bound, the printed
    /// numbers are the measurement.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void Other_formats_track_llama_cpp(GgmlType dtype)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.RealHeads, dtype);
        LogitComparison c = Compare(path, "real-heads");
        Assert.True(c.MaxAbs <= 0.5 && c.MeanAbs <= 0.05, c.ToString());
    }

    private LogitComparison Compare(string path, string shape, ModelLoadOptions? options = null)
    {
        int vocab = TestShapes.ByName(shape).Vocab;
        int[] tokens = TestShapes.Tokens(SequenceLength, vocab, seed: 100 + shape.Length);
        float[][] reference = LlamaReference.Logits(path, tokens);
        float[][] actual = TestShapes.EdgewiseLogits(path, tokens, options);
        LogitComparison c = LogitComparison.Compare(reference, actual, tieMargin: 2 * MaxTolerance);
        output.WriteLine($"{Path.GetFileName(path)} ({options?.Weights ?? WeightPlacement.Mapped}): {c}");
        return c;
    }
}
