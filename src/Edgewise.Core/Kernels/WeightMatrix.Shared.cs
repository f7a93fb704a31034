using System.Runtime.CompilerServices;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Core.Kernels;

// Decode products that share one input row (a layer's q, k and v; its gate and up): one activation quantization and
// one hand-off to the pool for all of them. Apart, each paid both, and a decode step makes hundreds: while the caller
// quantized, the other core waited, and every hand-off ends in a tail where one core finishes before the other.
// Every output row is computed by the same kernel call as in MatVec, so the results are bit-identical to it.
public sealed unsafe partial class WeightMatrix
{
    /// <summary>
    /// <c>ya = a · x</c>, <c>yb = b · x</c> and, for each of <paramref name="c"/> and <paramref name="d"/> that is given,
    /// <c>yc = c · x</c> and <c>yd = d · x</c>: the same results as one <see cref="MatVec"/> each, in one parallel pass
    /// when the matrices take the same activation encoding and the same number of columns (else one MatVec each).
    /// </summary>
    public static void MatVecShared(ReadOnlySpan<float> x, WorkerPool pool,
        WeightMatrix a, Span<float> ya, WeightMatrix b, Span<float> yb, WeightMatrix? c = null, Span<float> yc = default,
        WeightMatrix? d = null, Span<float> yd = default)
    {
        if (!CanShare(a, b) || (c is not null && !CanShare(a, c)) || (d is not null && !CanShare(a, d)))
        {
            a.MatVec(x, ya, pool);
            b.MatVec(x, yb, pool);
            c?.MatVec(x, yc, pool);
            d?.MatVec(x, yd, pool);
            return;
        }
        a.CheckMatVec(x, ya);
        b.CheckMatVec(x, yb);
        c?.CheckMatVec(x, yc);
        d?.CheckMatVec(x, yd);
        fixed (float* xp = x)
        fixed (float* pa = ya)
        fixed (float* pb = yb)
        fixed (float* pc = yc)
        fixed (float* pd = yd)
        {
            ActivationRow act = a.QuantizeOne(xp, pool);
            var job = new SharedJob { Act = act, Columns = a.Columns };
            int units = job.A.Set(a, pa, 0);
            units = job.B.Set(b, pb, units);
            units = c is null ? job.C.Skip(units) : job.C.Set(c, pc, units);
            units = d is null ? job.D.Skip(units) : job.D.Set(d, pd, units);
            pool.RunClaims(ref job, units);
        }
    }

    /// <summary>
    /// <c>gateOut = gelu_tanh(gate · x) ⊙ (up · x)</c>, with <c>up · x</c> left in <paramref name="upOut"/>: the decode
    /// step of a GeGLU feed-forward (<paramref name="gateOut"/> may then feed the down projection). Each work item
    /// takes the same rows of both matrices and applies the activation to them while they are in L1, so the caller
    /// has nothing left to do between the two parallel passes. Same results as two <see cref="MatVec"/> calls and
    /// <see cref="Ops.GeGlu"/>.
    /// </summary>
    public static void GeGluMatVec(ReadOnlySpan<float> x, WorkerPool pool, WeightMatrix gate, WeightMatrix up, Span<float> gateOut, Span<float> upOut)
    {
        // Row runs that are whole 16-row groups keep GeGlu's vector/tail split the same as one call over every row.
        if (!CanShare(gate, up) || gate.Rows != up.Rows || gate.Rows % 16 != 0)
        {
            gate.MatVec(x, gateOut, pool);
            up.MatVec(x, upOut, pool);
            Ops.GeGlu(gateOut[..gate.Rows], upOut[..up.Rows], gateOut);
            return;
        }
        gate.CheckMatVec(x, gateOut);
        up.CheckMatVec(x, upOut);
        fixed (float* xp = x)
        fixed (float* pg = gateOut)
        fixed (float* pu = upOut)
        {
            ActivationRow act = gate.QuantizeOne(xp, pool);
            var job = new GeGluJob { Act = act, Columns = gate.Columns };
            int units = job.Gate.Set(gate, pg, 0);
            job.Up.Set(up, pu, 0);   // same rows, so the same 16-row units
            pool.RunClaims(ref job, units);
        }
    }

