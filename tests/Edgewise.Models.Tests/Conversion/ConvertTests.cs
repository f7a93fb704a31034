using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Edgewise.Text.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// <c>edgewise convert</c> on synthetic HF checkpoints: llama.cpp loads the result and agrees with Edgewise to the
/// F32 conformance bound; the converted file holds exactly the synthesizer's GGUF (same logits, same keys);
/// tokenizer and chat template are embedded.
/// </summary>
public sealed class ConvertTests(ITestOutputHelper output)
{
    private const double MaxTolerance = 1e-2, MeanTolerance = 1.5e-3;   // as Gemma4ConformanceTests (F32)

    [Theory]
    [InlineData("e")]     // PLE, KV sharing, double-wide MLP, proportional RoPE
    [InlineData("moe")]   // experts, k_eq_v
    public void Converted_F32_checkpoint_loads_in_llama_cpp_with_the_same_logits(string shape)
    {
        using var dir = new TempDirectory();
        Gemma4SynthSpec spec = TestShapes.ByName(shape);
        string hf = HfCheckpointFixture.Write(dir, spec);
        string gguf = dir.File("converted.gguf");
        ConversionResult result = HfCheckpointConverter.Convert(hf, gguf, new ConvertOptions
        {
            Type = ModelFileType.F32, WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf), Threads = 2,
        });
        Assert.Empty(result.Ignored);

        int[] tokens = TestShapes.Tokens(32, spec.Vocab, seed: 77);
        float[][] reference = LlamaReference.Logits(gguf, tokens);
        float[][] edgewise = TestShapes.EdgewiseLogits(gguf, tokens);
        LogitComparison c = LogitComparison.Compare(reference, edgewise, tieMargin: 2 * MaxTolerance);
        output.WriteLine($"{shape} converted F32, llama.cpp vs Edgewise: {c}");
        Assert.True(c.MaxAbs <= MaxTolerance && c.MeanAbs <= MeanTolerance, c.ToString());
        Assert.Equal(0, c.ArgmaxMismatches);

