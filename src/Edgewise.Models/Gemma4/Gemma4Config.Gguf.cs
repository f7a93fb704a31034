using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial record Gemma4Config
{
    /// <summary>Reads the <c>gemma4.*</c> keys llama.cpp's converter writes (spec §5.3) plus the shapes of the embedding tensors.</summary>
    public static Gemma4Config FromGguf(GgufFile file)
    {
        string arch = file.GetStringOrDefault("general.architecture") ?? "";
        if (arch != ArchitectureName)
        {
            throw ModelErrors.Field(file.FilePath, "general.architecture", ArchitectureName, arch.Length == 0 ? "nothing" : arch);
        }
        string k = ArchitectureName + ".";
        int layers = Required(file, k + "block_count");
        int hidden = Required(file, k + "embedding_length");
        int headDimFull = Required(file, k + "attention.key_length");
        int headDimSliding = file.GetInt32OrDefault(k + "attention.key_length_swa", headDimFull);

        LayerKind[] kinds = new LayerKind[layers];
        if (file.TryGetValue(k + "attention.sliding_window_pattern", out GgufValue? pattern) && pattern.Type == GgufValueType.Array)
        {
            bool[] sliding = pattern.AsArray<bool>();
            if (sliding.Length != layers)
            {
                throw ModelErrors.Field(file.FilePath, k + "attention.sliding_window_pattern", $"{layers} entries", sliding.Length.ToString());
            }
            for (int i = 0; i < layers; i++) kinds[i] = sliding[i] ? LayerKind.Sliding : LayerKind.Full;
        }
        else
        {
            throw ModelErrors.Field(file.FilePath, k + "attention.sliding_window_pattern", "a bool array (true = sliding)", "nothing");
        }

        int vocab = TensorRows(file, Gemma4TensorNames.TokenEmbedding);
        int ple = file.GetInt32OrDefault(k + "embedding_length_per_layer_input", 0);
        int experts = file.GetInt32OrDefault(k + "expert_count", 0);
        var config = new Gemma4Config
        {
            HiddenSize = hidden,
            LayerCount = layers,
            HeadCount = PerLayer(file, k + "attention.head_count", layers)[0],
            VocabSize = vocab,
            ContextLength = Required(file, k + "context_length"),
            RmsNormEps = file.GetFloat32(k + "attention.layer_norm_rms_epsilon"),
            SlidingWindow = Required(file, k + "attention.sliding_window"),
            FinalLogitSoftcap = file.GetFloat32OrDefault(k + "final_logit_softcapping", 0f),
            PerLayerInputSize = ple,
            PerLayerVocabSize = ple > 0 ? TensorRows(file, Gemma4TensorNames.PerLayerTokenEmbedding) : 0,
            HeadDimFull = headDimFull,
            HeadDimSliding = headDimSliding,
            RopeDimsFull = file.GetInt32OrDefault(k + "rope.dimension_count", headDimFull),
            RopeDimsSliding = file.GetInt32OrDefault(k + "rope.dimension_count_swa", headDimSliding),
            RopeThetaFull = file.GetFloat32OrDefault(k + "rope.freq_base", 10_000f),
            RopeThetaSliding = file.GetFloat32OrDefault(k + "rope.freq_base_swa", 10_000f),
            FullRopePartialFactor = 1f,
            SharedKvLayers = file.GetInt32OrDefault(k + "attention.shared_kv_layers", 0),
            ExpertCount = experts,
            ExpertsUsed = experts > 0 ? Required(file, k + "expert_used_count") : 0,
            ExpertFfnWidth = experts > 0 ? Required(file, k + "expert_feed_forward_length") : 0,
            LayerKinds = kinds,
            KvHeadCounts = PerLayer(file, k + "attention.head_count_kv", layers),
            FfnWidths = PerLayer(file, k + "feed_forward_length", layers),
        };
        return config.Derive(file.FilePath);
    }

    private static int Required(GgufFile file, string key)
    {
        if (!file.TryGetValue(key, out GgufValue? value))
        {
            throw ModelErrors.Field(file.FilePath, key, "an integer", "nothing");
        }
        return value.AsInt32();
    }

    /// <summary>A per-layer integer that converters write either as one scalar or as an array of one value per layer.</summary>
    private static int[] PerLayer(GgufFile file, string key, int layers)
    {
        if (!file.TryGetValue(key, out GgufValue? value))
        {
            throw ModelErrors.Field(file.FilePath, key, "an integer or a per-layer array", "nothing");
        }
        var result = new int[layers];
        if (value.Type != GgufValueType.Array)
        {
            Array.Fill(result, value.AsInt32());
            return result;
        }
        if (value.ArrayLength != layers)
        {
            throw ModelErrors.Field(file.FilePath, key, $"{layers} entries", value.ArrayLength.ToString());
        }
        switch (value.ElementType)
        {
            case GgufValueType.Int32:
                value.AsSpan<int>().CopyTo(result);
                break;
            case GgufValueType.UInt32:
                ReadOnlySpan<uint> u = value.AsSpan<uint>();
                for (int i = 0; i < layers; i++) result[i] = checked((int)u[i]);
                break;
            default:
                throw ModelErrors.Field(file.FilePath, key, "an Int32 or UInt32 array", $"an array of {value.ElementType}");
        }
        return result;
    }

    private static int TensorRows(GgufFile file, string name)
    {
        if (!file.TryGetTensor(name, out TensorView view))
        {
            throw ModelErrors.Field(file.FilePath, name, "a tensor", "no such tensor");
        }
        return checked((int)view.Rows);
    }
}
