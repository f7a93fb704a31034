using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>
/// Q4_0 and Q8_0 weights placed in huge pages are interleaved sixteen rows at a time (WeightReader.InterleaveRows): the model
/// must compute what the mapped ggml layout computes, and prompt batches must still equal token-by-token decode.
/// </summary>
public sealed class Gemma4InterleavedWeightsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void Interleaved_model_matches_the_mapped_layout_and_decodes_like_its_prompt_batch(GgmlType type)
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.EModel, type);
        int vocab = TestShapes.EModel.Vocab;
        int[] tokens = TestShapes.Tokens(20, vocab, seed: 6);
        var hugePages = new ModelLoadOptions { Threads = 2, MaxBatch = 8, Weights = WeightPlacement.HugePages };

        float[][] mapped = TestShapes.EdgewiseLogits(path, tokens, new ModelLoadOptions { Threads = 2, MaxBatch = 8 });
        float[][] interleaved = TestShapes.EdgewiseLogits(path, tokens, hugePages);

        using var model = (Gemma4Model)Architectures.Load(path, hugePages);
        Assert.True(model.Weights.Layers[0].Q.IsInterleaved);
        Assert.True(model.Weights.Output.IsInterleaved);   // the tied head: read in full every token
        using Gemma4State state = model.CreateGemma4State(64);
        var step = new float[vocab];
        double scale = 0, worst = 0, stepDelta = 0;
        int close = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            state.Forward(tokens.AsSpan(i, 1), step);
            double delta = 0;
            for (int v = 0; v < vocab; v++)
            {
                scale = Math.Max(scale, Math.Abs(mapped[i][v]));
                delta = Math.Max(delta, Math.Abs(interleaved[i][v] - mapped[i][v]));
                stepDelta = Math.Max(stepDelta, Math.Abs(step[v] - interleaved[i][v]));
            }
            worst = Math.Max(worst, delta);
            if (delta <= 1e-4) close++;
        }
        output.WriteLine($"max |logit| {scale:F3}; interleaved vs mapped: {close}/{tokens.Length} positions within 1e-4, worst {worst:E3}; batch vs step {stepDelta:E3}");
        // Only the order of float sums differs between the layouts. Activation quantization can still round one
        // value the other way (random weights amplify that to ~1e-2 on the logits, and a flipped K/V row carries
        // to later positions), so most positions, not all, must agree to float noise.
        Assert.True(close >= tokens.Length * 3 / 4, $"{close}/{tokens.Length} positions within 1e-4");
        Assert.True(worst <= 5e-2 * scale, $"interleaved vs mapped max |Δ| {worst} (scale {scale})");
        Assert.Equal(0, stepDelta);
    }
}
