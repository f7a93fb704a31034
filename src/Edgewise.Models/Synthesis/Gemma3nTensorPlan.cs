using static Edgewise.Models.Gemma3n.Gemma3nTensorNames;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Every tensor a llama.cpp-converted Gemma 3n GGUF holds for a <see cref="Gemma3nSynthSpec"/>, in the converter's
/// order, with magnitudes that keep a random network tame (llama-cpp-reference.md): linear weights U(±sqrt(3/fan_in)),
/// norms near 1, q/k norms near head_dim^−1/4, embeddings U(±sqrt(3/width)). The AltUp router gets weights
/// sqrt(H) times larger, because its input is scaled by 1/H: with ordinary weights every modality would be ≈ 0 and
/// the AltUp mixing would go untested. Branch post-norms sit near 0.5 (see <see cref="Build"/>).
/// </summary>
public static class Gemma3nTensorPlan
{
    public static List<SynthTensor> Build(Gemma3nSynthSpec s)
    {
        s.Validate();
        var plan = new SynthPlanBuilder(s.Dtype);
        int[] ffn = s.FfnWidths();
        int h = s.Hidden, st = s.AltUpInputs;
        int kvw = s.KvHeads * s.HeadDim, qw = s.Heads * s.HeadDim;

        // Post-norms of the attention, MLP and LAuReL branches centred at 0.5: with gain 1 in every branch, 21+ random
        // layers sit near the chaotic edge, where llama.cpp's fp16-table GELU alone moves logits by ~1e-2 (measured:
        // 1.0-1.15e-2 max at gain 1, 2.3-3.0e-3 at 0.5, with the same implementation).
        const float branchGain = 0.5f;
        long width = (long)s.Layers * s.Ple;
        plan.Add(new SynthTensor(TokenEmbedding, [h, s.Vocab], plan.MatrixType(h), SynthInit.Uniform, 0f, MathF.Sqrt(3f / h), true));
        plan.Linear(AltUpProjection, h, h, stack: st - 1);
        plan.Linear(AltUpUnembedProjection, h, h, stack: st - 1);
        plan.Add(new SynthTensor(PerLayerTokenEmbedding, [width, s.Vocab], plan.MatrixType(width), SynthInit.Uniform, 0f, MathF.Sqrt(3f / s.Ple), true));
        plan.Linear(PerLayerModelProjection, h, width);
        plan.Norm(PerLayerProjectionNorm, s.Ple);
        plan.Norm(OutputNorm, h);

        for (int i = 0; i < s.Layers; i++)
        {
            string B(string suffix) => Block(i, suffix);
            plan.Norm(B(AttnNorm), h);
            // Every layer carries K/V as Google's checkpoints do (llama.cpp requires them); shared layers never read them.
            plan.Linear(B(AttnQ), h, qw);
            plan.Linear(B(AttnK), h, kvw);
            plan.Linear(B(AttnV), h, kvw);
            plan.Linear(B(AttnOutput), qw, h);
            plan.Norm(B(AttnQNorm), s.HeadDim, MathF.Pow(s.HeadDim, -0.25f), 0.1f);
            plan.Norm(B(AttnKNorm), s.HeadDim, MathF.Pow(s.HeadDim, -0.25f), 0.1f);
            plan.Norm(B(PostAttentionNorm), h, branchGain);
            plan.Norm(B(FfnNorm), h);
            plan.Linear(B(FfnGate), h, ffn[i]);
            plan.Linear(B(FfnUp), h, ffn[i]);
            plan.Linear(B(FfnDown), ffn[i], h);
            plan.Norm(B(PostFfwNorm), h, branchGain);
            plan.Linear(B(InpGate), h, s.Ple);
            plan.Linear(B(Proj), s.Ple, h);
            plan.Norm(B(PostNorm), h);
            plan.Small(B(AltUpCorrectCoef), [st, st], 0.1f);
            plan.Norm(B(AltUpCorrectScale), h);
            plan.Small(B(AltUpPredictCoef), [st, st * st], 0.1f);
            plan.Linear(B(AltUpRouter), h, st, gain: MathF.Sqrt(h));
            plan.Norm(B(AltUpRouterNorm), h);
            plan.Linear(B(LaurelLeft), h, s.LaurelRank);
            plan.Linear(B(LaurelRight), s.LaurelRank, h);
            plan.Norm(B(LaurelPostNorm), h, branchGain);
        }
        return plan.Tensors;
    }
}
