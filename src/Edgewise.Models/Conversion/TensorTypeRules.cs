using System.Globalization;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Conversion;

/// <summary>Whose per-tensor type rules apply.</summary>
public enum TypeRuleSet
{
    /// <summary><c>convert_hf_to_gguf</c> for F32/F16/BF16/Q8_0 output; Q4_0 and Q4_K_M are "convert, then llama-quantize".</summary>
    Converter,

    /// <summary><c>llama_model_quantize</c> for every file type.</summary>
    Quantize,
}

/// <summary>One tensor as the type rules see it: GGUF name, ggml shape (<c>shape[0]</c> = row length), stored type.</summary>
public sealed record TensorDescriptor(string Name, long[] Shape, GgmlType Type)
{
    public long Columns => Shape.Length > 0 ? Shape[0] : 1;

    /// <summary>ggml's <c>ggml_n_dims</c>: trailing dimensions of 1 do not count.</summary>
    public int Dimensions
    {
        get
        {
            int n = Shape.Length;
            while (n > 1 && Shape[n - 1] == 1) n--;
            return Math.Max(n, 1);
        }
    }
}

/// <summary>
/// Chooses each tensor's storage type the way llama.cpp does, so an Edgewise file has the type mix of the
/// llama.cpp file for the same request:
/// <list type="bullet">
/// <item>F32/F16/BF16/Q8_0 follow <c>convert_hf_to_gguf</c>: 1-D tensors, <c>*_norm.weight</c>, the MoE router
/// (<c>ffn_gate_inp</c>) and the AltUp coefficient matrices stay F32; Q8_0 falls back to F16 for rows that are not
/// whole blocks.</item>
/// <item>Q4_0 and Q4_K_M follow <c>llama_model_quantize</c> (llama-quant.cpp): only 2-D/3-D <c>*.weight</c>
/// tensors that are not norms, routers, AltUp, LAuReL or <c>per_layer_model_proj</c> are quantized (the rest keep
/// the type they come in); a tied <c>token_embd</c> and <c>per_layer_token_embd</c> get the output-tensor rule
/// (Q6_K, or Q8_0 when rows are not whole blocks of the default type); for Q4_K_M, <c>attn_v</c> and
/// <c>ffn_down</c> get Q6_K on the layers where <c>use_more_bits</c> holds (the first and last eighth and every
/// third layer between); 8-expert models get Q8_0 <c>attn_v</c>/<c>attn_k</c> and Q5_K <c>attn_output</c>; rows
/// that are not whole blocks fall back Q4_K→Q5_0, Q6_K→Q8_0, then F16.</item>
/// </list>
/// Deviation: where llama.cpp would abort (a Q8_0/Q4_0 row that is not whole blocks), this falls back to F16.
/// </summary>
public sealed class TensorTypeRules
{
    private readonly ModelFileType _fileType;
    private readonly GgmlType _default;
    private readonly int _layerCount;
    private readonly int _expertCount;
    private readonly bool _tiedEmbeddings;
    private readonly GgmlType? _perLayerEmbeddingType;
    private readonly Dictionary<string, int> _ordinals = new(StringComparer.Ordinal);
    private readonly int _attentionVCount;
    private readonly bool _quantizeRules;

    /// <param name="tensors">Every tensor of the file (the rules count <c>attn_v</c> tensors and look for an untied <c>output</c>).</param>
    /// <param name="layerCount"><c>block_count</c>.</param>
    /// <param name="expertCount"><c>expert_count</c> (0 for dense models).</param>
    /// <param name="perLayerEmbeddingType">Overrides the type of <c>per_layer_token_embd</c> (the PLE table).</param>
    /// <param name="ruleSet">Whose rules: the HF converter's (Q4_0/Q4_K_M always use llama-quantize's) or llama-quantize's.</param>
    public TensorTypeRules(ModelFileType fileType, IReadOnlyList<TensorDescriptor> tensors, int layerCount, int expertCount,
        GgmlType? perLayerEmbeddingType = null, TypeRuleSet ruleSet = TypeRuleSet.Converter)
    {
        _fileType = fileType;
        _quantizeRules = ruleSet == TypeRuleSet.Quantize || ModelFileTypes.IsQuantizeOnly(fileType);
        _default = ModelFileTypes.DefaultTensorType(fileType);
        _layerCount = layerCount;
        _expertCount = expertCount;
        _perLayerEmbeddingType = perLayerEmbeddingType;
        _tiedEmbeddings = true;
        var attentionV = new List<string>();
        var ffnDown = new List<string>();
        foreach (TensorDescriptor t in tensors)
        {
            if (t.Name == OutputName) _tiedEmbeddings = false;
            if (IsAttentionV(t.Name)) attentionV.Add(t.Name);
            if (t.Name.Contains("ffn_down", StringComparison.Ordinal) && AllowsQuantization(t)) ffnDown.Add(t.Name);
        }
        // llama-quantize visits tensors in layer order (its weight map sorts by block number, then name) and counts
        // attn_v / ffn_down as it goes; the ordinals below are those counters.
        attentionV.Sort(CompareByLayer);
        ffnDown.Sort(CompareByLayer);
        for (int i = 0; i < attentionV.Count; i++) _ordinals[attentionV[i]] = i;
        for (int i = 0; i < ffnDown.Count; i++) _ordinals[ffnDown[i]] = i;
        _attentionVCount = attentionV.Count;
    }

    private const string OutputName = "output.weight";
    private const string TokenEmbeddingName = "token_embd.weight";
    private const string PerLayerTokenEmbeddingName = "per_layer_token_embd.weight";

