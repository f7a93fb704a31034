using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
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
        var list = new List<SynthTensor>();
        int[] ffn = s.FfnWidths();
        int h = s.Hidden, st = s.AltUpInputs;
        int kvw = s.KvHeads * s.HeadDim, qw = s.Heads * s.HeadDim;

        GgmlType Mat(long columns)
        {
            if (s.Dtype is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return s.Dtype;
            // Block types need whole blocks per row; llama-quantize falls back the same way.
            if (columns % GgmlTypeInfo.BlockSize(s.Dtype) == 0) return s.Dtype;
            return columns % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F16;
        }
        void Linear(string name, long inFeatures, long outFeatures, float gain = 1f, long stack = 0)
        {
            long[] shape = stack > 0 ? [inFeatures, outFeatures, stack] : [inFeatures, outFeatures];
            list.Add(new SynthTensor(name, shape, Mat(inFeatures), SynthInit.Uniform, 0f, gain * MathF.Sqrt(3f / inFeatures), true));
        }
        void Norm(string name, long n, float center = 1f, float spread = 0.2f) =>
            list.Add(new SynthTensor(name, [n], GgmlType.F32, SynthInit.Uniform, center, spread * center));
        void Small(string name, long[] shape, float amplitude) =>
            list.Add(new SynthTensor(name, shape, GgmlType.F32, SynthInit.Uniform, 0f, amplitude));

        // Post-norms of the attention, MLP and LAuReL branches centred at 0.5: with gain 1 in every branch, 21+ random
        // layers sit near the chaotic edge, where llama.cpp's fp16-table GELU alone moves logits by ~1e-2 (measured:
        // 1.0-1.15e-2 max at gain 1, 2.3-3.0e-3 at 0.5, with the same implementation).
        const float branchGain = 0.5f;
        long width = (long)s.Layers * s.Ple;
        list.Add(new SynthTensor(TokenEmbedding, [h, s.Vocab], Mat(h), SynthInit.Uniform, 0f, MathF.Sqrt(3f / h), true));
        Linear(AltUpProjection, h, h, stack: st - 1);
        Linear(AltUpUnembedProjection, h, h, stack: st - 1);
        list.Add(new SynthTensor(PerLayerTokenEmbedding, [width, s.Vocab], Mat(width), SynthInit.Uniform, 0f, MathF.Sqrt(3f / s.Ple), true));
        Linear(PerLayerModelProjection, h, width);
        Norm(PerLayerProjectionNorm, s.Ple);
        Norm(OutputNorm, h);

        for (int i = 0; i < s.Layers; i++)
        {
            string B(string suffix) => Block(i, suffix);
            Norm(B(AttnNorm), h);
            // Every layer carries K/V as Google's checkpoints do (llama.cpp requires them); shared layers never read them.
            Linear(B(AttnQ), h, qw);
            Linear(B(AttnK), h, kvw);
            Linear(B(AttnV), h, kvw);
            Linear(B(AttnOutput), qw, h);
            Norm(B(AttnQNorm), s.HeadDim, MathF.Pow(s.HeadDim, -0.25f), 0.1f);
            Norm(B(AttnKNorm), s.HeadDim, MathF.Pow(s.HeadDim, -0.25f), 0.1f);
            Norm(B(PostAttentionNorm), h, branchGain);
            Norm(B(FfnNorm), h);
            Linear(B(FfnGate), h, ffn[i]);
            Linear(B(FfnUp), h, ffn[i]);
            Linear(B(FfnDown), ffn[i], h);
            Norm(B(PostFfwNorm), h, branchGain);
            Linear(B(InpGate), h, s.Ple);
            Linear(B(Proj), s.Ple, h);
            Norm(B(PostNorm), h);
            Small(B(AltUpCorrectCoef), [st, st], 0.1f);
            Norm(B(AltUpCorrectScale), h);
            Small(B(AltUpPredictCoef), [st, st * st], 0.1f);
            Linear(B(AltUpRouter), h, st, gain: MathF.Sqrt(h));
            Norm(B(AltUpRouterNorm), h);
            Linear(B(LaurelLeft), h, s.LaurelRank);
            Linear(B(LaurelRight), s.LaurelRank, h);
            Norm(B(LaurelPostNorm), h, branchGain);
        }
        return list;
    }
}
