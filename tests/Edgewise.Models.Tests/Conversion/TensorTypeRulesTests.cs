using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Xunit;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>llama.cpp's per-tensor type rules as <see cref="TensorTypeRules"/> reproduces them, on hand-made tensor lists.</summary>
public sealed class TensorTypeRulesTests
{
    [Fact]
    public void Use_more_bits_is_the_first_and_last_eighth_and_every_third_layer_between()
    {
        bool[] expected35 = new bool[35];
        // n/8 = 4, 7n/8 = 30: layers 0-3, 30-34, and 4 + 3k + 2 = 6, 9, ..., 27.
        for (int i = 0; i < 35; i++) expected35[i] = i < 4 || i >= 30 || (i - 4) % 3 == 2;
        for (int i = 0; i < 35; i++) Assert.Equal(expected35[i], TensorTypeRules.UseMoreBits(i, 35));
        // Four layers: 4/8 = 0 and 7·4/8 = 3, so layer 3 and (i − 0) % 3 == 2 → layer 2.
        Assert.Equal([false, false, true, true], Enumerable.Range(0, 4).Select(i => TensorTypeRules.UseMoreBits(i, 4)));
    }

    [Fact]
    public void Q4_K_M_mixes_Q4_K_and_Q6_K_like_llama_quantize()
    {
        const int layers = 8;
        var tensors = new List<TensorDescriptor>
        {
            new("token_embd.weight", [256, 1000], GgmlType.F32),
            new("per_layer_token_embd.weight", [512, 1000], GgmlType.F32),
            new("per_layer_model_proj.weight", [256, 512], GgmlType.BF16),
            new("output_norm.weight", [256], GgmlType.F32),
        };
        for (int i = 0; i < layers; i++)
        {
            tensors.Add(new($"blk.{i}.attn_q.weight", [256, 512], GgmlType.F32));
            if (i < 6) tensors.Add(new($"blk.{i}.attn_v.weight", [256, 256], GgmlType.F32));   // layers 6-7 share KV
            tensors.Add(new($"blk.{i}.ffn_down.weight", [512, 256], GgmlType.F32));
            tensors.Add(new($"blk.{i}.proj.weight", [64, 256], GgmlType.F32));
            tensors.Add(new($"blk.{i}.attn_norm.weight", [256], GgmlType.F32));
            tensors.Add(new($"blk.{i}.altup_router.weight", [256, 4], GgmlType.F32));
        }
        var rules = new TensorTypeRules(ModelFileType.Q4_K_M, tensors, layers, expertCount: 0);
        GgmlType T(string name) => rules.TargetType(tensors.Single(t => t.Name == name));

        Assert.Equal(GgmlType.Q6_K, T("token_embd.weight"));             // tied: the output tensor's rule
        Assert.Equal(GgmlType.Q6_K, T("per_layer_token_embd.weight"));   // counted as a token embedding
        Assert.Equal(GgmlType.BF16, T("per_layer_model_proj.weight"));   // never quantized: kept as it comes
        Assert.Equal(GgmlType.F32, T("output_norm.weight"));
        Assert.Equal(GgmlType.F32, T("blk.0.altup_router.weight"));
        Assert.Equal(GgmlType.Q4_K, T("blk.0.attn_q.weight"));
        Assert.Equal(GgmlType.Q5_0, T("blk.0.proj.weight"));             // 64-wide rows: Q4_K falls back to Q5_0
        // attn_v: ordinal among the 6 attn_v tensors; 6/8 = 0, 7·6/8 = 5 → ordinals 2 and 5.
        for (int i = 0; i < 6; i++) Assert.Equal(i is 2 or 5 ? GgmlType.Q6_K : GgmlType.Q4_K, T($"blk.{i}.attn_v.weight"));
        // ffn_down over 8 layers: 0, 3, 6, 7.
        for (int i = 0; i < layers; i++) Assert.Equal(i is 0 or 3 or 6 or 7 ? GgmlType.Q6_K : GgmlType.Q4_K, T($"blk.{i}.ffn_down.weight"));

        var withPle = new TensorTypeRules(ModelFileType.Q4_K_M, tensors, layers, 0, perLayerEmbeddingType: GgmlType.Q8_0);
        Assert.Equal(GgmlType.Q8_0, withPle.TargetType(tensors[1]));
    }

    [Fact]
    public void Converter_types_keep_vectors_norms_and_routers_in_F32_and_fall_back_to_F16_for_partial_blocks()
    {
        TensorDescriptor[] tensors =
        [
            new("blk.0.attn_q.weight", [128, 128], GgmlType.BF16),
            new("blk.0.ffn_gate_inp.weight", [128, 8], GgmlType.BF16),
            new("blk.0.altup_predict_coef.weight", [4, 16], GgmlType.BF16),
            new("blk.0.layer_output_scale.weight", [1], GgmlType.BF16),
            new("blk.0.odd.weight", [100, 8], GgmlType.BF16),
        ];
        var q8 = new TensorTypeRules(ModelFileType.Q8_0, tensors, 1, 8);
        Assert.Equal([GgmlType.Q8_0, GgmlType.F32, GgmlType.F32, GgmlType.F32, GgmlType.F16], tensors.Select(q8.TargetType));
        var bf16 = new TensorTypeRules(ModelFileType.BF16, tensors, 1, 8);
        Assert.Equal([GgmlType.BF16, GgmlType.F32, GgmlType.F32, GgmlType.F32, GgmlType.BF16], tensors.Select(bf16.TargetType));
    }

    [Fact]
    public void Eight_expert_models_get_Q8_0_attention_V_and_K_and_Q5_K_attention_output()
    {
        TensorDescriptor[] tensors =
        [
            new("blk.0.attn_v.weight", [256, 256], GgmlType.F32),
            new("blk.0.attn_k.weight", [256, 256], GgmlType.F32),
            new("blk.0.attn_output.weight", [256, 256], GgmlType.F32),
            new("blk.0.ffn_down_exps.weight", [256, 256, 8], GgmlType.F32),
        ];
        var rules = new TensorTypeRules(ModelFileType.Q4_K_M, tensors, 1, 8);
        Assert.Equal([GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q5_K, GgmlType.Q6_K], tensors.Select(rules.TargetType));
    }
}
