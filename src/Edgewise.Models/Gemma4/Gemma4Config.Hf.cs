using System.Text.Json;
using Edgewise.Models.Common;
using static Edgewise.Models.Common.HfConfigJson;

namespace Edgewise.Models.Gemma4;

public sealed partial record Gemma4Config
{
    /// <summary>
    /// Reads a Hugging Face <c>config.json</c> (<c>Gemma4ForConditionalGeneration</c> with a <c>text_config</c>,
    /// or a text-only <c>Gemma4ForCausalLM</c> config at the top level).
    /// </summary>
    public static Gemma4Config FromHfConfig(JsonDocument config, string source = "config.json")
    {
        JsonElement root = config.RootElement;
        JsonElement t = root.TryGetProperty("text_config", out JsonElement tc) && tc.ValueKind == JsonValueKind.Object ? tc : root;

        int hidden = Int(t, "hidden_size", source);
        int layers = Int(t, "num_hidden_layers", source);
        int heads = Int(t, "num_attention_heads", source);
        int kvHeads = Int(t, "num_key_value_heads", source);
        int globalKvHeads = OptInt(t, "num_global_key_value_heads") ?? kvHeads;
        int headDim = Int(t, "head_dim", source);
        int globalHeadDim = OptInt(t, "global_head_dim") ?? headDim;
        int shared = OptInt(t, "num_kv_shared_layers") ?? 0;
        bool doubleWide = OptBool(t, "use_double_wide_mlp") ?? false;

        var kinds = new LayerKind[layers];
        if (t.TryGetProperty("layer_types", out JsonElement types) && types.ValueKind == JsonValueKind.Array)
        {
            if (types.GetArrayLength() != layers)
            {
                throw ModelErrors.Field(source, "layer_types", $"{layers} entries", types.GetArrayLength().ToString());
            }
            int i = 0;
            foreach (JsonElement e in types.EnumerateArray())
            {
                kinds[i++] = e.GetString() switch
                {
                    "full_attention" => LayerKind.Full,
                    "sliding_attention" => LayerKind.Sliding,
                    var other => throw ModelErrors.Field(source, $"layer_types[{i - 1}]", "sliding_attention or full_attention", other ?? "null"),
                };
            }
        }
        else
        {
            int period = OptInt(t, "sliding_window_pattern") ?? 6;
            for (int i = 0; i < layers; i++)
            {
                kinds[i] = (i + 1) % period == 0 ? LayerKind.Full : LayerKind.Sliding;
            }
        }
        // Same as HF Gemma4TextConfig: the last layer is always full attention.
        kinds[layers - 1] = LayerKind.Full;

        var ffn = new int[layers];
        if (t.TryGetProperty("intermediate_size", out JsonElement inter) && inter.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (JsonElement e in inter.EnumerateArray())
            {
                if (i < layers) ffn[i] = e.GetInt32();
                i++;
            }
        }
        else
        {
            Array.Fill(ffn, Int(t, "intermediate_size", source));
        }
        if (doubleWide)
        {
            for (int i = layers - shared; i < layers; i++) ffn[i] *= 2;
        }

        var kvCounts = new int[layers];
        for (int i = 0; i < layers; i++) kvCounts[i] = kinds[i] == LayerKind.Full ? globalKvHeads : kvHeads;

        float thetaFull = 1_000_000f, thetaSliding = 10_000f, partial = 1f;
        if (t.TryGetProperty("rope_parameters", out JsonElement rope) && rope.ValueKind == JsonValueKind.Object)
        {
            if (rope.TryGetProperty("full_attention", out JsonElement fr))
            {
                thetaFull = OptFloat(fr, "rope_theta") ?? thetaFull;
                partial = OptFloat(fr, "partial_rotary_factor") ?? 1f;
            }
            if (rope.TryGetProperty("sliding_attention", out JsonElement sr))
            {
                thetaSliding = OptFloat(sr, "rope_theta") ?? thetaSliding;
            }
        }

        bool moe = OptBool(t, "enable_moe_block") ?? false;
        int ple = OptInt(t, "hidden_size_per_layer_input") ?? 0;
        int vocab = Int(t, "vocab_size", source);
        var result = new Gemma4Config
        {
            HiddenSize = hidden,
            LayerCount = layers,
            HeadCount = heads,
            VocabSize = vocab,
            ContextLength = OptInt(t, "max_position_embeddings") ?? 131072,
            RmsNormEps = OptFloat(t, "rms_norm_eps") ?? 1e-6f,
            SlidingWindow = OptInt(t, "sliding_window") ?? 512,
            FinalLogitSoftcap = OptFloat(t, "final_logit_softcapping") ?? 0f,
            PerLayerInputSize = ple,
            PerLayerVocabSize = ple > 0 ? OptInt(t, "vocab_size_per_layer_input") ?? vocab : 0,
            HeadDimFull = globalHeadDim,
            HeadDimSliding = headDim,
            RopeDimsFull = globalHeadDim,
            RopeDimsSliding = headDim,
            RopeThetaFull = thetaFull,
            RopeThetaSliding = thetaSliding,
            FullRopePartialFactor = partial,
            SharedKvLayers = shared,
            AttentionKEqV = OptBool(t, "attention_k_eq_v") ?? false,
            ExpertCount = moe ? Int(t, "num_experts", source) : 0,
            ExpertsUsed = moe ? Int(t, "top_k_experts", source) : 0,
            ExpertFfnWidth = moe ? Int(t, "moe_intermediate_size", source) : 0,
            LayerKinds = kinds,
            KvHeadCounts = kvCounts,
            FfnWidths = ffn,
        };
        return result.Derive(source);
    }
}
