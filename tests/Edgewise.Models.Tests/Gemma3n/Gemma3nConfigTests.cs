using System.Text.Json;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma3n;

public sealed class Gemma3nConfigTests
{
    [Fact]
    public void Gguf_config_reads_every_table_from_the_file()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Wide with { FfnPerLayer = [.. Enumerable.Range(0, 22).Select(i => 256 + 32 * (i % 3))], SparseLayers = 7, Sparsity = 0.9 };
        string path = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);
        using GgufFile file = GgufFile.Open(path);
        Gemma3nConfig c = Gemma3nConfig.FromGguf(file);
        Assert.Equal((128, 22, 1001, 4, 2, 32), (c.HiddenSize, c.LayerCount, c.VocabSize, c.HeadCount, c.KvHeadCount, c.HeadDim));
        Assert.Equal((4, 0, 64, 256, 1001), (c.AltUpInputs, c.AltUpActiveIndex, c.LaurelRank, c.PerLayerInputSize, c.PerLayerVocabSize));
        Assert.Equal(spec.FfnWidths(), c.FfnWidths);
        Assert.Equal((500_000f, 10_000f, 30f, 5), (c.RopeThetaFull, c.RopeThetaSliding, c.FinalLogitSoftcap, c.SlidingWindow));
        for (int i = 0; i < 22; i++)
        {
            Assert.Equal(i % 5 == 4 ? LayerKind.Full : LayerKind.Sliding, c.LayerKinds[i]);
            Assert.Equal(i < 7, c.IsSparse(i));
            if (i < 7) Assert.Equal(1.2815516f, c.SparsityStdMultipliers[i], 5);   // Φ⁻¹(0.9): read, not assumed
        }
        Assert.Equal([18, 18], c.KvSourceLayers[20..]);   // layers 20 and 21 are both sliding
    }

    [Fact]
    public void Hf_config_matches_the_released_e2b_layout()
    {
        string json = """
        {
          "model_type": "gemma3n",
          "text_config": {
            "model_type": "gemma3n_text", "hidden_size": 2048, "num_hidden_layers": 30, "intermediate_size": [8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192],
            "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256, "vocab_size": 262400, "vocab_size_per_layer_input": 262144,
            "hidden_size_per_layer_input": 256, "sliding_window": 512, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
            "max_position_embeddings": 32768, "num_kv_shared_layers": 10, "altup_num_inputs": 4, "altup_active_idx": 0,
            "altup_coef_clip": 120.0, "laurel_rank": 64, "final_logit_softcapping": 30.0, "rms_norm_eps": 1e-06,
            "query_pre_attn_scalar": 256,
            "activation_sparsity_pattern": [0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "layer_types": [LAYER_TYPES]
          }
        }
        """.Replace("LAYER_TYPES", string.Join(", ", Enumerable.Range(0, 30).Select(i => (i + 1) % 5 == 0 ? "\"full_attention\"" : "\"sliding_attention\"")));
        using JsonDocument doc = JsonDocument.Parse(json);
        Gemma3nConfig c = Gemma3nConfig.FromHfConfig(doc);
        Assert.Equal(20, c.FirstSharedLayer);
        Assert.Equal(262144, c.PerLayerVocabSize);
        Assert.Equal(120f, c.AltUpCoefClip);
        for (int i = 20; i < 30; i++) Assert.Equal(i % 5 == 4 ? 19 : 18, c.KvSourceLayers[i]);
        for (int i = 0; i < 30; i++) Assert.Equal(i < 10, c.IsSparse(i));
        Assert.Equal(1.6448536f, c.SparsityStdMultipliers[0], 6);
        Assert.All(c.FfnWidths, w => Assert.Equal(8192, w));
    }

    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(0.95, 1.6448536269514722)]
    [InlineData(0.99, 2.3263478740408408)]
    [InlineData(0.01, -2.3263478740408408)]
    public void Normal_quantile_matches_known_values(double p, double expected) =>
        Assert.Equal(expected, Gemma3nConfig.NormalQuantile(p), 8);

    [Fact]
    public void Missing_sparsity_key_names_the_file_and_key()
    {
        using var dir = new TempDirectory();
        string source = Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Small, GgmlType.F32);
        string path = dir.File("no-sparsity.gguf");
        // The same metadata (tensors are not needed to reach this key) without activation_sparsity_scale.
        using (GgufFile original = GgufFile.Open(source))
        using (var w = new GgufWriter(path))
        {
            foreach (GgufMetadataEntry e in original.MetadataEntries)
            {
                if (e.Key != "gemma3n.activation_sparsity_scale") w.AddValue(e.Key, e.Value);
            }
            w.Write();
        }
        using GgufFile file = GgufFile.Open(path);
        ModelFormatException ex = Assert.Throws<ModelFormatException>(() => Gemma3nConfig.FromGguf(file));
        Assert.Contains("gemma3n.activation_sparsity_scale", ex.Message);
        Assert.Contains("no-sparsity.gguf", ex.Message);
    }

    [Fact]
    public void A_gemma4_file_is_refused_with_both_names()
    {
        using var dir = new TempDirectory();
        string path = TestShapes.Write(dir, TestShapes.Dense, GgmlType.F32);
        using GgufFile file = GgufFile.Open(path);
        ModelFormatException ex = Assert.Throws<ModelFormatException>(() => Gemma3nConfig.FromGguf(file));
        Assert.Contains("gemma3n", ex.Message);
        Assert.Contains("gemma4", ex.Message);
    }
}
