using System.Text.Json;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Writes the same synthetic model as <see cref="Gemma4GgufSynthesizer"/> as a Hugging Face checkpoint
/// (<c>Gemma4ForConditionalGeneration</c> naming, <c>model.language_model.*</c>): <c>config.json</c> plus one F32
/// <c>model.safetensors</c>. Every tensor holds exactly the values of the GGUF tensor it maps to.
/// </summary>
public static class Gemma4SafetensorsSynthesizer
{
    public const string Prefix = "model.language_model.";

    /// <returns>Bytes of model.safetensors.</returns>
    public static long Write(Gemma4SynthSpec spec, string directory)
    {
        List<SynthTensor> plan = Gemma4TensorPlan.Build(spec);
        SafetensorsWriter writer = SynthFiles.CreateCheckpoint(directory, ConfigJson(spec));
        foreach (SynthTensor t in plan)
        {
            string? hf = Gemma4TensorNames.ToHf(t.Name);
            if (hf is null) continue;   // rope_freqs: HF derives it from rope_parameters
            writer.AddTensor(Prefix + hf, SafetensorsDtype.F32, SynthFiles.HfShape(t.Shape),
                stream => SynthFiles.WriteF32Rows(t, spec.Seed, spec.RoundThrough, 0, t.Rows, stream));
        }
        return writer.Write();
    }

    private static string ConfigJson(Gemma4SynthSpec s)
    {
        LayerKind[] kinds = s.LayerKinds();
        var text = new Dictionary<string, object?>
        {
            ["model_type"] = "gemma4_text",
            ["hidden_size"] = s.Hidden,
            ["num_hidden_layers"] = s.Layers,
            ["intermediate_size"] = s.Ffn,
            ["use_double_wide_mlp"] = s.DoubleWideMlp,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["num_global_key_value_heads"] = s.KvHeadsFull,
            ["head_dim"] = s.HeadDim,
            ["global_head_dim"] = s.HeadDimFull,
            ["vocab_size"] = s.Vocab,
            ["rms_norm_eps"] = 1e-6,
            ["max_position_embeddings"] = s.Context,
            ["sliding_window"] = s.SlidingWindow,
            ["final_logit_softcapping"] = s.Softcap,
            ["num_kv_shared_layers"] = s.SharedKvLayers,
            ["hidden_size_per_layer_input"] = s.Ple > 0 ? s.Ple : null,
            ["vocab_size_per_layer_input"] = s.Ple > 0 ? s.Vocab : null,
            ["attention_k_eq_v"] = s.KEqV,
            ["enable_moe_block"] = s.Experts > 0,
            ["num_experts"] = s.Experts > 0 ? s.Experts : null,
            ["top_k_experts"] = s.Experts > 0 ? s.ExpertsUsed : null,
            ["moe_intermediate_size"] = s.Experts > 0 ? s.ExpertFfn : null,
            ["tie_word_embeddings"] = true,
            ["hidden_activation"] = "gelu_pytorch_tanh",
            ["layer_types"] = kinds.Select(k => k == LayerKind.Full ? "full_attention" : "sliding_attention").ToArray(),
            ["rope_parameters"] = new Dictionary<string, object>
            {
                ["full_attention"] = new Dictionary<string, object>
                {
                    ["partial_rotary_factor"] = s.PartialRotary, ["rope_theta"] = s.RopeThetaFull, ["rope_type"] = "proportional",
                },
                ["sliding_attention"] = new Dictionary<string, object> { ["rope_theta"] = s.RopeThetaSliding, ["rope_type"] = "default" },
            },
        };
        var root = new Dictionary<string, object>
        {
            ["architectures"] = new[] { "Gemma4ForConditionalGeneration" },
            ["model_type"] = "gemma4",
            ["text_config"] = text,
        };
        return JsonSerializer.Serialize(root, new JsonSerializerOptions { WriteIndented = true });
    }
}
