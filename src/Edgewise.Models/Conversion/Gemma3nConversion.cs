using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using static Edgewise.Models.Gemma3n.Gemma3nTensorNames;

namespace Edgewise.Models.Conversion;

/// <summary>
/// Gemma 3n HF checkpoint → GGUF as llama.cpp's <c>convert_hf_to_gguf</c> writes it (spec §5.3-§5.5): no norm
/// shift; the three <c>altup_projections.k</c> (and <c>altup_unembed_projections.k</c>) stacked into one
/// [H, H, 3] tensor; <c>embed_tokens_per_layer</c> padded with zero rows up to <c>vocab_size</c>;
/// <c>correct_output_scale</c> → <c>altup_correct_scale.weight</c>; <c>activation_sparsity_pattern</c> →
/// <c>activation_sparsity_scale</c> (Φ⁻¹, −inf for dense layers); <c>layer_types</c> →
/// <c>sliding_window_pattern</c>; no <c>output.weight</c> (tied). K/V of KV-shared layers are kept: llama.cpp's
/// gemma3n loader requires them in every layer.
/// </summary>
internal static class Gemma3nConversion
{
    public static ConversionPlan Plan(JsonDocument configJson, HfTensors hf, string configPath)
    {
        Gemma3nConfig c = Gemma3nConfig.FromHfConfig(configJson, LaurelRankReader(hf), configPath);
        var tensors = new List<PlannedTensor>();
        int h = c.HiddenSize, streams = c.AltUpInputs;

        void Add(string gguf, params long[] shape)
        {
            TensorView view = hf.Get(ToHf(gguf)!, shape);
            tensors.Add(new PlannedTensor(gguf, shape, view.Type, TensorEncoder.Rows(view), view));
        }
        void Stacked(string gguf)
        {
            // GGUF [H, H, streams − 1]: row k·H + o is output row o of HF projection k.
            var parts = new RowSource[streams - 1];
            GgmlType type = GgmlType.F32;
            for (int k = 0; k < parts.Length; k++)
            {
                TensorView part = hf.Get(ToHf(AltUpProjectionPart(gguf, k))!, [h, h]);
                parts[k] = TensorEncoder.Rows(part);
                type = part.Type;
            }
            tensors.Add(new PlannedTensor(gguf, [h, h, parts.Length], type, (row, d) => parts[row / h](row % h, d)));
        }

        Add(TokenEmbedding, h, c.VocabSize);
        Stacked(AltUpProjection);
        Stacked(AltUpUnembedProjection);
        long width = (long)c.LayerCount * c.PerLayerInputSize;
        TensorView ple = hf.Get(ToHf(PerLayerTokenEmbedding)!, [width, c.PerLayerVocabSize]);
        if (c.PerLayerVocabSize == c.VocabSize)
        {
            tensors.Add(new PlannedTensor(PerLayerTokenEmbedding, [width, c.VocabSize], ple.Type, TensorEncoder.Rows(ple), ple));
        }
        else
        {
            // Rows past the PLE vocabulary (the audio/vision soft tokens) are zeros, as the converter pads them.
            RowSource rows = TensorEncoder.Rows(ple);
            long known = c.PerLayerVocabSize;
            tensors.Add(new PlannedTensor(PerLayerTokenEmbedding, [width, c.VocabSize], ple.Type, (row, d) =>
            {
                if (row < known) rows(row, d);
                else d.Clear();
            }));
        }
        Add(PerLayerModelProjection, h, width);
        Add(PerLayerProjectionNorm, c.PerLayerInputSize);
        Add(OutputNorm, h);

        long qw = (long)c.HeadCount * c.HeadDim, kvw = (long)c.KvHeadCount * c.HeadDim;
        for (int i = 0; i < c.LayerCount; i++)
        {
            string B(string suffix) => Block(i, suffix);
            Add(B(AttnNorm), h);
            Add(B(AttnQ), h, qw);
            Add(B(AttnK), h, kvw);
            Add(B(AttnV), h, kvw);
            Add(B(AttnOutput), qw, h);
            Add(B(AttnQNorm), c.HeadDim);
            Add(B(AttnKNorm), c.HeadDim);
            Add(B(PostAttentionNorm), h);
            Add(B(FfnNorm), h);
            Add(B(FfnGate), h, c.FfnWidths[i]);
            Add(B(FfnUp), h, c.FfnWidths[i]);
            Add(B(FfnDown), c.FfnWidths[i], h);
            Add(B(PostFfwNorm), h);
            Add(B(InpGate), h, c.PerLayerInputSize);
            Add(B(Proj), c.PerLayerInputSize, h);
            Add(B(PostNorm), h);
            Add(B(AltUpCorrectCoef), streams, streams);
            Add(B(AltUpCorrectScale), h);
            Add(B(AltUpPredictCoef), streams, streams * streams);
            Add(B(AltUpRouter), h, streams);
            Add(B(AltUpRouterNorm), h);
            Add(B(LaurelLeft), h, c.LaurelRank);
            Add(B(LaurelRight), c.LaurelRank, h);
            Add(B(LaurelPostNorm), h);
        }

        return new ConversionPlan
        {
            Architecture = Gemma3nConfig.ArchitectureName,
            LayerCount = c.LayerCount,
            ExpertCount = 0,
            VocabSize = c.VocabSize,
            WriteHyperparameters = w => WriteHyperparameters(c, w),
            Tensors = tensors,
            Ignored = hf.Unused(),
        };
    }

    /// <summary>The LAuReL rank from <c>laurel.linear_left</c>'s shape, for configs without <c>laurel_rank</c>.</summary>
    private static WeightReader LaurelRankReader(HfTensors hf) => new(new HfTensorSource(hf));

    private static void WriteHyperparameters(Gemma3nConfig c, GgufWriter w)
    {
        var keys = new GemmaGgufKeys
        {
            Architecture = Gemma3nConfig.ArchitectureName, ContextLength = c.ContextLength, HiddenSize = c.HiddenSize,
            FfnWidths = c.FfnWidths, HeadCount = c.HeadCount, KvHeadCounts = [c.KvHeadCount], HeadDim = c.HeadDim,
            RopeThetaFull = c.RopeThetaFull, RopeThetaSliding = c.RopeThetaSliding, RmsNormEps = c.RmsNormEps,
            SlidingWindow = c.SlidingWindow, LayerKinds = c.LayerKinds, SharedKvLayers = c.SharedKvLayers,
            FinalLogitSoftcap = c.FinalLogitSoftcap, PerLayerInputSize = c.PerLayerInputSize,
        };
        string k = keys.Prefix;
        keys.WriteSizes(w);
        keys.WriteAttention(w);
        w.AddUInt32(k + "altup.active_idx", (uint)c.AltUpActiveIndex);
        w.AddUInt32(k + "altup.num_inputs", (uint)c.AltUpInputs);
        var scale = new float[c.LayerCount];
        for (int i = 0; i < scale.Length; i++) scale[i] = c.IsSparse(i) ? c.SparsityStdMultipliers[i] : float.NegativeInfinity;
        w.AddArray<float>(k + "activation_sparsity_scale", scale);
    }

    /// <summary>The checkpoint seen through GGUF names, for the config reader's shape look-ups (not owning it).</summary>
    private sealed class HfTensorSource(HfTensors hf) : ITensorSource
    {
        public string Path => hf.Path;

        public bool TryGetTensor(string ggufName, out TensorView view)
        {
            string? name = ToHf(ggufName);
            if (name is null || !hf.Has(name))
            {
                view = default;
                return false;
            }
            view = hf.Peek(name);
            return true;
        }

        public void Dispose()
        {
        }
    }
}
