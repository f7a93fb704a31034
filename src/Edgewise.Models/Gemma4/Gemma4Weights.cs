using Edgewise.Core.Kernels;
using Edgewise.Models.Common;
using N = Edgewise.Models.Gemma4.Gemma4TensorNames;

namespace Edgewise.Models.Gemma4;

/// <summary>Weights of one Gemma 4 decoder layer. Matrices are views into the model file; vectors are small float copies.</summary>
public sealed class Gemma4LayerWeights
{
    public required float[] AttnNorm { get; init; }          // [H]
    public required WeightMatrix Q { get; init; }             // [nH·D, H]
    public WeightMatrix? K { get; init; }                     // [nKV·D, H]; null on KV-shared layers
    public WeightMatrix? V { get; init; }                     // [nKV·D, H]; null on KV-shared and k_eq_v layers
    public required WeightMatrix O { get; init; }             // [H, nH·D]
    public required float[] QNorm { get; init; }             // [D]
    public float[]? KNorm { get; init; }                      // [D]
    public required float[] PostAttentionNorm { get; init; } // [H]
    public required float[] FfnNorm { get; init; }           // [H]
    public required WeightMatrix Gate { get; init; }          // [I, H]
    public required WeightMatrix Up { get; init; }            // [I, H]
    public required WeightMatrix Down { get; init; }          // [H, I]
    public required float[] PostFfwNorm { get; init; }       // [H]

    // PLE branch (E-models)
    public WeightMatrix? PleGate { get; init; }               // [P, H]
    public WeightMatrix? PleProjection { get; init; }         // [H, P]
    public float[]? PlePostNorm { get; init; }                // [H]

    /// <summary>HF <c>layer_scalar</c>: multiplies the whole hidden state at the end of the layer.</summary>
    public float OutputScale { get; init; } = 1f;

    public Gemma4MoeWeights? Moe { get; init; }
}

/// <summary>The routed-experts half of a Gemma 4 MoE layer (26B-A4B).</summary>
public sealed class Gemma4MoeWeights
{
    public required WeightMatrix Router { get; init; }        // [E, H]
    public required float[] RouterScale { get; init; }       // [H]
    /// <summary>Fused experts, gate rows then up rows per expert: [E·2F, H]; null when the file stores them split.</summary>
    public WeightMatrix? GateUp { get; init; }
    public WeightMatrix? GateSplit { get; init; }             // [E·F, H]
    public WeightMatrix? UpSplit { get; init; }               // [E·F, H]
    public required WeightMatrix Down { get; init; }          // [E·H, F]
    public float[]? PerExpertScale { get; init; }             // [E]
    public required float[] PreNorm2 { get; init; }          // [H]
    public required float[] PostNorm1 { get; init; }         // [H]
    public required float[] PostNorm2 { get; init; }         // [H]

    /// <summary>Per-expert views, sliced once at load so routing allocates nothing.</summary>
    public WeightMatrix[]? GateUpPerExpert { get; private set; }   // E × [2F, H]
    public WeightMatrix[]? GatePerExpert { get; private set; }     // E × [F, H]
    public WeightMatrix[]? UpPerExpert { get; private set; }       // E × [F, H]
    public WeightMatrix[] DownPerExpert { get; private set; } = [];  // E × [H, F]

    internal Gemma4MoeWeights Slice(int experts, int hidden, int ffn)
    {
        WeightMatrix[] Per(WeightMatrix m, int rows)
        {
            var slices = new WeightMatrix[experts];
            for (int x = 0; x < experts; x++) slices[x] = m.SliceRows((long)x * rows, rows);
            return slices;
        }
        if (GateUp is not null) GateUpPerExpert = Per(GateUp, 2 * ffn);
        if (GateSplit is not null) GatePerExpert = Per(GateSplit, ffn);
        if (UpSplit is not null) UpPerExpert = Per(UpSplit, ffn);
        DownPerExpert = Per(Down, hidden);
        return this;
    }
}

/// <summary>All weights of a Gemma 4 text model, read through a <see cref="WeightReader"/> whatever the file format.</summary>
public sealed class Gemma4Weights
{
    public required WeightMatrix TokenEmbedding { get; init; }   // [V, H]
    public required WeightMatrix Output { get; init; }           // [V, H]; the token embedding when tied
    public required float[] OutputNorm { get; init; }            // [H]
    public IPerLayerEmbeddingStore? PerLayerEmbeddings { get; init; }   // [V_ple, L·P]
    public WeightMatrix? PerLayerModelProjection { get; init; }  // [L·P, H]
    public float[]? PerLayerProjectionNorm { get; init; }        // [P]

    /// <summary>Per rotary pair of full layers: the divisor of its frequency (1 = rotate, +inf/1e30 = pass through).</summary>
    public required float[] FullRopeFreqFactors { get; init; }   // [RopeDimsFull / 2]
    public required Gemma4LayerWeights[] Layers { get; init; }

    public static Gemma4Weights Load(Gemma4Config c, WeightReader r, ModelLoadOptions? options = null)
    {
        int h = c.HiddenSize;
        // Tied: the embedding is also the output head, read in full every token; untied it is a row lookup.
        bool tied = !r.Has(N.Output);
        WeightMatrix embd = tied ? r.Matrix(N.TokenEmbedding, c.VocabSize, h) : r.MappedMatrix(N.TokenEmbedding, c.VocabSize, h);
        var layers = new Gemma4LayerWeights[c.LayerCount];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = LoadLayer(c, r, i);
        }

