using G4 = Edgewise.Models.Gemma4.Gemma4TensorNames;

namespace Edgewise.Models.Gemma3n;

/// <summary>
/// Gemma 3n tensor names: GGUF names as llama.cpp's converter writes them (spec §5.4) and their Hugging Face
/// counterparts (spec §5.1). The names both Gemma generations share are Gemma 4's; only the AltUp and LAuReL
/// tensors are 3n's own. HF keeps the three AltUp (un)embedding projections apart where GGUF stacks them, so
/// each has a per-index name (<see cref="AltUpProjectionPart"/>) that only safetensors checkpoints answer.
/// </summary>
public static class Gemma3nTensorNames
{
    public const string TokenEmbedding = G4.TokenEmbedding;
    public const string Output = G4.Output;
    public const string OutputNorm = G4.OutputNorm;
    public const string PerLayerTokenEmbedding = G4.PerLayerTokenEmbedding;
    public const string PerLayerModelProjection = G4.PerLayerModelProjection;
    public const string PerLayerProjectionNorm = G4.PerLayerProjectionNorm;
    public const string AltUpProjection = "altup_proj.weight";
    public const string AltUpUnembedProjection = "altup_unembd_proj.weight";

    public const string AttnNorm = G4.AttnNorm;
    public const string AttnQ = G4.AttnQ;
    public const string AttnK = G4.AttnK;
    public const string AttnV = G4.AttnV;
    public const string AttnOutput = G4.AttnOutput;
    public const string AttnQNorm = G4.AttnQNorm;
    public const string AttnKNorm = G4.AttnKNorm;
    public const string PostAttentionNorm = G4.PostAttentionNorm;
    public const string FfnNorm = G4.FfnNorm;
    public const string FfnGate = G4.FfnGate;
    public const string FfnUp = G4.FfnUp;
    public const string FfnDown = G4.FfnDown;
    public const string PostFfwNorm = G4.PostFfwNorm;
    public const string InpGate = G4.InpGate;
    public const string Proj = G4.Proj;
    public const string PostNorm = G4.PostNorm;
    public const string AltUpCorrectCoef = "altup_correct_coef.weight";
    public const string AltUpCorrectScale = "altup_correct_scale.weight";
    public const string AltUpPredictCoef = "altup_predict_coef.weight";
    public const string AltUpRouter = "altup_router.weight";
    public const string AltUpRouterNorm = "altup_router_norm.weight";
    public const string LaurelLeft = "laurel_l.weight";
    public const string LaurelRight = "laurel_r.weight";
    public const string LaurelPostNorm = "laurel_post_norm.weight";

    /// <summary><c>blk.{layer}.{suffix}</c>.</summary>
    public static string Block(int layer, string suffix) => G4.Block(layer, suffix);

    /// <summary>Part <paramref name="index"/> of a stacked AltUp tensor, as HF stores it (<c>altup_projections.{index}</c>).</summary>
    public static string AltUpProjectionPart(string stacked, int index) => $"{stacked}#{index}";

    private static readonly Dictionary<string, string> GlobalToHf = new(StringComparer.Ordinal)
    {
        [TokenEmbedding] = "embed_tokens.weight",
        [OutputNorm] = "norm.weight",
        [PerLayerTokenEmbedding] = "embed_tokens_per_layer.weight",
        [PerLayerModelProjection] = "per_layer_model_projection.weight",
        [PerLayerProjectionNorm] = "per_layer_projection_norm.weight",
    };

    private static readonly Dictionary<string, string> BlockToHf = new(StringComparer.Ordinal)
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
        [AltUpCorrectCoef] = "altup.correction_coefs.weight",
        [AltUpCorrectScale] = "altup.correct_output_scale",
        [AltUpPredictCoef] = "altup.prediction_coefs.weight",
        [AltUpRouter] = "altup.modality_router.weight",
        [AltUpRouterNorm] = "altup.router_norm.weight",
        [LaurelLeft] = "laurel.linear_left.weight",
        [LaurelRight] = "laurel.linear_right.weight",
        [LaurelPostNorm] = "laurel.post_laurel_norm.weight",
    };

    /// <summary>
    /// The HF name (without the <c>model.</c> / <c>model.language_model.</c> prefix) of a GGUF tensor name, or null
    /// for tensors HF does not store (the stacked AltUp tensors, the untied <c>output</c>).
    /// </summary>
    public static string? ToHf(string ggufName)
    {
        if (GlobalToHf.TryGetValue(ggufName, out string? global)) return global;
        int hash = ggufName.IndexOf('#', StringComparison.Ordinal);
        if (hash > 0)
        {
            string index = ggufName[(hash + 1)..];
            return ggufName[..hash] switch
            {
                AltUpProjection => $"altup_projections.{index}.weight",
                AltUpUnembedProjection => $"altup_unembed_projections.{index}.weight",
                _ => null,
            };
        }
        if (!ggufName.StartsWith("blk.", StringComparison.Ordinal)) return null;
        int dot = ggufName.IndexOf('.', 4);
        if (dot < 0) return null;
        string layer = ggufName[4..dot];
        return BlockToHf.TryGetValue(ggufName[(dot + 1)..], out string? suffix) ? $"layers.{layer}.{suffix}" : null;
    }
}
