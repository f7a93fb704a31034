using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma3n;

public sealed class Gemma3nSafetensorsTests
{
    /// <summary>
    /// The HF checkpoint of a synthetic model (separate AltUp projections, HF names and shapes, config.json with
    /// layer_types and activation_sparsity_pattern) gives the logits of its GGUF twin.
    /// </summary>
    [Fact]
    public void Hf_checkpoint_gives_the_logits_of_its_gguf_twin()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small with { FfnPerLayer = [.. Enumerable.Range(0, 21).Select(i => i < 10 ? 256 : 192)] };
        string gguf = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);
        string hf = dir.File("hf");
        Gemma3nSafetensorsSynthesizer.Write(spec, hf);
        int[] tokens = TestShapes.Tokens(12, spec.Vocab, seed: 21);

        float[][] fromGguf = Gemma3nTestShapes.BatchLogits(gguf, tokens, Gemma3nOptions.Default);
        using ILanguageModel model = Architectures.Load(hf, Gemma3nTestShapes.Options);
        Gemma3nConfig c = Assert.IsType<Gemma3nModel>(model).Config;
        Assert.Equal(64, c.LaurelRank);
        Assert.Equal(1.6448536f, c.SparsityStdMultipliers[9], 6);
        Assert.True(float.IsNaN(c.SparsityStdMultipliers[10]));
        using IModelState state = model.CreateState(64);
        var flat = new float[tokens.Length * spec.Vocab];
        state.ForwardAll(tokens, flat);
        float[][] fromHf = TestShapes.Split(flat, tokens.Length, spec.Vocab);
        LogitComparison cmp = LogitComparison.Compare(fromGguf, fromHf, tieMargin: 0);
        Assert.True(cmp.MaxAbs <= 1e-5, cmp.ToString());
    }
}
