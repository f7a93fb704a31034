using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using static Edgewise.Models.Gemma4.Gemma4TensorNames;

namespace Edgewise.Models.Synthesis;

/// <summary>How a synthetic tensor's values are drawn.</summary>
public enum SynthInit
{
    /// <summary>U(center ± amplitude).</summary>
    Uniform,

    /// <summary>llama.cpp's proportional-RoPE factors: 1 for rotated pairs, 1e30 for the rest.</summary>
    RopeFreqs,
}

/// <summary>One tensor of a synthetic model: GGUF name, ggml shape, storage type and value distribution.</summary>
/// <param name="Quantizable">Stored in the file's dtype (a matrix); false for what the converter keeps in F32.</param>
public sealed record SynthTensor(string Name, long[] Shape, GgmlType Type, SynthInit Init, float Center, float Amplitude, bool Quantizable = false)
{
    public long Columns => Shape[0];
    public long Rows
    {
        get
        {
            long n = 1;
            for (int i = 1; i < Shape.Length; i++) n *= Shape[i];
            return n;
        }
    }
}

/// <summary>
/// Every tensor a llama.cpp-converted Gemma 4 GGUF holds for a <see cref="Gemma4SynthSpec"/>, in the converter's
/// order, with magnitudes that keep a random network numerically tame (llama-cpp-reference.md): linear weights
/// U(±sqrt(3/fan_in)), norms near 1, q/k norms near head_dim^−1/4, embeddings U(±sqrt(3/width)).
/// </summary>
public static class Gemma4TensorPlan
{
    public static List<SynthTensor> Build(Gemma4SynthSpec s)
    {
        s.Validate();
        var plan = new SynthPlanBuilder(s.Dtype);
        LayerKind[] kinds = s.LayerKinds();
        int[] ffn = s.FfnWidths();
        int[] kvHeads = s.KvHeadCounts();
        int h = s.Hidden;

        plan.Add(new SynthTensor(TokenEmbedding, [h, s.Vocab], plan.MatrixType(h), SynthInit.Uniform, 0f, MathF.Sqrt(3f / h), true));
        if (s.Ple > 0)
        {
            long width = (long)s.Layers * s.Ple;
            plan.Add(new SynthTensor(PerLayerTokenEmbedding, [width, s.Vocab], plan.MatrixType(width), SynthInit.Uniform, 0f, MathF.Sqrt(3f / s.Ple), true));
            plan.Linear(PerLayerModelProjection, h, width);
            plan.Norm(PerLayerProjectionNorm, s.Ple);
        }
        if (Array.IndexOf(kinds, LayerKind.Full) >= 0)
        {
            plan.Add(new SynthTensor(RopeFreqs, [s.HeadDimFull / 2], GgmlType.F32, SynthInit.RopeFreqs, 0f, 0f));
        }
        plan.Norm(OutputNorm, h);

        for (int i = 0; i < s.Layers; i++)
        {
            bool full = kinds[i] == LayerKind.Full;
            int d = full ? s.HeadDimFull : s.HeadDim;
            int kvw = kvHeads[i] * d, qw = s.Heads * d;
            bool owns = i < s.FirstShared;
            string B(string suffix) => Block(i, suffix);
            plan.Norm(B(AttnNorm), h);
            plan.Linear(B(AttnQ), h, qw);
            if (owns)
            {
                plan.Linear(B(AttnK), h, kvw);
                if (!(full && s.KEqV)) plan.Linear(B(AttnV), h, kvw);
                plan.Norm(B(AttnKNorm), d, MathF.Pow(d, -0.25f), 0.1f);
            }
            plan.Norm(B(AttnQNorm), d, MathF.Pow(d, -0.25f), 0.1f);
            plan.Linear(B(AttnOutput), qw, h);
            plan.Norm(B(PostAttentionNorm), h);
            plan.Norm(B(FfnNorm), h);
            plan.Linear(B(FfnGate), h, ffn[i]);
            plan.Linear(B(FfnUp), h, ffn[i]);
            plan.Linear(B(FfnDown), ffn[i], h);
            plan.Norm(B(PostFfwNorm), h);
            if (s.Experts > 0)
            {
                // Router logits get a spread of ~2 so top-k has clear gaps (near-ties flip between engines).
                plan.Add(new SynthTensor(B(FfnGateInp), [h, s.Experts], GgmlType.F32, SynthInit.Uniform, 0f, 2f * MathF.Sqrt(3f)));
                plan.Norm(B(FfnGateInpScale), h);
                plan.Linear(B(FfnGateUpExps), h, 2L * s.ExpertFfn, stack: s.Experts);
                plan.Linear(B(FfnDownExps), s.ExpertFfn, h, stack: s.Experts);
                plan.Norm(B(FfnDownExpsScale), s.Experts);
                plan.Norm(B(PreFfwNorm2), h);
                plan.Norm(B(PostFfwNorm1), h);
                plan.Norm(B(PostFfwNorm2), h);
            }
            if (s.Ple > 0)
            {
                plan.Linear(B(InpGate), h, s.Ple);
                plan.Linear(B(Proj), s.Ple, h);
                plan.Norm(B(PostNorm), h);
            }
            plan.Norm(B(LayerOutputScale), 1, 0.8f, 0.2f);
        }
        return plan.Tensors;
    }

    /// <summary>Values [first, first + destination.Length) of <paramref name="t"/> in row-major order.</summary>
    public static void Values(SynthTensor t, ulong seed, long first, Span<float> destination)
    {
        if (t.Init == SynthInit.RopeFreqs)
        {
            // Filled by the caller's spec: pairs below the rotated count are 1, the rest 1e30 (kept in F32).
            throw new InvalidOperationException("RoPE factors depend on the spec; use RopeFreqValues.");
        }
        SeededValues.FillUniform(SeededValues.TensorKey(seed, t.Name), first, t.Center, t.Amplitude, destination);
    }

    public static void RopeFreqValues(Gemma4SynthSpec s, Span<float> destination)
    {
        int rotated = s.RotatedPairsFull;
        for (int i = 0; i < destination.Length; i++) destination[i] = i < rotated ? 1f : 1e30f;
    }
}
