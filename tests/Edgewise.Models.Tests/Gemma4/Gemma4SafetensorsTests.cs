using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>An HF checkpoint written from the same weights loads through config.json + HF names and gives the GGUF's logits.</summary>
public sealed class Gemma4SafetensorsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("e")]
    [InlineData("moe")]
    [InlineData("odd")]
    public void Safetensors_checkpoint_gives_the_same_logits_as_the_gguf(string shape)
    {
        using var dir = new TempDirectory();
        Gemma4SynthSpec spec = TestShapes.ByName(shape);
        string gguf = TestShapes.Write(dir, spec, GgmlType.F32);
        string hf = dir.File("hf");
        Gemma4SafetensorsSynthesizer.Write(spec, hf);
        int[] tokens = TestShapes.Tokens(20, spec.Vocab, seed: 5);

        float[][] fromGguf = TestShapes.EdgewiseLogits(gguf, tokens);
        float[][] fromHf = TestShapes.EdgewiseLogits(hf, tokens);

        LogitComparison c = LogitComparison.Compare(fromGguf, fromHf, tieMargin: 1e-4);
        output.WriteLine($"{shape}: {c}");
        // The only difference is RoPE's pass-through pairs: an infinite divisor (HF) vs llama.cpp's 1e30.
        Assert.True(c.MaxAbs <= 1e-4, c.ToString());
        Assert.Equal(0, c.ArgmaxMismatches);
    }
}
