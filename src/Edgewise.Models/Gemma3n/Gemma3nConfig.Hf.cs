using System.Text.Json;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using static Edgewise.Models.Common.HfConfigJson;

namespace Edgewise.Models.Gemma3n;

public sealed partial record Gemma3nConfig
{
    /// <summary>
    /// Reads a Hugging Face <c>config.json</c> (<c>Gemma3nForConditionalGeneration</c> with a <c>text_config</c>, or a
    /// text-only config at the top level). <paramref name="tensors"/>, when given, supplies what only tensor shapes
    /// state (the LAuReL rank when <c>laurel_rank</c> is absent).
    /// </summary>
    public static Gemma3nConfig FromHfConfig(JsonDocument config, WeightReader? tensors = null, string source = "config.json")
    {
        JsonElement root = config.RootElement;
        JsonElement t = root.TryGetProperty("text_config", out JsonElement tc) && tc.ValueKind == JsonValueKind.Object ? tc : root;

        int hidden = Int(t, "hidden_size", source);
        int layers = Int(t, "num_hidden_layers", source);
        Check(source, "num_hidden_layers", layers > 0, "> 0", layers);

        var kinds = new LayerKind[layers];
        if (t.TryGetProperty("layer_types", out JsonElement types) && types.ValueKind == JsonValueKind.Array)
        {
            Check(source, "layer_types", types.GetArrayLength() == layers, $"{layers} entries", types.GetArrayLength());
            int i = 0;
            foreach (JsonElement e in types.EnumerateArray())
            {
                kinds[i] = e.GetString() switch
                {
                    "full_attention" => LayerKind.Full,
                    "sliding_attention" => LayerKind.Sliding,
                    var other => throw ModelErrors.Field(source, $"layer_types[{i}]", "sliding_attention or full_attention", other ?? "null"),
                };
                i++;
            }
        }
        else
        {
            throw ModelErrors.Field(source, "layer_types", "a list of sliding_attention / full_attention per layer", "nothing");
        }

        int[] ffn = PerLayerInts(t, "intermediate_size", layers, source);

        // HF Gemma3nTextMLP: a layer is sparse when its pattern entry is > 0; the std multiplier is Φ⁻¹(entry).
        var sparsity = new float[layers];
        Array.Fill(sparsity, float.NaN);
        if (t.TryGetProperty("activation_sparsity_pattern", out JsonElement pattern) && pattern.ValueKind == JsonValueKind.Array)
        {
            Check(source, "activation_sparsity_pattern", pattern.GetArrayLength() == layers, $"{layers} entries", pattern.GetArrayLength());
            int i = 0;
            foreach (JsonElement e in pattern.EnumerateArray())
            {
                double p = e.GetDouble();
                Check(source, $"activation_sparsity_pattern[{i}]", p >= 0 && p < 1, "in [0, 1)", p);
                if (p > 0) sparsity[i] = (float)NormalQuantile(p);
                i++;
            }
        }

        int? laurelRank = OptInt(t, "laurel_rank");
        if (laurelRank is null && tensors is not null && tensors.Has(Gemma3nTensorNames.Block(0, Gemma3nTensorNames.LaurelLeft)))
        {
            laurelRank = tensors.Rows(Gemma3nTensorNames.Block(0, Gemma3nTensorNames.LaurelLeft));
        }

        int vocab = Int(t, "vocab_size", source);
        var result = new Gemma3nConfig
        {
            HiddenSize = hidden,
            LayerCount = layers,
            HeadCount = Int(t, "num_attention_heads", source),
            KvHeadCount = Int(t, "num_key_value_heads", source),
            HeadDim = OptInt(t, "head_dim") ?? hidden / Int(t, "num_attention_heads", source),
            VocabSize = vocab,
            ContextLength = OptInt(t, "max_position_embeddings") ?? 32768,
            RmsNormEps = OptFloat(t, "rms_norm_eps") ?? 1e-6f,
            SlidingWindow = Int(t, "sliding_window", source),
            FinalLogitSoftcap = OptFloat(t, "final_logit_softcapping") ?? 0f,
            PerLayerInputSize = Int(t, "hidden_size_per_layer_input", source),
            PerLayerVocabSize = OptInt(t, "vocab_size_per_layer_input") ?? vocab,
            RopeThetaFull = OptFloat(t, "rope_theta") ?? 1_000_000f,
            RopeThetaSliding = OptFloat(t, "rope_local_base_freq") ?? 10_000f,
            SharedKvLayers = OptInt(t, "num_kv_shared_layers") ?? 0,
            AltUpInputs = Int(t, "altup_num_inputs", source),
            AltUpActiveIndex = OptInt(t, "altup_active_idx") ?? 0,
            AltUpCoefClip = OptFloat(t, "altup_coef_clip") ?? 0f,
            LaurelRank = laurelRank ?? throw ModelErrors.Field(source, "laurel_rank", "an integer (or a laurel.linear_left tensor)", "nothing"),
            LayerKinds = kinds,
            FfnWidths = ffn,
            SparsityStdMultipliers = sparsity,
        };
        return result.Derive(source);
    }

    private static int[] PerLayerInts(JsonElement t, string key, int layers, string source)
    {
        var values = new int[layers];
        if (t.TryGetProperty(key, out JsonElement list) && list.ValueKind == JsonValueKind.Array)
        {
            Check(source, key, list.GetArrayLength() == layers, $"{layers} entries", list.GetArrayLength());
            int i = 0;
            foreach (JsonElement e in list.EnumerateArray()) values[i++] = e.GetInt32();
        }
        else
        {
            Array.Fill(values, Int(t, key, source));
        }
        return values;
    }
}
