using System.Text.Json;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>Derived per-layer tables from the released models' text configs (../shared/data/configs/ollama-testdata).</summary>
public sealed class Gemma4ConfigTests
{
    private static Gemma4Config Load(string name)
    {
        string path = Path.Combine(TestPaths.Shared, "data", "configs", "ollama-testdata", $"gemma-4-{name}.text_config.from-ollama-test.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        return Gemma4Config.FromHfConfig(doc, path);
    }

    [Fact]
    public void E2B_layer_tables_follow_the_spec()
    {
        Gemma4Config c = Load("E2B");
        Assert.Equal(35, c.LayerCount);
        int[] full = [.. Enumerable.Range(0, 35).Where(i => c.LayerKinds[i] == LayerKind.Full)];
        Assert.Equal([4, 9, 14, 19, 24, 29, 34], full);
        Assert.Equal(15, c.FirstSharedLayer);
        for (int i = 0; i < 35; i++)
        {
            int expectedSource = i < 15 ? i : c.LayerKinds[i] == LayerKind.Full ? 14 : 13;
            Assert.Equal(expectedSource, c.KvSourceLayers[i]);
            Assert.Equal(i < 15 ? 6144 : 12288, c.FfnWidths[i]);
            Assert.Equal(c.LayerKinds[i] == LayerKind.Full ? 512 : 256, c.HeadDims[i]);
            Assert.Equal(1, c.KvHeadCounts[i]);
        }
        Assert.Equal(256, c.PerLayerInputSize);
        Assert.Equal(0.25f, c.FullRopePartialFactor);
        Assert.Equal(1_000_000f, c.RopeThetaFull);
        Assert.Equal(10_000f, c.RopeThetaSliding);
        Assert.False(c.IsMoe);
        Assert.False(c.AttentionKEqV);
    }

    [Fact]
    public void E4B_shares_from_layers_22_and_23_without_double_wide_mlp()
    {
        Gemma4Config c = Load("E4B");
        Assert.Equal(24, c.FirstSharedLayer);
        Assert.All(Enumerable.Range(24, 18), i => Assert.Equal(c.LayerKinds[i] == LayerKind.Full ? 23 : 22, c.KvSourceLayers[i]));
        Assert.All(c.FfnWidths, w => Assert.Equal(10240, w));
        Assert.Equal(2, c.KvHeadCounts[0]);
    }

    [Fact]
    public void MoE_26B_has_experts_and_fewer_global_kv_heads()
    {
        Gemma4Config c = Load("26B-A4B");
        Assert.True(c.IsMoe);
        Assert.Equal((128, 8, 704), (c.ExpertCount, c.ExpertsUsed, c.ExpertFfnWidth));
        Assert.Equal(8, c.KvHeadCounts[0]);
        Assert.Equal(2, c.KvHeadCounts[5]);
        Assert.Equal(LayerKind.Full, c.LayerKinds[5]);
        Assert.False(c.HasPerLayerInputs);
        Assert.Equal(30, c.FirstSharedLayer);
        Assert.All(Enumerable.Range(0, 30), i => Assert.True(c.OwnsKv(i)));
    }

    [Fact]
    public void Dense_31B_reads_global_kv_heads_and_window()
    {
        Gemma4Config c = Load("31B");
        Assert.Equal(60, c.LayerCount);
        Assert.Equal(16, c.KvHeadCounts[0]);
        Assert.Equal(4, c.KvHeadCounts[5]);
        Assert.Equal(1024, c.SlidingWindow);
        Assert.Equal(21504, c.FfnWidths[59]);
        Assert.True(c.AttentionKEqV);
    }

    [Fact]
    public void Inconsistent_kv_heads_are_reported_with_the_field()
    {
        const string json = """{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3,"head_dim":16,"intermediate_size":128,"vocab_size":300}""";
        using JsonDocument doc = JsonDocument.Parse(json);
        var e = Assert.ThrowsAny<Exception>(() => Gemma4Config.FromHfConfig(doc, "bad.json"));
        Assert.Contains("bad.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("head_count_kv", e.Message, StringComparison.Ordinal);
    }
}
