using Edgewise.Core.Kernels;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial class Gemma4State
{
    private readonly MoeBuffers? _moe;

    /// <summary>Scratch of the MoE block, allocated once per state.</summary>
    private sealed class MoeBuffers
    {
        public MoeBuffers(Gemma4Config c, int batch)
        {
            int h = c.HiddenSize, e = c.ExpertCount, k = c.ExpertsUsed, f = c.ExpertFfnWidth;
            RouterIn = new float[batch * h];
            RouterLogits = new float[batch * e];
            ExpertIn = new float[batch * h];
            Gathered = new float[batch * k * h];
            GateUp = new float[batch * k * 2 * f];
            Act = new float[batch * k * f];
            Out = new float[batch * k * h];
            Acc = new float[batch * h];
            Picked = new int[batch * k];
            PickedWeight = new float[batch * k];
            Counts = new int[e];
            Offsets = new int[e + 1];
            SlotRow = new int[batch * k];
            SlotWeight = new float[batch * k];
        }

        public float[] RouterIn;      // [B, H]
        public float[] RouterLogits;  // [B, E]
        public float[] ExpertIn;      // [B, H] pre_ffw_norm_2(x)
        public float[] Gathered;      // [B·K, H] expert inputs grouped by expert
        public float[] GateUp;        // [B·K, 2F]
        public float[] Act;           // [B·K, F]
        public float[] Out;           // [B·K, H]
        public float[] Acc;           // [B, H] weighted expert sum
        public int[] Picked;          // [B, K] expert ids
        public float[] PickedWeight;  // [B, K] routing weights
        public int[] Counts;          // [E]
        public int[] Offsets;         // [E + 1]
        public int[] SlotRow;         // [B·K] chunk row of each grouped slot
        public float[] SlotWeight;    // [B·K]
    }

    /// <summary>
    /// Same as HF <c>Gemma4TextDecoderLayer</c> with <c>enable_moe_block</c> (spec §4.3): a dense MLP and top-k routed
    /// experts run side by side on the post-attention residual; the router reads the raw residual.
    /// Rows are grouped by expert so each expert runs one matmul per chunk.
    /// </summary>
    private void MoeFeedForward(Gemma4LayerWeights lw, int row0, int t)
    {
        MoeBuffers m = _moe!;
        Gemma4MoeWeights mw = lw.Moe!;
        int h = _c.HiddenSize, rows = t - row0, e = _c.ExpertCount, k = _c.ExpertsUsed, f = _c.ExpertFfnWidth;
        float eps = _c.RmsNormEps;

        // Dense branch -> _branch [rows, H]
        ForRows(RowStep.FfnNorm, lw, 0, row0, rows, 2 * h);
        DenseMlp(lw, _xn, row0, rows, _branch);

        ForRows(RowStep.MoeRouterInput, lw, 0, row0, rows, 5 * h);
        mw.Router.MatMul(m.RouterIn.AsSpan(0, rows * h), rows, m.RouterLogits.AsSpan(0, rows * e), _pool);
        Array.Clear(m.Counts);
        for (int r = 0; r < rows; r++)
        {
            Span<float> probs = m.RouterLogits.AsSpan(r * e, e);
            RowMath.Softmax(probs);
            PickTopK(probs, m.Picked.AsSpan(r * k, k), m.PickedWeight.AsSpan(r * k, k), mw.PerExpertScale);
            for (int j = 0; j < k; j++) m.Counts[m.Picked[r * k + j]]++;
        }

        // Group (row, expert) pairs by expert.
        m.Offsets[0] = 0;
        for (int x = 0; x < e; x++) m.Offsets[x + 1] = m.Offsets[x] + m.Counts[x];
        Array.Clear(m.Counts);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < k; j++)
            {
                int expert = m.Picked[r * k + j];
                int slot = m.Offsets[expert] + m.Counts[expert]++;
                m.SlotRow[slot] = r;
                m.SlotWeight[slot] = m.PickedWeight[r * k + j];
                m.ExpertIn.AsSpan(r * h, h).CopyTo(m.Gathered.AsSpan(slot * h, h));
            }
        }

        for (int x = 0; x < e; x++)
        {
            int first = m.Offsets[x], n = m.Counts[x];
            if (n == 0) continue;
            ReadOnlySpan<float> input = m.Gathered.AsSpan(first * h, n * h);   // [n, H]
            Span<float> act = m.Act.AsSpan(first * f, n * f);                    // [n, F]
            if (mw.GateUpPerExpert is { } fused)
            {
                Span<float> gu = m.GateUp.AsSpan(first * 2 * f, n * 2 * f);     // [n, 2F]: gate then up
                fused[x].MatMul(input, n, gu, _pool);
                for (int s = 0; s < n; s++) RowMath.GeGlu(gu.Slice(s * 2 * f, f), gu.Slice(s * 2 * f + f, f), act.Slice(s * f, f));
            }
            else
            {
                Span<float> g = m.GateUp.AsSpan(first * 2 * f, n * f);
                Span<float> u = m.GateUp.AsSpan(first * 2 * f + n * f, n * f);
                mw.GatePerExpert![x].MatMul(input, n, g, _pool);
                mw.UpPerExpert![x].MatMul(input, n, u, _pool);
                RowMath.GeGlu(g, u, act);
            }
            mw.DownPerExpert[x].MatMul(act, n, m.Out.AsSpan(first * h, n * h), _pool);   // [n, H]
        }

        Array.Clear(m.Acc, 0, rows * h);
        for (int slot = 0; slot < rows * k; slot++)
        {
            RowMath.AddScaled(m.Out.AsSpan(slot * h, h), m.SlotWeight[slot], m.Acc.AsSpan(m.SlotRow[slot] * h, h));
        }

        ForRows(RowStep.MoeOut, lw, 0, row0, rows, 7 * h);
    }

    /// <summary>Router input (Norm1(x) · H^-0.5 ⊙ router.scale) and the experts' pre-normed input of rows row0 + [start, end), both on the raw residual.</summary>
    private void MoeRouterInputRows(Gemma4LayerWeights lw, int row0, int start, int end)
    {
        MoeBuffers m = _moe!;
        Gemma4MoeWeights mw = lw.Moe!;
        int h = _c.HiddenSize;
        float eps = _c.RmsNormEps, inv = 1f / MathF.Sqrt(h);
        for (int r = start; r < end; r++)
        {
            ReadOnlySpan<float> x = _x.AsSpan((row0 + r) * h, h);
            Span<float> ri = m.RouterIn.AsSpan(r * h, h);
            RowMath.RmsNorm(x, eps, ri);
            RowMath.Scale(ri, inv);
            RowMath.Multiply(mw.RouterScale, ri);
            RowMath.RmsNorm(x, mw.PreNorm2, eps, m.ExpertIn.AsSpan(r * h, h));
        }
    }

    /// <summary>Dense and expert branches post-normed, summed, normed again and added to the residual (rows row0 + [start, end)).</summary>
    private void MoeOutRows(Gemma4LayerWeights lw, int row0, int start, int end)
    {
        MoeBuffers m = _moe!;
        Gemma4MoeWeights mw = lw.Moe!;
        int h = _c.HiddenSize;
        float eps = _c.RmsNormEps;
        for (int r = start; r < end; r++)
        {
            Span<float> dense = _branch.AsSpan(r * h, h);
            Span<float> experts = m.Acc.AsSpan(r * h, h);
            RowMath.RmsNorm(dense, mw.PostNorm1, eps, dense);
            RowMath.RmsNorm(experts, mw.PostNorm2, eps, experts);
            RowMath.Add(experts, dense);
            RowMath.RmsNorm(dense, lw.PostFfwNorm, eps, dense);
            RowMath.Add(dense, _x.AsSpan((row0 + r) * h, h));
        }
    }

    /// <summary>Top-k experts by probability, weights renormalised over the k and multiplied by the per-expert scale.</summary>
    private static void PickTopK(ReadOnlySpan<float> probs, Span<int> picked, Span<float> weights, float[]? perExpertScale)
    {
        int k = picked.Length;
        for (int j = 0; j < k; j++)
        {
            int best = -1;
            for (int x = 0; x < probs.Length; x++)
            {
                if (best >= 0 && probs[x] <= probs[best]) continue;
                if (picked[..j].Contains(x)) continue;
                best = x;
            }
            picked[j] = best;
        }
        float sum = 0;
        for (int j = 0; j < k; j++) sum += probs[picked[j]];
        for (int j = 0; j < k; j++)
        {
            weights[j] = probs[picked[j]] / sum * (perExpertScale is null ? 1f : perExpertScale[picked[j]]);
        }
    }
}
