using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Common;
using static Edgewise.Models.Common.GgufConfigReader;
using N = Edgewise.Models.Gemma3n.Gemma3nTensorNames;

namespace Edgewise.Models.Gemma3n;

public sealed partial record Gemma3nConfig
{
    /// <summary>Reads the <c>gemma3n.*</c> keys llama.cpp's converter writes (spec §5.3) plus the shapes of the tensors no key describes.</summary>
    public static Gemma3nConfig FromGguf(GgufFile file)
    {
        RequireArchitecture(file, ArchitectureName);
        const string k = ArchitectureName + ".";
        int layers = RequiredInt(file, k + "block_count");
        int headDim = RequiredInt(file, k + "attention.key_length");
        int valueDim = file.GetInt32OrDefault(k + "attention.value_length", headDim);
        if (valueDim != headDim)
        {
            throw ModelErrors.Field(file.FilePath, k + "attention.value_length", $"{headDim} (= key_length)", valueDim.ToString());
        }

        // The converter writes Φ⁻¹(pattern): finite for sparse layers, −inf for dense ones (Φ⁻¹(0)).
        float[] sparsity = PerLayerFloat(file, k + "activation_sparsity_scale", layers);
        for (int i = 0; i < layers; i++)
        {
            if (!float.IsFinite(sparsity[i])) sparsity[i] = float.NaN;
        }

        var config = new Gemma3nConfig
        {
            HiddenSize = RequiredInt(file, k + "embedding_length"),
            LayerCount = layers,
            HeadCount = PerLayerInt(file, k + "attention.head_count", layers)[0],
            KvHeadCount = PerLayerInt(file, k + "attention.head_count_kv", layers)[0],
            HeadDim = headDim,
            VocabSize = checked((int)Tensor(file, N.TokenEmbedding).Rows),
            ContextLength = RequiredInt(file, k + "context_length"),
            RmsNormEps = file.GetFloat32(k + "attention.layer_norm_rms_epsilon"),
            SlidingWindow = RequiredInt(file, k + "attention.sliding_window"),
            FinalLogitSoftcap = file.GetFloat32OrDefault(k + "final_logit_softcapping", 0f),
            PerLayerInputSize = RequiredInt(file, k + "embedding_length_per_layer_input"),
            PerLayerVocabSize = checked((int)Tensor(file, N.PerLayerTokenEmbedding).Rows),
            RopeThetaFull = file.GetFloat32OrDefault(k + "rope.freq_base", 10_000f),
            // HF rope_local_base_freq; the converter may leave it out, and 10000 is what every loader assumes then.
            RopeThetaSliding = file.GetFloat32OrDefault(k + "rope.freq_base_swa", 10_000f),
            SharedKvLayers = file.GetInt32OrDefault(k + "attention.shared_kv_layers", 0),
            AltUpInputs = RequiredInt(file, k + "altup.num_inputs"),
            AltUpActiveIndex = RequiredInt(file, k + "altup.active_idx"),
            LaurelRank = checked((int)Tensor(file, N.Block(0, N.LaurelLeft)).Rows),
            LayerKinds = SlidingPattern(file, k + "attention.sliding_window_pattern", layers),
            FfnWidths = PerLayerInt(file, k + "feed_forward_length", layers),
            SparsityStdMultipliers = sparsity,
        };
        return config.Derive(file.FilePath);
    }
}
