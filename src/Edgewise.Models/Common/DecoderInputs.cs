using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;

namespace Edgewise.Models.Common;

/// <summary>
/// The first steps of a Gemma 3n / Gemma 4 forward pass, identical in both: the scaled token embedding and the
/// per-layer inputs (PLE). What each architecture then does with them (AltUp streams, the residual) stays in its
/// own state.
/// </summary>
internal static class DecoderInputs
{
    /// <summary>
    /// Row r of <paramref name="dst"/> ([T, H], H = the table's width) = E[tokens[r]] · sqrt(H) (HF
    /// <c>Gemma3nTextScaledWordEmbedding</c>, Gemma 4 alike).
    /// </summary>
    public static void Embed(ReadOnlySpan<int> tokens, WeightMatrix table, int vocabSize, Span<float> dst)
    {
        int h = table.Columns;
        float scale = MathF.Sqrt(h);
        for (int r = 0; r < tokens.Length; r++)
        {
            int token = tokens[r];
            if ((uint)token >= (uint)vocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), token, $"Token ids must be below the vocabulary size {vocabSize}.");
            }
            Span<float> row = dst.Slice(r * h, h);   // [H]
            table.DequantizeRow(token, row);
            RowMath.Scale(row, scale);
        }
    }

    /// <summary>
    /// Same as HF <c>get_per_layer_inputs</c> + <c>project_per_layer_inputs</c> (Gemma 3n spec §3.1, Gemma 4 spec
    /// §4.1): row r of <paramref name="inputs"/> ([T, L·P]) = (RMSNorm(W_plmp · h0 / sqrt(H)) + E_ple[token] · sqrt(P))
    /// / sqrt(2), per layer slice. <paramref name="context"/> ([T, L·P]) is scratch. Rows are combined in parallel.
    /// </summary>
    /// <param name="embedded">h0, the scaled embeddings: [T, H] from row 0.</param>
    public static unsafe void PerLayer(ReadOnlySpan<int> tokens, ReadOnlySpan<float> embedded, WeightMatrix projection,
        IPerLayerEmbeddingStore table, float[] projectionNorm, int layers, float eps, WorkerPool pool,
        float[] context, float[] inputs)
    {
        int t = tokens.Length, h = projection.Columns, width = projection.Rows;
        // [T, L·P] = W_plmp · h0
        projection.MatMul(embedded[..(t * h)], t, context.AsSpan(0, t * width), pool);
        fixed (int* ids = tokens)
        {
            var job = new PerLayerRows
            {
                Tokens = ids, Table = table, ProjectionNorm = projectionNorm, Layers = layers, Eps = eps,
                ProjectionScale = 1f / MathF.Sqrt(h), Context = context, Inputs = inputs, Width = width,
            };
            pool.RunRanges(ref job, t, 6L * width);
        }
    }

    /// <summary>Rows of <see cref="PerLayer"/> after the projection: the PLE table row plus the normed context, per layer.</summary>
    private unsafe struct PerLayerRows : IRangeJob
    {
        public int* Tokens;   // [T], pinned by the caller for the whole run
        public IPerLayerEmbeddingStore Table;
        public float[] ProjectionNorm;
        public int Layers;
        public float Eps;
        public float ProjectionScale;
        public float[] Context;
        public float[] Inputs;
        public int Width;   // L·P

        public readonly void Execute(int start, int end)
        {
            int width = Width, p = width / Layers;
            float tokenScale = MathF.Sqrt(p), mix = 1f / MathF.Sqrt(2f);
            for (int r = start; r < end; r++)
            {
                Span<float> row = Inputs.AsSpan(r * width, width);      // [L·P] token-identity part
                Table.ReadRow(Tokens[r], row);
                for (int l = 0; l < Layers; l++)
                {
                    Span<float> ctx = Context.AsSpan(r * width + l * p, p);   // [P]
                    RowMath.Scale(ctx, ProjectionScale);
                    RowMath.RmsNorm(ctx, ProjectionNorm, Eps, ctx);
                    Span<float> tok = row.Slice(l * p, p);
                    for (int i = 0; i < p; i++) tok[i] = (ctx[i] + tok[i] * tokenScale) * mix;
                }
            }
        }
    }
}
