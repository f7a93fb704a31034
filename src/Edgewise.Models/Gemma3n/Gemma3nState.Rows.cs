using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

public sealed partial class Gemma3nState
{
    /// <summary>The per-row loops between a chunk's matmuls, each run over the pool by <see cref="ForRows"/>.</summary>
    private enum RowStep
    {
        RopeTables,
        MatchStream,
        RouterInput,
        Predict,
        AttentionNorm,
        KeysValues,
        LaurelOut,
        Queries,
        AttentionOut,
        FfnNorm,
        GateCutoff,
        GeGlu,
        FfnOut,
        Correct,
        PleInput,
        PleGate,
        PleOut,
    }

    /// <summary>
    /// Runs <paramref name="step"/> for rows [0, <paramref name="count"/>) (relative to <paramref name="row0"/>), split
    /// over the pool when the chunk is big enough to pay for it. Every row goes through the same code as a serial loop
    /// would, so the split never changes a result.
    /// </summary>
    /// <param name="workPerRow">Rough cost of one row in floats of simple elementwise math (see <see cref="ParallelRanges"/>).</param>
    /// <param name="arg">The AltUp stream for <see cref="RowStep.MatchStream"/>; for <see cref="RowStep.RouterInput"/>,
    /// 0 reads the active stream and 1 reads <c>_z</c>.</param>
    private void ForRows(RowStep step, Gemma3nLayerWeights? lw, int il, int row0, int count, long workPerRow, int arg = 0)
    {
        var job = new RowJob(this, step, lw, il, row0, arg);
        _pool.RunRanges(ref job, count, workPerRow);
    }

    private readonly struct RowJob(Gemma3nState state, RowStep step, Gemma3nLayerWeights? lw, int il, int row0, int arg) : IRangeJob
    {
        private readonly Gemma3nState _state = state;
        private readonly RowStep _step = step;
        private readonly Gemma3nLayerWeights? _lw = lw;
        private readonly int _il = il, _row0 = row0, _arg = arg;

        public void Execute(int start, int end) => _state.RunRows(_step, _lw, _il, _row0, _arg, start, end);
    }

    private void RunRows(RowStep step, Gemma3nLayerWeights? lw, int il, int row0, int arg, int start, int end)
    {
        switch (step)
        {
            case RowStep.RopeTables: RopeTableRows(start, end); break;
            case RowStep.MatchStream: MatchStreamRows(arg, start, end); break;
            case RowStep.RouterInput: RouterInputRows(lw!, arg, row0, start, end); break;
            case RowStep.Predict: PredictRows(lw!, row0, start, end); break;
            case RowStep.AttentionNorm: AttentionNormRows(lw!, row0, start, end); break;
            case RowStep.KeysValues: KeysValuesRows(il, lw!, row0, start, end); break;
            case RowStep.LaurelOut: LaurelOutRows(lw!, row0, start, end); break;
            case RowStep.Queries: QueryRows(il, lw!, row0, start, end); break;
            case RowStep.AttentionOut: AttentionOutRows(lw!, row0, start, end); break;
            case RowStep.FfnNorm: FfnNormRows(lw!, start, end); break;
            case RowStep.GateCutoff: GateCutoffRows(il, start, end); break;
            case RowStep.GeGlu: GeGluRows(il, start, end); break;
            case RowStep.FfnOut: FfnOutRows(lw!, start, end); break;
            case RowStep.Correct: CorrectRows(lw!, row0, start, end); break;
            case RowStep.PleInput: PleInputRows(lw!, row0, start, end); break;
            case RowStep.PleGate: PleGateRows(il, row0, start, end); break;
            case RowStep.PleOut: PleOutRows(lw!, row0, start, end); break;
            default: throw new ArgumentOutOfRangeException(nameof(step), step, "Unknown row step.");
        }
    }
}
