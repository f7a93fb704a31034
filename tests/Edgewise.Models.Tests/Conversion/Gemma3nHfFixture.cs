using System.Runtime.InteropServices;
using System.Text.Json;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// The synthetic Gemma 3n model of <see cref="Gemma3nTensorPlan"/> as a Hugging Face checkpoint
/// (<c>Gemma3nForConditionalGeneration</c> naming): the stacked AltUp projections split into their three HF
/// matrices, <c>correct_output_scale</c> without <c>.weight</c>, config.json with the 3n keys.
/// </summary>
internal static class Gemma3nHfFixture
{
    public static string Write(TempDirectory dir, Gemma3nSynthSpec spec)
    {
        string hf = dir.File("hf-" + spec.Name);
        Directory.CreateDirectory(hf);
        File.WriteAllText(Path.Combine(hf, "config.json"), ConfigJson(spec));
        var writer = new SafetensorsWriter(Path.Combine(hf, "model.safetensors"));
        foreach (SynthTensor t in Gemma3nTensorPlan.Build(spec))
        {
            SynthTensor tensor = t;
            if (t.Name is Gemma3nTensorNames.AltUpProjection or Gemma3nTensorNames.AltUpUnembedProjection)
            {
                for (int k = 0; k < t.Shape[2]; k++)
                {
                    long first = k * t.Shape[1];
                    string name = Gemma3nTensorNames.ToHf(Gemma3nTensorNames.AltUpProjectionPart(t.Name, k))!;
                    writer.AddTensor(Prefix + name, SafetensorsDtype.F32, [t.Shape[1], t.Shape[0]], s => Rows(spec, tensor, first, tensor.Shape[1], s));
                }
                continue;
            }
            long[] shape = [.. t.Shape.Reverse()];
            writer.AddTensor(Prefix + Gemma3nTensorNames.ToHf(t.Name)!, SafetensorsDtype.F32, shape, s => Rows(spec, tensor, 0, tensor.Rows, s));
        }
        writer.Write();
        HfCheckpointFixture.WriteTokenizerFiles(hf, spec.Vocab);
        return hf;
    }

    private const string Prefix = "model.language_model.";

    private static void Rows(Gemma3nSynthSpec spec, SynthTensor t, long first, long count, Stream stream)
    {
        var row = new float[t.Columns];
        for (long r = first; r < first + count; r++)
        {
            Gemma4TensorPlan.Values(t, spec.Seed, r * t.Columns, row);
            stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    private static string ConfigJson(Gemma3nSynthSpec s)
    {
        var text = new Dictionary<string, object?>
        {
            ["model_type"] = "gemma3n_text",
            ["hidden_size"] = s.Hidden,
            ["num_hidden_layers"] = s.Layers,
            ["intermediate_size"] = s.FfnWidths(),
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["head_dim"] = s.HeadDim,
            ["vocab_size"] = s.Vocab,
            ["vocab_size_per_layer_input"] = s.Vocab,
            ["hidden_size_per_layer_input"] = s.Ple,
            ["layer_types"] = s.LayerKinds().Select(k => k == LayerKind.Full ? "full_attention" : "sliding_attention").ToArray(),
            ["sliding_window"] = s.SlidingWindow,
            ["max_position_embeddings"] = s.Context,
            ["rope_theta"] = s.RopeThetaFull,
            ["rope_local_base_freq"] = s.RopeThetaSliding,
            ["num_kv_shared_layers"] = s.SharedKvLayers,
            ["altup_num_inputs"] = s.AltUpInputs,
            ["altup_active_idx"] = s.AltUpActiveIndex,
            ["altup_coef_clip"] = 120.0,
            ["activation_sparsity_pattern"] = s.SparsityPattern(),
            ["final_logit_softcapping"] = s.Softcap,
            ["rms_norm_eps"] = 1e-6,
            ["hidden_activation"] = "gelu_pytorch_tanh",
            ["tie_word_embeddings"] = true,
            // laurel_rank left out on purpose: the converter reads it from laurel.linear_left's shape.
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
