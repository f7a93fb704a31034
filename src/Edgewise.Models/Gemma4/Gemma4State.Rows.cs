using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

public sealed partial class Gemma4State
{
    /// <summary>The per-row loops between a chunk's matmuls, each run over the pool by <see cref="ForRows"/>.</summary>
    private enum RowStep
    {
        RopeTables,
        AttentionNorm,
        KeysValues,
        Queries,
        AttentionOut,
        FfnNorm,
        GeGlu,
        FfnOut,
        MoeRouterInput,
        MoeOut,
        PleGate,
        PleOut,
        OutputScale,
    }

    /// <summary>
    /// Runs <paramref name="step"/> for rows [0, <paramref name="count"/>) (relative to <paramref name="row0"/>), split
    /// over the pool when the chunk is big enough to pay for it. Every row goes through the same code as a serial loop
    /// would, so the split never changes a result.
    /// </summary>
    /// <param name="workPerRow">Rough cost of one row in floats of simple elementwise math (see <see cref="ParallelRanges"/>).</param>
    private void ForRows(RowStep step, Gemma4LayerWeights? lw, int il, int row0, int count, long workPerRow)
    {
        var job = new RowJob(this, step, lw, il, row0);
        _pool.RunRanges(ref job, count, workPerRow);
    }

    private readonly struct RowJob(Gemma4State state, RowStep step, Gemma4LayerWeights? lw, int il, int row0) : IRangeJob
    {
        private readonly Gemma4State _state = state;
        private readonly RowStep _step = step;
        private readonly Gemma4LayerWeights? _lw = lw;
        private readonly int _il = il, _row0 = row0;

        public void Execute(int start, int end) => _state.RunRows(_step, _lw, _il, _row0, start, end);
    }

    private void RunRows(RowStep step, Gemma4LayerWeights? lw, int il, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        switch (step)
        {
            case RowStep.RopeTables: RopeTableRows(start, end); break;
            case RowStep.AttentionNorm: NormRows(_x, lw!.AttnNorm, row0, start, end); break;
            case RowStep.KeysValues: KeysValuesRows(il, lw!, row0, start, end); break;
            case RowStep.Queries: QueryRows(il, lw!, row0, start, end); break;
            case RowStep.AttentionOut: AddNormedRows(_branch, lw!.PostAttentionNorm, row0, start, end); break;
            case RowStep.FfnNorm: NormRows(_x, lw!.FfnNorm, row0, start, end); break;
            case RowStep.GeGlu: GeGluRows((int)lw!.Gate.Rows, start, end); break;
            case RowStep.FfnOut: AddNormedRows(_branch, lw!.PostFfwNorm, row0, start, end); break;
            case RowStep.MoeRouterInput: MoeRouterInputRows(lw!, row0, start, end); break;
            case RowStep.MoeOut: MoeOutRows(lw!, row0, start, end); break;
            case RowStep.PleGate: PleGateRows(il, row0, start, end); break;
            case RowStep.PleOut: AddNormedRows(_branch, lw!.PlePostNorm!, row0, start, end); break;
            case RowStep.OutputScale: RowMath.Scale(_x.AsSpan((row0 + start) * h, (end - start) * h), lw!.OutputScale); break;
            default: throw new ArgumentOutOfRangeException(nameof(step), step, "Unknown row step.");
        }
    }

    /// <summary>gelu(gate) ⊙ up in place on gate rows [start, end) of width <paramref name="ffn"/>, as one call over those rows.</summary>
    private void GeGluRows(int ffn, int start, int end)
    {
        int n = (end - start) * ffn;
        RowMath.GeGlu(_gate.AsSpan(start * ffn, n), _up.AsSpan(start * ffn, n), _gate.AsSpan(start * ffn, n));
    }

    /// <summary>Chunk rows row0 + [start, end) of <c>_xn</c> = NormW(<paramref name="source"/> row; <paramref name="weight"/>).</summary>
    private void NormRows(float[] source, float[] weight, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = row0 + start; r < row0 + end; r++) RowMath.RmsNorm(source.AsSpan(r * h, h), weight, _c.RmsNormEps, _xn.AsSpan(r * h, h));
    }

    /// <summary>A branch's rows [start, end) (stored from row 0) normed with <paramref name="weight"/> in place, then added to the residual rows row0 + r.</summary>
    private void AddNormedRows(float[] branch, float[] weight, int row0, int start, int end)
    {
        int h = _c.HiddenSize;
        for (int r = start; r < end; r++)
        {
            Span<float> o = branch.AsSpan(r * h, h);
            RowMath.RmsNorm(o, weight, _c.RmsNormEps, o);
            RowMath.Add(o, _x.AsSpan((row0 + r) * h, h));
        }
    }
}
