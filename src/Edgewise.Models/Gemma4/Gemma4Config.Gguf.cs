using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial record Gemma4Config
{
    /// <summary>Reads the <c>gemma4.*</c> keys llama.cpp's converter writes (spec §5.3) plus the shapes of the embedding tensors.</summary>
    public static Gemma4Config FromGguf(GgufFile file)
    {
        GgufConfigReader.RequireArchitecture(file, ArchitectureName);
        string k = ArchitectureName + ".";
        int layers = GgufConfigReader.RequiredInt(file, k + "block_count");
        int hidden = GgufConfigReader.RequiredInt(file, k + "embedding_length");
        int headDimFull = GgufConfigReader.RequiredInt(file, k + "attention.key_length");
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
            HeadCount = GgufConfigReader.PerLayerInt(file, k + "attention.head_count", layers)[0],
            VocabSize = vocab,
            ContextLength = GgufConfigReader.RequiredInt(file, k + "context_length"),
            RmsNormEps = file.GetFloat32(k + "attention.layer_norm_rms_epsilon"),
            SlidingWindow = GgufConfigReader.RequiredInt(file, k + "attention.sliding_window"),
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
            ExpertsUsed = experts > 0 ? GgufConfigReader.RequiredInt(file, k + "expert_used_count") : 0,
            ExpertFfnWidth = experts > 0 ? GgufConfigReader.RequiredInt(file, k + "expert_feed_forward_length") : 0,
            LayerKinds = kinds,
            KvHeadCounts = GgufConfigReader.PerLayerInt(file, k + "attention.head_count_kv", layers),
            FfnWidths = GgufConfigReader.PerLayerInt(file, k + "feed_forward_length", layers),
        };
        return config.Derive(file.FilePath);
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
