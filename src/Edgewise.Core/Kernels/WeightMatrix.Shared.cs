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
            int items = job.A.Set(a, pa, pool.ThreadCount, 0);
            items = job.B.Set(b, pb, pool.ThreadCount, items);
            items = c is null ? job.C.Skip(items) : job.C.Set(c, pc, pool.ThreadCount, items);
            items = d is null ? job.D.Skip(items) : job.D.Set(d, pd, pool.ThreadCount, items);
            pool.Run(ref job, items);
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
            int items = job.Gate.Set(gate, pg, pool.ThreadCount, 0);
            job.Up.Set(up, pu, pool.ThreadCount, 0);
            job.Up.RowsPerItem = job.Gate.RowsPerItem;   // the same rows of both in each item
            pool.Run(ref job, items);
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

    /// <summary>The rows of one matrix in a shared pass: items [FirstItem, FirstItem + Items) of the job.</summary>
    private struct RowsPart
    {
        public byte* Weights;
        public long RowBytes;
        public GgmlType Type;
        public bool Interleaved;
        public int Rows;
        public float* Y;
        public int RowsPerItem;   // whole 16-row groups when Interleaved
        public int FirstItem;
        public int Items;

        /// <summary>Fills the part and returns the next part's first item.</summary>
        public int Set(WeightMatrix m, float* y, int threads, int firstItem)
        {
            Weights = m._data;
            RowBytes = m.RowBytes;
            Type = m.Type;
            Interleaved = m.IsInterleaved;
            Rows = m.Rows;
            Y = y;
            int perItem = RowsPerItem(m.Rows, 1, threads, m.RowBytes);
            RowsPerItem = Interleaved || m.Rows % 16 == 0 ? Math.Max(1, perItem / Q4_0x16.GroupRows) * Q4_0x16.GroupRows : perItem;
            FirstItem = firstItem;
            Items = (Rows + RowsPerItem - 1) / RowsPerItem;
            return firstItem + Items;
        }

        /// <summary>An absent part: no items, starting where the previous part ended. Returns that item.</summary>
        public int Skip(int firstItem)
        {
            FirstItem = firstItem;
            Items = 0;
            return firstItem;
        }

        /// <summary>Rows [first, end) of item <paramref name="item"/> (counted from this part's first), through the MatVec kernel.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly (int First, int End) Run(int item, in ActivationRow act, int columns)
        {
            int first = item * RowsPerItem, end = Math.Min(Rows, first + RowsPerItem);
            if (Interleaved)
            {
                long groupBytes = RowBytes * Q4_0x16.GroupRows;
                int g = first / Q4_0x16.GroupRows;
                InterleavedGroups(Type, Weights + g * groupBytes, groupBytes, (end - first) / Q4_0x16.GroupRows, columns / 32, act, Y + first);
            }
            else
            {
                RowDot.FastRows(Type, Weights + first * RowBytes, RowBytes, act, columns, Y + first, end - first);
            }
            return (first, end);
        }
    }

    private struct SharedJob : IParallelJob
    {
        public ActivationRow Act;
        public int Columns;
        public RowsPart A, B, C, D;   // an absent C or D has no items

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int item)
        {
            if (item < B.FirstItem) A.Run(item, Act, Columns);
            else if (item < C.FirstItem) B.Run(item - B.FirstItem, Act, Columns);
            else if (item < D.FirstItem) C.Run(item - C.FirstItem, Act, Columns);
            else D.Run(item - D.FirstItem, Act, Columns);
        }
    }

    private struct GeGluJob : IParallelJob
    {
        public ActivationRow Act;
        public int Columns;
        public RowsPart Gate, Up;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int item)
        {
            (int first, int end) = Gate.Run(item, Act, Columns);
            Up.Run(item, Act, Columns);
            var gate = new Span<float>(Gate.Y + first, end - first);
            Ops.GeGlu(gate, new ReadOnlySpan<float>(Up.Y + first, end - first), gate);
        }
    }
}