        IPerLayerEmbeddingStore? ple = null;
        WeightMatrix? pleProj = null;
        float[]? pleNorm = null;
        if (c.HasPerLayerInputs)
        {
            int width = c.LayerCount * c.PerLayerInputSize;
            ple = PerLayerEmbeddingStore.Open(r, N.PerLayerTokenEmbedding, c.PerLayerVocabSize, width, options ?? ModelLoadOptions.Default);
            pleProj = r.Matrix(N.PerLayerModelProjection, width, h);
            pleNorm = r.Vector(N.PerLayerProjectionNorm, c.PerLayerInputSize);
        }

        return new Gemma4Weights
        {
            TokenEmbedding = embd,
            Output = r.OptionalMatrix(N.Output, c.VocabSize, h) ?? embd,
            OutputNorm = r.Vector(N.OutputNorm, h),
            PerLayerEmbeddings = ple,
            PerLayerModelProjection = pleProj,
            PerLayerProjectionNorm = pleNorm,
            FullRopeFreqFactors = r.OptionalVector(N.RopeFreqs, c.RopeDimsFull / 2) ?? ProportionalFactors(c),
            Layers = layers,
        };
    }

    /// <summary>
    /// Same as HF <c>_compute_proportional_rope_parameters</c>: the first <c>partial·D/2</c> pairs rotate, the rest
    /// get frequency 0 (expressed as an infinite divisor, llama.cpp's <c>rope_freqs</c> uses 1e30).
    /// </summary>
    private static float[] ProportionalFactors(Gemma4Config c)
    {
        var factors = new float[c.RopeDimsFull / 2];
        int rotated = (int)Math.Floor(c.FullRopePartialFactor * c.HeadDimFull / 2);
        for (int i = 0; i < factors.Length; i++) factors[i] = i < rotated ? 1f : float.PositiveInfinity;
        return factors;
    }

    private static Gemma4LayerWeights LoadLayer(Gemma4Config c, WeightReader r, int i)
    {
        int h = c.HiddenSize, d = c.HeadDims[i], q = c.HeadCount * d, kv = c.KvHeadCounts[i] * d, ffn = c.FfnWidths[i];
        string B(string suffix) => N.Block(i, suffix);
        bool owns = c.OwnsKv(i);
        Gemma4MoeWeights? moe = null;
        if (c.IsMoe)
        {
            int e = c.ExpertCount, f = c.ExpertFfnWidth;
            // Experts are read a few at a time: they stay mapped.
            WeightMatrix? gateUp = r.OptionalMappedMatrix(B(N.FfnGateUpExps), (long)e * 2 * f, h);
            moe = new Gemma4MoeWeights
            {
                Router = r.Matrix(B(N.FfnGateInp), e, h),
                RouterScale = r.Vector(B(N.FfnGateInpScale), h),
                GateUp = gateUp,
                GateSplit = gateUp is null ? r.MappedMatrix(B(N.FfnGateExps), (long)e * f, h) : null,
                UpSplit = gateUp is null ? r.MappedMatrix(B(N.FfnUpExps), (long)e * f, h) : null,
                Down = r.MappedMatrix(B(N.FfnDownExps), (long)e * h, f),
                PerExpertScale = r.OptionalVector(B(N.FfnDownExpsScale), e),
                PreNorm2 = r.Vector(B(N.PreFfwNorm2), h),
                PostNorm1 = r.Vector(B(N.PostFfwNorm1), h),
                PostNorm2 = r.Vector(B(N.PostFfwNorm2), h),
            }.Slice(e, h, f);
        }
        int p = c.PerLayerInputSize;
        return new Gemma4LayerWeights
        {
            AttnNorm = r.Vector(B(N.AttnNorm), h),
            Q = r.Matrix(B(N.AttnQ), q, h),
            // KV-shared layers may carry unused k/v/k_norm (Google's checkpoints do); they are never read.
            K = owns ? r.Matrix(B(N.AttnK), kv, h) : null,
            V = owns && !(c.AttentionKEqV && c.LayerKinds[i] == LayerKind.Full) ? r.OptionalMatrix(B(N.AttnV), kv, h) : null,
            O = r.Matrix(B(N.AttnOutput), h, q),
            QNorm = r.Vector(B(N.AttnQNorm), d),
            KNorm = owns ? r.Vector(B(N.AttnKNorm), d) : null,
            PostAttentionNorm = r.Vector(B(N.PostAttentionNorm), h),
            FfnNorm = r.Vector(B(N.FfnNorm), h),
            Gate = r.Matrix(B(N.FfnGate), ffn, h),
            Up = r.Matrix(B(N.FfnUp), ffn, h),
            Down = r.Matrix(B(N.FfnDown), h, ffn),
            PostFfwNorm = r.Vector(B(N.PostFfwNorm), h),
            PleGate = p > 0 ? r.Matrix(B(N.InpGate), p, h) : null,
            PleProjection = p > 0 ? r.Matrix(B(N.Proj), h, p) : null,
            PlePostNorm = p > 0 ? r.Vector(B(N.PostNorm), h) : null,
            OutputScale = r.OptionalVector(B(N.LayerOutputScale), 1)?[0] ?? 1f,
            Moe = moe,
        };
    }
}
