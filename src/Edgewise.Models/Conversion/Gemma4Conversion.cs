using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using static Edgewise.Models.Gemma4.Gemma4TensorNames;

namespace Edgewise.Models.Conversion;

/// <summary>
/// Gemma 4 HF checkpoint → GGUF as llama.cpp's <c>convert_hf_to_gguf</c> writes it (spec §5.3-§5.5): names from
/// <see cref="Gemma4TensorNames"/>, no norm shift (HF norms already multiply), <c>rope_freqs</c> generated for
/// proportional RoPE, per-layer arrays for <c>feed_forward_length</c> and <c>head_count_kv</c> when layers differ,
/// <c>sliding_window_pattern</c> booleans, expert tensors as they are (HF's [E, 2F, H] is ggml's [H, 2F, E]), no
/// <c>output.weight</c> (tied).
/// </summary>
internal static class Gemma4Conversion
{
    public static ConversionPlan Plan(JsonDocument configJson, HfTensors hf, string configPath)
    {
        Gemma4Config c = Gemma4Config.FromHfConfig(configJson, configPath);
        var tensors = new List<PlannedTensor>();
        int h = c.HiddenSize;

        void Add(string gguf, params long[] shape)
        {
            string name = ToHf(gguf) ?? throw new InvalidOperationException($"No HF name for {gguf}.");
            TensorView view = hf.Get(name, shape);
            tensors.Add(new PlannedTensor(gguf, shape, view.Type, TensorEncoder.Rows(view), view));
        }
        void AddIfPresent(string gguf, params long[] shape)
        {
            if (hf.Has(ToHf(gguf)!)) Add(gguf, shape);
        }

        Add(TokenEmbedding, h, c.VocabSize);
        if (c.HasPerLayerInputs)
        {
            long width = (long)c.LayerCount * c.PerLayerInputSize;
            Add(PerLayerTokenEmbedding, width, c.PerLayerVocabSize);
            Add(PerLayerModelProjection, h, width);
            Add(PerLayerProjectionNorm, c.PerLayerInputSize);
        }
        if (Array.IndexOf(c.LayerKinds, LayerKind.Full) >= 0)
        {
            // llama.cpp's proportional RoPE for full layers: factor 1 on the rotated pairs, 1e30 (no rotation) on the rest.
            int pairs = c.HeadDimFull / 2;
            int rotated = (int)Math.Floor(c.FullRopePartialFactor * c.HeadDimFull / 2);
            tensors.Add(new PlannedTensor(RopeFreqs, [pairs], GgmlType.F32, (_, d) =>
            {
                for (int i = 0; i < d.Length; i++) d[i] = i < rotated ? 1f : 1e30f;
            }));
        }
        Add(OutputNorm, h);

        for (int i = 0; i < c.LayerCount; i++)
        {
            int d = c.HeadDims[i];
            long qw = (long)c.HeadCount * d, kvw = (long)c.KvHeadCounts[i] * d;
            string B(string suffix) => Block(i, suffix);
            Add(B(AttnNorm), h);
            Add(B(AttnQ), h, qw);
            if (c.OwnsKv(i))
            {
                Add(B(AttnK), h, kvw);
                AddIfPresent(B(AttnV), h, kvw);   // absent on attention_k_eq_v full layers: V is the raw K projection
                Add(B(AttnKNorm), d);
            }
            else
            {
                // Google's checkpoints still carry K/V for KV-shared layers; they are never read (spec §5.2).
                foreach (string unused in new[] { AttnK, AttnV, AttnKNorm }) hf.Skip(ToHf(B(unused))!);
            }
            Add(B(AttnQNorm), d);
            Add(B(AttnOutput), qw, h);
            Add(B(PostAttentionNorm), h);
            Add(B(FfnNorm), h);
            Add(B(FfnGate), h, c.FfnWidths[i]);
            Add(B(FfnUp), h, c.FfnWidths[i]);
            Add(B(FfnDown), c.FfnWidths[i], h);
            Add(B(PostFfwNorm), h);
            if (c.IsMoe)
            {
                Add(B(FfnGateInp), h, c.ExpertCount);
                Add(B(FfnGateInpScale), h);
                Add(B(FfnGateUpExps), h, 2L * c.ExpertFfnWidth, c.ExpertCount);
                Add(B(FfnDownExps), c.ExpertFfnWidth, h, c.ExpertCount);
                Add(B(FfnDownExpsScale), c.ExpertCount);
                Add(B(PreFfwNorm2), h);
                Add(B(PostFfwNorm1), h);
                Add(B(PostFfwNorm2), h);
            }
            if (c.HasPerLayerInputs)
            {
                Add(B(InpGate), h, c.PerLayerInputSize);
                Add(B(Proj), c.PerLayerInputSize, h);
                Add(B(PostNorm), h);
            }
            Add(B(LayerOutputScale), 1);
        }

        return new ConversionPlan
        {
            Architecture = Gemma4Config.ArchitectureName,
            LayerCount = c.LayerCount,
            ExpertCount = c.ExpertCount,
            VocabSize = c.VocabSize,
            WriteHyperparameters = w => WriteHyperparameters(c, w),
            Tensors = tensors,
            Ignored = hf.Unused(),
        };
    }