    /// <summary>True when one quantized activation row serves both matrices through their decode kernels.</summary>
    private static bool CanShare(WeightMatrix a, WeightMatrix b)
        => RowDot.HasFastPath && a.Columns == b.Columns && a.Activation == b.Activation && a.Rows > 0 && b.Rows > 0;

    private void CheckMatVec(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length < Columns) throw new ArgumentException($"'{Name}' has {Columns} columns; x has {x.Length} values.", nameof(x));
        if (y.Length < Rows) throw new ArgumentException($"'{Name}' has {Rows} rows; y holds {y.Length} values.", nameof(y));
    }

    /// <summary>One activation row quantized into the caller's scratch (one row stays on the caller).</summary>
    private ActivationRow QuantizeOne(float* x, WorkerPool pool)
    {
        int bytes = ActivationQuantizer.BytesPerRow(Activation, Columns);
        ActivationRow act;
        QuantizeRows(x, 1, Scratch.Get(bytes), bytes, &act, pool);
        return act;
    }

    /// <summary>The rows of one matrix in a shared pass: units [FirstUnit, FirstUnit + Units) of the job.</summary>
    private struct RowsPart
    {
        public byte* Weights;
        public long RowBytes;
        public GgmlType Type;
        public bool Interleaved;
        public int Rows;
        public float* Y;
        public int UnitRows;   // a 16-row group when Interleaved or the rows come in groups of 16, else one row
        public int FirstUnit;
        public int Units;

        /// <summary>Fills the part and returns the next part's first unit.</summary>
        public int Set(WeightMatrix m, float* y, int firstUnit)
        {
            Weights = m._data;
            RowBytes = m.RowBytes;
            Type = m.Type;
            Interleaved = m.IsInterleaved;
            Rows = m.Rows;
            Y = y;
            UnitRows = Interleaved || m.Rows % Q4_0x16.GroupRows == 0 ? Q4_0x16.GroupRows : 1;
            FirstUnit = firstUnit;
            Units = (Rows + UnitRows - 1) / UnitRows;
            return firstUnit + Units;
        }

        /// <summary>An absent part: no units, starting where the previous part ended. Returns that unit.</summary>
        public int Skip(int firstUnit)
        {
            FirstUnit = firstUnit;
            Units = 0;
            return firstUnit;
        }

        /// <summary>
        /// This part's share of the job's units [start, end), through the MatVec kernel; returns its rows [first, end)
        /// (empty when the units are another part's).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly (int First, int End) Run(int start, int end, in ActivationRow act, int columns)
        {
            int from = Math.Max(start, FirstUnit) - FirstUnit, to = Math.Min(end, FirstUnit + Units) - FirstUnit;
            if (from >= to) return (0, 0);
            int first = from * UnitRows, last = Math.Min(Rows, to * UnitRows);
            if (Interleaved)
            {
                long groupBytes = RowBytes * Q4_0x16.GroupRows;
                InterleavedGroups(Type, Weights + from * groupBytes, groupBytes, to - from, columns / 32, act, Y + first);
            }
            else
            {
                RowDot.FastRows(Type, Weights + first * RowBytes, RowBytes, act, columns, Y + first, last - first);
            }
            return (first, last);
        }
    }

    private struct SharedJob : IRangeJob
    {
        public ActivationRow Act;
        public int Columns;
        public RowsPart A, B, C, D;   // an absent C or D has no units

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            A.Run(start, end, Act, Columns);
            B.Run(start, end, Act, Columns);
            C.Run(start, end, Act, Columns);
            D.Run(start, end, Act, Columns);
        }
    }

    private struct GeGluJob : IRangeJob
    {
        public ActivationRow Act;
        public int Columns;
        public RowsPart Gate, Up;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int start, int end)
        {
            (int first, int last) = Gate.Run(start, end, Act, Columns);
            Up.Run(start, end, Act, Columns);
            var gate = new Span<float>(Gate.Y + first, last - first);
            Ops.GeGlu(gate, new ReadOnlySpan<float>(Up.Y + first, last - first), gate);
        }
    }
}
