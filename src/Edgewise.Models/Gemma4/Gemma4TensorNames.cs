using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

/// <summary>
/// Gemma 4 tensor names: GGUF names as llama.cpp's converter writes them (spec §5.4) and their Hugging Face
/// counterparts (spec §5.2). The model looks tensors up by GGUF name; a safetensors checkpoint is read through
/// <see cref="ToHf"/>.
/// </summary>
public static class Gemma4TensorNames
{
    public const string TokenEmbedding = "token_embd.weight";
    public const string Output = "output.weight";
    public const string OutputNorm = "output_norm.weight";
    public const string RopeFreqs = "rope_freqs.weight";
    public const string PerLayerTokenEmbedding = "per_layer_token_embd.weight";
    public const string PerLayerModelProjection = "per_layer_model_proj.weight";
    public const string PerLayerProjectionNorm = "per_layer_proj_norm.weight";

    public const string AttnNorm = "attn_norm.weight";
    public const string AttnQ = "attn_q.weight";
    public const string AttnK = "attn_k.weight";
    public const string AttnV = "attn_v.weight";
    public const string AttnOutput = "attn_output.weight";
    public const string AttnQNorm = "attn_q_norm.weight";
    public const string AttnKNorm = "attn_k_norm.weight";
    public const string PostAttentionNorm = "post_attention_norm.weight";
    public const string FfnNorm = "ffn_norm.weight";
    public const string FfnGate = "ffn_gate.weight";
    public const string FfnUp = "ffn_up.weight";
    public const string FfnDown = "ffn_down.weight";
    public const string PostFfwNorm = "post_ffw_norm.weight";
    public const string InpGate = "inp_gate.weight";
    public const string Proj = "proj.weight";
    public const string PostNorm = "post_norm.weight";
    public const string LayerOutputScale = "layer_output_scale.weight";
    public const string FfnGateInp = "ffn_gate_inp.weight";
    public const string FfnGateInpScale = "ffn_gate_inp.scale";
    public const string FfnGateUpExps = "ffn_gate_up_exps.weight";
    public const string FfnGateExps = "ffn_gate_exps.weight";
    public const string FfnUpExps = "ffn_up_exps.weight";
    public const string FfnDownExps = "ffn_down_exps.weight";
    public const string FfnDownExpsScale = "ffn_down_exps.scale";
    public const string PreFfwNorm2 = "pre_ffw_norm_2.weight";
    public const string PostFfwNorm1 = "post_ffw_norm_1.weight";
    public const string PostFfwNorm2 = "post_ffw_norm_2.weight";

    /// <summary><c>blk.{layer}.{suffix}</c>.</summary>
    public static string Block(int layer, string suffix) => $"blk.{layer}.{suffix}";

    /// <summary>The GGUF ↔ HF names both Gemma generations share; Gemma 3n extends it with its AltUp and LAuReL tensors.</summary>
    internal static readonly HfTensorNameMap SharedHfNames = new(
        new Dictionary<string, string>
        {
            [TokenEmbedding] = "embed_tokens.weight",
            [OutputNorm] = "norm.weight",
            [PerLayerTokenEmbedding] = "embed_tokens_per_layer.weight",
            [PerLayerModelProjection] = "per_layer_model_projection.weight",
            [PerLayerProjectionNorm] = "per_layer_projection_norm.weight",
        },
        new Dictionary<string, string>
        {
            [AttnNorm] = "input_layernorm.weight",
            [AttnQ] = "self_attn.q_proj.weight",
            [AttnK] = "self_attn.k_proj.weight",
            [AttnV] = "self_attn.v_proj.weight",
            [AttnOutput] = "self_attn.o_proj.weight",
            [AttnQNorm] = "self_attn.q_norm.weight",
            [AttnKNorm] = "self_attn.k_norm.weight",
            [PostAttentionNorm] = "post_attention_layernorm.weight",
            [FfnNorm] = "pre_feedforward_layernorm.weight",
            [FfnGate] = "mlp.gate_proj.weight",
            [FfnUp] = "mlp.up_proj.weight",
            [FfnDown] = "mlp.down_proj.weight",
            [PostFfwNorm] = "post_feedforward_layernorm.weight",
            [InpGate] = "per_layer_input_gate.weight",
            [Proj] = "per_layer_projection.weight",
            [PostNorm] = "post_per_layer_input_norm.weight",
        });

    private static readonly HfTensorNameMap HfNames = SharedHfNames.WithBlock(new Dictionary<string, string>
    {
        [LayerOutputScale] = "layer_scalar",
        [FfnGateInp] = "router.proj.weight",
        [FfnGateInpScale] = "router.scale",
        [FfnGateUpExps] = "experts.gate_up_proj",
        [FfnDownExps] = "experts.down_proj",
        [FfnDownExpsScale] = "router.per_expert_scale",
        [PreFfwNorm2] = "pre_feedforward_layernorm_2.weight",
        [PostFfwNorm1] = "post_feedforward_layernorm_1.weight",
        [PostFfwNorm2] = "post_feedforward_layernorm_2.weight",
    });

    /// <summary>
    /// The HF name (without the <c>model.</c> / <c>model.language_model.</c> prefix) of a GGUF tensor name, or null
    /// for tensors HF does not store (<c>rope_freqs</c>, the untied <c>output</c>).
    /// </summary>
    public static string? ToHf(string ggufName) => HfNames.ToHf(ggufName);
}