    private static void WriteHyperparameters(Gemma4Config c, GgufWriter w)
    {
        var keys = new GemmaGgufKeys
        {
            Architecture = Gemma4Config.ArchitectureName, ContextLength = c.ContextLength, HiddenSize = c.HiddenSize,
            FfnWidths = c.FfnWidths, HeadCount = c.HeadCount, KvHeadCounts = c.KvHeadCounts, HeadDim = c.HeadDimFull,
            RopeThetaFull = c.RopeThetaFull, RopeThetaSliding = c.RopeThetaSliding, RmsNormEps = c.RmsNormEps,
            SlidingWindow = c.SlidingWindow, LayerKinds = c.LayerKinds, SharedKvLayers = c.SharedKvLayers,
            FinalLogitSoftcap = c.FinalLogitSoftcap, PerLayerInputSize = c.PerLayerInputSize,
        };
        keys.WriteSizes(w);
        WriteSlidingDims(w, c.HeadDimSliding, c.RopeDimsFull, c.RopeDimsSliding);
        keys.WriteAttention(w);
        if (c.IsMoe) WriteExperts(w, c.ExpertCount, c.ExpertsUsed, c.ExpertFfnWidth);
    }

    /// <summary>
    /// Gemma 4's own keys between <see cref="GemmaGgufKeys.WriteSizes"/> and <see cref="GemmaGgufKeys.WriteAttention"/>:
    /// the sliding layers' head dim and the RoPE dims (also written by the synthesizer).
    /// </summary>
    internal static void WriteSlidingDims(GgufWriter w, int headDimSliding, int ropeDimsFull, int ropeDimsSliding)
    {
        const string k = Gemma4Config.ArchitectureName + ".";
        w.AddUInt32(k + "attention.key_length_swa", (uint)headDimSliding);
        w.AddUInt32(k + "attention.value_length_swa", (uint)headDimSliding);
        w.AddUInt32(k + "rope.dimension_count", (uint)ropeDimsFull);
        w.AddUInt32(k + "rope.dimension_count_swa", (uint)ropeDimsSliding);
    }

    /// <summary>The MoE keys, last in a Gemma 4 GGUF's hyperparameters (also written by the synthesizer).</summary>
    internal static void WriteExperts(GgufWriter w, int count, int used, int ffnWidth)
    {
        const string k = Gemma4Config.ArchitectureName + ".";
        w.AddUInt32(k + "expert_count", (uint)count);
        w.AddUInt32(k + "expert_used_count", (uint)used);
        w.AddUInt32(k + "expert_feed_forward_length", (uint)ffnWidth);
    }
}