    /// <summary>The type <paramref name="t"/> is stored as in the output file.</summary>
    public GgmlType TargetType(TensorDescriptor t)
    {
        if (_perLayerEmbeddingType is GgmlType ple && t.Name == PerLayerTokenEmbeddingName) return Fallback(t, ple);
        return _quantizeRules ? QuantizeType(t) : ConverterType(t);
    }

    /// <summary>convert_hf_to_gguf's choice for the plain output types (F32, F16, BF16, Q8_0).</summary>
    private GgmlType ConverterType(TensorDescriptor t)
    {
        if (KeepsF32InConverter(t)) return GgmlType.F32;
        if (_default == GgmlType.Q8_0 && t.Columns % 32 != 0) return GgmlType.F16;
        return _default;
    }

    /// <summary>Tensors convert_hf_to_gguf stores as F32 whatever the output type (spec §5.5).</summary>
    public static bool KeepsF32InConverter(TensorDescriptor t) =>
        t.Dimensions <= 1
        || t.Name.EndsWith("_norm.weight", StringComparison.Ordinal)
        || t.Name.Contains("ffn_gate_inp", StringComparison.Ordinal)
        || t.Name.Contains("altup_correct_coef", StringComparison.Ordinal)
        || t.Name.Contains("altup_predict_coef", StringComparison.Ordinal);

    /// <summary>llama-quant.cpp's <c>tensor_allows_quantization</c>, restricted to the names Gemma files hold.</summary>
    public static bool AllowsQuantization(TensorDescriptor t)
    {
        int dims = t.Dimensions;
        string name = t.Name;
        return dims >= 2
            && name.EndsWith("weight", StringComparison.Ordinal)
            && !name.Contains("_norm.weight", StringComparison.Ordinal)
            && !name.Contains("ffn_gate_inp.weight", StringComparison.Ordinal)
            // Very small (4×4 coefficients) or not worth it: llama.cpp keeps them as they come.
            && !name.Contains("altup", StringComparison.Ordinal)
            && !name.Contains("laurel", StringComparison.Ordinal)
            && !name.Contains("per_layer_model_proj", StringComparison.Ordinal);
    }

    private GgmlType QuantizeType(TensorDescriptor t)
    {
        if (!AllowsQuantization(t)) return t.Type;
        GgmlType type = _default;
        // Per-tensor choices apply to block-quantized defaults only; a float default is simply applied.
        if (GgmlTypeInfo.BlockSize(type) == 1) return type;
        string name = t.Name;
        bool tokenEmbedding = name is TokenEmbeddingName or PerLayerTokenEmbeddingName;
        if (name == OutputName || (_tiedEmbeddings && tokenEmbedding))
        {
            // The tied embedding doubles as the output projection, so it gets the output tensor's precision.
            if (t.Columns % GgmlTypeInfo.BlockSize(type) != 0) type = GgmlType.Q8_0;
            else if (type != GgmlType.Q8_0) type = GgmlType.Q6_K;
        }
        else if (tokenEmbedding)
        {
            // No rule for these file types: the default type.
        }
        else if (IsAttentionV(name))
        {
            if (_fileType == ModelFileType.Q4_K_M && UseMoreBits(_ordinals[name], _attentionVCount)) type = GgmlType.Q6_K;
            if (_expertCount == 8) type = GgmlType.Q8_0;
        }
        else if (name.Contains("attn_k.weight", StringComparison.Ordinal))
        {
            if (_expertCount == 8) type = GgmlType.Q8_0;
        }
        else if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            // Experts' layer comes from the name; otherwise llama.cpp's running ffn_down counter (the same for Gemma).
            int layer = _expertCount > 1 ? LayerOf(name) : _ordinals.GetValueOrDefault(name);
            if (_fileType == ModelFileType.Q4_K_M && UseMoreBits(layer, _layerCount)) type = GgmlType.Q6_K;
        }
        else if (name.Contains("attn_output.weight", StringComparison.Ordinal))
        {
            if (_expertCount == 8 && _fileType == ModelFileType.Q4_K_M) type = GgmlType.Q5_K;
        }
        return Fallback(t, type);
    }

    /// <summary>llama.cpp's <c>use_more_bits</c>: the first and last eighth of the layers and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>llama-quant.cpp's <c>tensor_type_fallback</c>: a type whose block fits the row length.</summary>
    private static GgmlType Fallback(TensorDescriptor t, GgmlType type)
    {
        long columns = t.Columns;
        if (columns % GgmlTypeInfo.BlockSize(type) == 0) return type;
        GgmlType next = type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => GgmlType.F16,
        };
        return columns % GgmlTypeInfo.BlockSize(next) == 0 ? next : GgmlType.F16;
    }

    private static bool IsAttentionV(string name) =>
        name.Contains("attn_v.weight", StringComparison.Ordinal)
        || name.Contains("attn_qkv.weight", StringComparison.Ordinal)
        || name.Contains("attn_kv_b.weight", StringComparison.Ordinal);

    /// <summary>The block number of <c>blk.N.*</c>, or -1 for global tensors.</summary>
    public static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int dot = name.IndexOf('.', 4);
        return dot > 4 && int.TryParse(name.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int layer) ? layer : -1;
    }

    private static int CompareByLayer(string a, string b)
    {
        int c = LayerOf(a).CompareTo(LayerOf(b));
        return c != 0 ? c : string.CompareOrdinal(a, b);
    }
}
