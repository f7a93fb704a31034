using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma4;

public sealed class Gemma4SynthTests
{
    [Fact]
    public void Gguf_keys_and_tensors_read_back_as_the_spec()
    {
        using var dir = new TempDirectory();
        Gemma4SynthSpec spec = TestShapes.EModel;
        string path = TestShapes.Write(dir, spec, GgmlType.Q8_0);
        using GgufFile file = GgufFile.Open(path);
        Gemma4Config c = Gemma4Config.FromGguf(file);
        Assert.Equal(spec.Hidden, c.HiddenSize);
        Assert.Equal(spec.Vocab, c.VocabSize);
        Assert.Equal(spec.LayerKinds(), c.LayerKinds);
        Assert.Equal(spec.FfnWidths(), c.FfnWidths);
        Assert.Equal([0, 1, 2, 3, 2, 2, 2, 3], c.KvSourceLayers);
        Assert.Equal(spec.Ple, c.PerLayerInputSize);

        // Converter dtype rules: matrices in the file type, norms / scalars / rope_freqs in F32.
        Assert.Equal(GgmlType.Q8_0, file.GetTensor("blk.0.attn_q.weight").Type);
        Assert.Equal(GgmlType.Q8_0, file.GetTensor("per_layer_token_embd.weight").Type);
        Assert.Equal(GgmlType.F32, file.GetTensor("blk.0.attn_q_norm.weight").Type);
        Assert.Equal(GgmlType.F32, file.GetTensor("blk.0.layer_output_scale.weight").Type);
        Assert.Equal(GgmlType.F32, file.GetTensor("rope_freqs.weight").Type);
        // KV-shared layers carry no K/V projections; layer 3 owns its KV.
        Assert.False(file.ContainsTensor("blk.4.attn_k.weight"));
        Assert.True(file.ContainsTensor("blk.3.attn_k.weight"));
        Assert.Equal([spec.Hidden, 2L * spec.Ffn], file.GetTensor("blk.7.ffn_gate.weight").Shape);
        Assert.Equal("gemma4", file.GetString("tokenizer.ggml.model"));
        string[] tokens = file.GetStringArray("tokenizer.ggml.tokens");
        Assert.Equal(spec.Vocab, tokens.Length);
        Assert.Equal(("<|turn>", "<turn|>", "<|tool_call>", "<|\"|>"), (tokens[105], tokens[106], tokens[48], tokens[52]));
    }

    [Fact]
    public void Tensor_values_depend_on_seed_and_name_only()
    {
        Gemma4SynthSpec a = TestShapes.Dense;
        Gemma4SynthSpec b = a with { Vocab = 4096, Layers = 9 };   // other tensors change, blk.0.attn_q must not
        SynthTensor qa = Gemma4TensorPlan.Build(a).Single(t => t.Name == "blk.0.attn_q.weight");
        SynthTensor qb = Gemma4TensorPlan.Build(b).Single(t => t.Name == "blk.0.attn_q.weight");
        var va = new float[256];
        var vb = new float[256];
        Gemma4TensorPlan.Values(qa, a.Seed, 1000, va);
        Gemma4TensorPlan.Values(qb, b.Seed, 1000, vb);
        Assert.Equal(va, vb);
        Gemma4TensorPlan.Values(qa, a.Seed + 1, 1000, vb);
        Assert.NotEqual(va, vb);
        float bound = MathF.Sqrt(3f / a.Hidden);
        Assert.All(va, v => Assert.InRange(v, -bound, bound));
    }

    [Fact]
    public void Invalid_shared_layout_is_refused_with_the_reason()
    {
        // Layer 4 would be sliding: llama.cpp and HF would read different producers.
        Gemma4SynthSpec bad = TestShapes.EModel with { SharedKvLayers = 3 };
        var e = Assert.Throws<ArgumentException>(() => Gemma4TensorPlan.Build(bad));
        Assert.Contains("must be full", e.Message, StringComparison.Ordinal);
    }
}