        // The converter writes what llama.cpp's converter writes, which the synthesizer also writes: same logits bit for bit.
        string synthesized = TestShapes.Write(dir, spec, GgmlType.F32);
        LogitComparison same = LogitComparison.Compare(TestShapes.EdgewiseLogits(synthesized, tokens), edgewise, tieMargin: 0);
        Assert.True(same.MaxAbs == 0, same.ToString());
    }

    [Fact]
    public void Converted_file_has_the_synthesizers_keys_and_tensors_and_the_tokenizer()
    {
        using var dir = new TempDirectory();
        Gemma4SynthSpec spec = TestShapes.EModel;
        string hf = HfCheckpointFixture.Write(dir, spec);
        string gguf = dir.File("converted.gguf");
        HfCheckpointConverter.Convert(hf, gguf, new ConvertOptions { Type = ModelFileType.F32, WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf) });
        string synthesized = TestShapes.Write(dir, spec, GgmlType.F32);

        using GgufFile converted = GgufFile.Open(gguf), expected = GgufFile.Open(synthesized);
        foreach (GgufMetadataEntry e in expected.MetadataEntries)
        {
            if (!e.Key.StartsWith("gemma4.", StringComparison.Ordinal)) continue;
            Assert.True(converted.TryGetValue(e.Key, out GgufValue? v), $"missing {e.Key}");
            Assert.Equal(e.Value.Describe(64), v!.Describe(64));
        }
        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), converted.Tensors.Select(t => t.Name).Order());
        foreach (GgufTensorInfo t in expected.Tensors)
        {
            TensorView a = expected.GetTensor(t.Name), b = converted.GetTensor(t.Name);
            Assert.Equal(a.Shape, b.Shape);
            Assert.True(a.Bytes.SequenceEqual(b.Bytes), $"{t.Name} differs");
        }
        Assert.Equal(0u, converted.GetUInt32("general.file_type"));
        Assert.Equal(2u, converted.GetUInt32("general.quantization_version"));

        GemmaTokenizer fromJson = GemmaTokenizer.FromTokenizerJson(Path.Combine(hf, "tokenizer.json"));
        GemmaTokenizer fromGguf = GemmaTokenizer.FromGguf(converted);
        Assert.Equal(spec.Vocab, fromGguf.VocabularySize);
        const string text = "<|turn>user\nhello world, {x: 42}<turn|>";
        Assert.Equal(fromJson.Encode(text), fromGguf.Encode(text));
        Assert.Equal(HfCheckpointFixture.ChatTemplate, converted.GetString("tokenizer.chat_template"));
    }

    [Fact]
    public void BF16_conversion_keeps_vectors_and_norms_in_F32_and_stores_matrices_as_BF16()
    {
        using var dir = new TempDirectory();
        string hf = HfCheckpointFixture.Write(dir, TestShapes.Moe);
        string gguf = dir.File("bf16.gguf");
        ConversionResult result = HfCheckpointConverter.Convert(hf, gguf, new ConvertOptions { Type = ModelFileType.BF16, WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf) });
        using GgufFile file = GgufFile.Open(gguf);
        foreach ((string name, GgmlType type) in result.Tensors)
        {
            // convert_hf_to_gguf: 1-D tensors (norms, scales, rope_freqs) and the MoE router stay F32.
            bool f32 = file.GetTensor(name).Shape.Length == 1 || name.Contains("ffn_gate_inp.weight", StringComparison.Ordinal);
            Assert.True(type == (f32 ? GgmlType.F32 : GgmlType.BF16), $"{name}: {type}");
            Assert.Equal(type, file.GetTensor(name).Type);
        }
        Assert.Equal((uint)ModelFileType.BF16, file.GetUInt32("general.file_type"));
        // Loads and runs in Edgewise (BF16 matrices).
        float[][] logits = TestShapes.EdgewiseLogits(gguf, [2, 10, 20]);
        Assert.All(logits, row => Assert.All(row, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void PLE_type_is_chosen_apart_from_the_rest()
    {
        using var dir = new TempDirectory();
        string hf = HfCheckpointFixture.Write(dir, HfCheckpointFixture.KQuant);
        string gguf = dir.File("q8-ple-q4k.gguf");
        ConversionResult result = HfCheckpointConverter.Convert(hf, gguf, new ConvertOptions
        {
            Type = ModelFileType.Q8_0, PerLayerEmbeddingType = GgmlType.Q4_K, WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf),
        });
        var types = result.Tensors.ToDictionary(t => t.Name, t => t.Type);
        Assert.Equal(GgmlType.Q4_K, types["per_layer_token_embd.weight"]);
        Assert.Equal(GgmlType.Q8_0, types["token_embd.weight"]);
        Assert.Equal(GgmlType.Q8_0, types["blk.0.attn_q.weight"]);
        Assert.Equal(GgmlType.F32, types["blk.0.attn_norm.weight"]);
    }

    [Fact]
    public void Missing_or_misshapen_tensors_are_named_with_expected_and_found_shapes()
    {
        using var dir = new TempDirectory();
        Gemma4SynthSpec spec = TestShapes.Dense;
        string hf = HfCheckpointFixture.Write(dir, spec);
        string config = Path.Combine(hf, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"intermediate_size\": 384", "\"intermediate_size\": 512"));
        var ex = Assert.ThrowsAny<Edgewise.Core.Formats.ModelFormatException>(() =>
            HfCheckpointConverter.Convert(hf, dir.File("bad.gguf"), new ConvertOptions { Type = ModelFileType.F32 }));
        Assert.Contains("mlp.gate_proj.weight", ex.Message);
        Assert.Contains("[512, 128]", ex.Message);
        Assert.Contains("[384, 128]", ex.Message);
    }
}
