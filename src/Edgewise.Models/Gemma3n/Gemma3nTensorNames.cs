using Edgewise.Models.Common;
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

    private static readonly HfTensorNameMap HfNames = G4.SharedHfNames.WithBlock(new Dictionary<string, string>
    {
        [AltUpCorrectCoef] = "altup.correction_coefs.weight",
        [AltUpCorrectScale] = "altup.correct_output_scale",
        [AltUpPredictCoef] = "altup.prediction_coefs.weight",
        [AltUpRouter] = "altup.modality_router.weight",
        [AltUpRouterNorm] = "altup.router_norm.weight",
        [LaurelLeft] = "laurel.linear_left.weight",
        [LaurelRight] = "laurel.linear_right.weight",
        [LaurelPostNorm] = "laurel.post_laurel_norm.weight",
    });

    /// <summary>
    /// The HF name (without the <c>model.</c> / <c>model.language_model.</c> prefix) of a GGUF tensor name, or null
    /// for tensors HF does not store (the stacked AltUp tensors, the untied <c>output</c>).
    /// </summary>
    public static string? ToHf(string ggufName)
    {
        // Global names hold no '#', so asking for the per-index parts first changes no answer.
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
        return HfNames.ToHf(ggufName);
    }
}
