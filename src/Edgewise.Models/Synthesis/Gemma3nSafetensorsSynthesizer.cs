using System.Text.Json;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;

namespace Edgewise.Models.Synthesis;

/// <summary>
/// Writes the same synthetic model as <see cref="Gemma3nGgufSynthesizer"/> as a Hugging Face checkpoint
/// (<c>Gemma3nForConditionalGeneration</c> naming, <c>model.language_model.*</c>): <c>config.json</c> plus one F32
/// <c>model.safetensors</c>. Every tensor holds exactly the values of the GGUF tensor it maps to; the stacked AltUp
/// projections are written as HF's three separate matrices.
/// </summary>
public static class Gemma3nSafetensorsSynthesizer
{
    public const string Prefix = "model.language_model.";

    /// <returns>Bytes of model.safetensors.</returns>
    public static long Write(Gemma3nSynthSpec spec, string directory)
    {
        List<SynthTensor> plan = Gemma3nTensorPlan.Build(spec);
        SafetensorsWriter writer = SynthFiles.CreateCheckpoint(directory, ConfigJson(spec));
        foreach (SynthTensor t in plan)
        {
            SynthTensor tensor = t;
            if (t.Name is Gemma3nTensorNames.AltUpProjection or Gemma3nTensorNames.AltUpUnembedProjection)
            {
                long h = t.Columns;
                for (int k = 0; k < t.Shape[2]; k++)
                {
                    long first = k * h;
                    string hf = Gemma3nTensorNames.ToHf(Gemma3nTensorNames.AltUpProjectionPart(t.Name, k))!;
                    writer.AddTensor(Prefix + hf, SafetensorsDtype.F32, [h, h], stream => SynthFiles.WriteF32Rows(tensor, spec.Seed, spec.RoundThrough, first, h, stream));
                }
                continue;
            }
            string name = Gemma3nTensorNames.ToHf(t.Name) ?? throw new InvalidOperationException($"No HF name for {t.Name}.");
            writer.AddTensor(Prefix + name, SafetensorsDtype.F32, SynthFiles.HfShape(t.Shape),
                stream => SynthFiles.WriteF32Rows(tensor, spec.Seed, spec.RoundThrough, 0, tensor.Rows, stream));
        }
        return writer.Write();
    }

    private static string ConfigJson(Gemma3nSynthSpec s)
    {
        LayerKind[] kinds = s.LayerKinds();
        var text = new Dictionary<string, object?>
        {
            ["model_type"] = "gemma3n_text",
            ["hidden_size"] = s.Hidden,
            ["num_hidden_layers"] = s.Layers,
            ["intermediate_size"] = s.FfnPerLayer is null ? s.Ffn : s.FfnPerLayer,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["head_dim"] = s.HeadDim,
            ["vocab_size"] = s.Vocab,
            ["vocab_size_per_layer_input"] = s.Vocab,
            ["hidden_size_per_layer_input"] = s.Ple,
            ["rms_norm_eps"] = 1e-6,
            ["max_position_embeddings"] = s.Context,
            ["sliding_window"] = s.SlidingWindow,
            ["rope_theta"] = s.RopeThetaFull,
            ["rope_local_base_freq"] = s.RopeThetaSliding,
            ["final_logit_softcapping"] = s.Softcap,
            ["num_kv_shared_layers"] = s.SharedKvLayers,
            ["altup_num_inputs"] = s.AltUpInputs,
            ["altup_active_idx"] = s.AltUpActiveIndex,
            ["altup_correct_scale"] = true,
            ["laurel_rank"] = s.LaurelRank,
            ["activation_sparsity_pattern"] = s.SparsityPattern(),
            ["tie_word_embeddings"] = true,
            ["hidden_activation"] = "gelu_pytorch_tanh",
            ["layer_types"] = kinds.Select(k => k == LayerKind.Full ? "full_attention" : "sliding_attention").ToArray(),
        };
        var root = new Dictionary<string, object>
        {
            ["architectures"] = new[] { "Gemma3nForConditionalGeneration" },
            ["model_type"] = "gemma3n",
            ["text_config"] = text,
        };
        return JsonSerializer.Serialize(root, new JsonSerializerOptions { WriteIndented = true });
    }
}
