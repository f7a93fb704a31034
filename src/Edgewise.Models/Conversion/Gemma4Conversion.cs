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
        const string k = Gemma4Config.ArchitectureName + ".";
        w.AddUInt32(k + "context_length", (uint)c.ContextLength);
        w.AddUInt32(k + "embedding_length", (uint)c.HiddenSize);
        w.AddUInt32(k + "block_count", (uint)c.LayerCount);
        AddScalarOrArray(w, k + "feed_forward_length", c.FfnWidths);
        w.AddUInt32(k + "attention.head_count", (uint)c.HeadCount);
        AddScalarOrArray(w, k + "attention.head_count_kv", c.KvHeadCounts);
        w.AddUInt32(k + "attention.key_length", (uint)c.HeadDimFull);
        w.AddUInt32(k + "attention.value_length", (uint)c.HeadDimFull);
        w.AddUInt32(k + "attention.key_length_swa", (uint)c.HeadDimSliding);
        w.AddUInt32(k + "attention.value_length_swa", (uint)c.HeadDimSliding);
        w.AddUInt32(k + "rope.dimension_count", (uint)c.RopeDimsFull);
        w.AddUInt32(k + "rope.dimension_count_swa", (uint)c.RopeDimsSliding);
        w.AddFloat32(k + "rope.freq_base", c.RopeThetaFull);
        w.AddFloat32(k + "rope.freq_base_swa", c.RopeThetaSliding);
        w.AddFloat32(k + "attention.layer_norm_rms_epsilon", c.RmsNormEps);
        w.AddUInt32(k + "attention.sliding_window", (uint)c.SlidingWindow);
        var sliding = new bool[c.LayerCount];
        for (int i = 0; i < sliding.Length; i++) sliding[i] = c.LayerKinds[i] == LayerKind.Sliding;
        w.AddArray<bool>(k + "attention.sliding_window_pattern", sliding);
        w.AddUInt32(k + "attention.shared_kv_layers", (uint)c.SharedKvLayers);
        w.AddFloat32(k + "final_logit_softcapping", c.FinalLogitSoftcap);
        w.AddUInt32(k + "embedding_length_per_layer_input", (uint)c.PerLayerInputSize);
        if (c.IsMoe)
        {
            w.AddUInt32(k + "expert_count", (uint)c.ExpertCount);
            w.AddUInt32(k + "expert_used_count", (uint)c.ExpertsUsed);
            w.AddUInt32(k + "expert_feed_forward_length", (uint)c.ExpertFfnWidth);
        }
    }

    /// <summary>A scalar when every layer agrees, else a per-layer Int32 array (as gguf-py writes Python int lists).</summary>
    internal static void AddScalarOrArray(GgufWriter w, string key, int[] values)
    {
        bool uniform = true;
        for (int i = 1; i < values.Length; i++) uniform &= values[i] == values[0];
        if (uniform) w.AddUInt32(key, (uint)values[0]);
        else w.AddArray<int>(key, values);
    }
}
