using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

/// <summary>
/// Hyperparameters of a Gemma 3n text decoder (HF <c>Gemma3nTextConfig</c>, GGUF architecture <c>gemma3n</c>),
/// parsed once, with the per-layer tables the forward pass needs computed up front. Everything is read from the
/// file: the AltUp stream count, the KV-sharing layout and the sparse layers are not assumed (llama.cpp hard-codes
/// them for this architecture; Edgewise does not).
/// </summary>
public sealed partial record Gemma3nConfig
{
    public const string ArchitectureName = "gemma3n";

    public required int HiddenSize { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required float RmsNormEps { get; init; }

    /// <summary>Keys a sliding layer sees, the current position included (<c>p − W &lt; j ≤ p</c>).</summary>
    public required int SlidingWindow { get; init; }

    /// <summary>Final logit softcap (30 on the released models); 0 disables it.</summary>
    public required float FinalLogitSoftcap { get; init; }

    /// <summary>PLE width <c>P</c> (<c>hidden_size_per_layer_input</c>).</summary>
    public required int PerLayerInputSize { get; init; }

    /// <summary>Rows of the PLE table; ids at or above it use row 0 (HF maps multimodal ids to the pad row).</summary>
    public required int PerLayerVocabSize { get; init; }

    public required float RopeThetaFull { get; init; }
    public required float RopeThetaSliding { get; init; }

    /// <summary>Trailing layers that own no KV cache (HF <c>num_kv_shared_layers</c>).</summary>
    public required int SharedKvLayers { get; init; }

    /// <summary>AltUp streams <c>S</c> (<c>altup_num_inputs</c>) and the one that runs through the layer (<c>altup_active_idx</c>).</summary>
    public required int AltUpInputs { get; init; }
    public required int AltUpActiveIndex { get; init; }

    /// <summary>HF <c>altup_coef_clip</c>: prediction/correction coefficients are clamped to ±this at load; 0 = none.</summary>
    public float AltUpCoefClip { get; init; }

    /// <summary>LAuReL rank (the inner width of <c>laurel.linear_left</c>; no key states it, the tensor shape does).</summary>
    public required int LaurelRank { get; init; }

    /// <summary>Per layer: sliding or full attention.</summary>
    public required LayerKind[] LayerKinds { get; init; }

    /// <summary>Per layer: MLP width (HF <c>intermediate_size</c>, a scalar or a per-layer list).</summary>
    public required int[] FfnWidths { get; init; }

    /// <summary>
    /// Per layer: the Gaussian top-k std multiplier Φ⁻¹(<c>activation_sparsity_pattern[l]</c>) (GGUF
    /// <c>activation_sparsity_scale</c>), or NaN for a dense layer (pattern 0, which GGUF writes as −inf).
    /// </summary>
    public required float[] SparsityStdMultipliers { get; init; }

    // ---- derived tables (filled by Derive) ----

    /// <summary>Per layer: the layer whose KV cache it reads: itself when it owns one, else the last owner of the same kind.</summary>
    public int[] KvSourceLayers { get; private init; } = [];

    /// <summary>First layer that owns no KV cache (= <see cref="LayerCount"/> when nothing is shared).</summary>
    public int FirstSharedLayer => LayerCount - SharedKvLayers;

    public bool OwnsKv(int layer) => KvSourceLayers[layer] == layer;

    public bool IsSparse(int layer) => !float.IsNaN(SparsityStdMultipliers[layer]);

    /// <summary>Fills the derived per-layer tables and checks that the numbers fit together.</summary>
    internal Gemma3nConfig Derive(string source)
    {
        int n = LayerCount;
        Check(source, "block_count", n > 0, "> 0", n);
        Check(source, "embedding_length", HiddenSize > 0, "> 0", HiddenSize);
        Check(source, "layer kinds", LayerKinds.Length == n, $"{n} entries", LayerKinds.Length);
        Check(source, "feed_forward_length", FfnWidths.Length == n, $"{n} entries", FfnWidths.Length);
        Check(source, "activation sparsity", SparsityStdMultipliers.Length == n, $"{n} entries", SparsityStdMultipliers.Length);
        Check(source, "shared_kv_layers", SharedKvLayers >= 0 && SharedKvLayers < n, $"0..{n - 1}", SharedKvLayers);
        Check(source, "head_count_kv", KvHeadCount > 0 && HeadCount % KvHeadCount == 0, $"a divisor of head_count {HeadCount}", KvHeadCount);
        Check(source, "key_length", HeadDim > 0 && HeadDim % 2 == 0, "even and > 0", HeadDim);
        Check(source, "altup.num_inputs", AltUpInputs >= 1, ">= 1", AltUpInputs);
        Check(source, "altup.active_idx", AltUpActiveIndex >= 0 && AltUpActiveIndex < AltUpInputs, $"0..{AltUpInputs - 1}", AltUpActiveIndex);
        Check(source, "embedding_length_per_layer_input", PerLayerInputSize > 0, "> 0", PerLayerInputSize);
        var kvSource = new int[n];
        for (int i = 0; i < n; i++)
        {
            Check(source, $"layer {i} feed_forward_length", FfnWidths[i] > 0, "> 0", FfnWidths[i]);
            if (i < FirstSharedLayer)
            {
                kvSource[i] = i;
                continue;
            }
            // Same as HF Gemma3nTextAttention: a shared layer reads the last KV-owning layer of its own type.
            int producer = -1;
            for (int j = FirstSharedLayer - 1; j >= 0; j--)
            {
                if (LayerKinds[j] == LayerKinds[i])
                {
                    producer = j;
                    break;
                }
            }
            Check(source, $"layer {i} KV source", producer >= 0, $"an earlier KV-owning {LayerKinds[i]} layer", "none");
            kvSource[i] = producer;
        }
        return this with { KvSourceLayers = kvSource };
    }

    /// <summary>
    /// Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9, far
    /// inside float precision): how HF turns <c>activation_sparsity_pattern</c> into the std multiplier.
    /// </summary>
    public static double NormalQuantile(double p)
    {
        if (p <= 0) return double.NegativeInfinity;
        if (p >= 1) return double.PositiveInfinity;
        ReadOnlySpan<double> a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        ReadOnlySpan<double> b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        ReadOnlySpan<double> c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        ReadOnlySpan<double> d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low || p > 1 - low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p < low ? p : 1 - p));
            double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
            return p < low ? x : -x;
        }
        double s = p - 0.5, r = s * s;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * s / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }

    private static void Check(string source, string field, bool ok, string expected, object found)
    {
        if (!ok)
        {
            throw ModelErrors.Field(source, field, expected, found.ToString() ?? "null");
        }
    }
}
