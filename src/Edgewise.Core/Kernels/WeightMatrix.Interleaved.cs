using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Core.Kernels;

// Matrix products over Q4_0 or Q8_0 rows interleaved sixteen at a time (Q4_0x16, Q8_0x16): work items are runs of
// 16-row groups, and within a group every activation row of the batch passes over the group's blocks while they sit
// in L1. A plain Q4_0 matrix that InterleavesBatches comes here for prompt batches too: each group is interleaved
// into a per-thread buffer first (a plain group's 16 rows occupy the same bytes as an interleaved group).
public sealed unsafe partial class WeightMatrix
{
    /// <summary>The decode kernel of an interleaved format over <paramref name="groups"/> consecutive groups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InterleavedGroups(GgmlType type, byte* group, long groupBytes, int groups, int blocks, in ActivationRow a, float* y)
    {
        if (type == GgmlType.Q8_0) Q8_0x16.FastGroups(group, groupBytes, groups, blocks, a, y);
        else Q4_0x16.FastGroups(group, groupBytes, groups, blocks, a, y);
    }

    /// <summary>Rewrites <paramref name="rows"/> ggml rows of an interleavable <paramref name="type"/> in place into its sixteen-row layout.</summary>
    internal static void InterleaveRows(GgmlType type, byte* data, int rows, int blocks)
    {
        if (type == GgmlType.Q8_0) Q8_0x16.Interleave(data, rows, blocks);
        else Q4_0x16.Interleave(data, rows, blocks);
    }

    /// <summary>Row <paramref name="row"/> of interleaved bytes back in the ggml layout.</summary>
    private static void ExtractInterleavedRow(GgmlType type, byte* data, int blocks, int row, byte* dst)
    {
        if (type == GgmlType.Q8_0) Q8_0x16.ExtractRow(data, blocks, row, dst);
        else Q4_0x16.ExtractRow(data, blocks, row, dst);
    }

    private void MatMulInterleaved(ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool, bool fast, int actBytes, float softcap)
    {
        // Quantized rows, then one ActivationRow descriptor per row, in the caller's scratch.
        long descriptorOffset = ((long)actBytes * n + 63) & ~63L;
        byte* scratch = Scratch.Get(descriptorOffset + (long)n * sizeof(ActivationRow));
        var acts = (ActivationRow*)(scratch + descriptorOffset);
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            QuantizeRows(xp, n, scratch, actBytes, acts, pool);
            int groups = Rows / Q4_0x16.GroupRows;
            var job = new InterleavedJob
            {
                Type = Type,
                Weights = _data,
                GroupBytes = RowBytes * Q4_0x16.GroupRows,
                Blocks = Columns / 32,
                Rows = Rows,
                Columns = Columns,
                Acts = acts,
                N = n,
                Y = yp,
                Fast = fast && RowDot.HasFastPath,
                RepackGroups = !IsInterleaved,
                Softcap = softcap,
            };
            // Claimed runs of groups: each group's rows meet every activation row while they are in cache, whatever the run.
            if (pool.Observer is not null) pool.NextPassLabel = Name;
            pool.RunClaims(ref job, groups);
        }
    }

    /// <summary>Groups of sixteen rows [first, end) against every activation row.</summary>
    private struct InterleavedJob : IRangeJob
    {
        public GgmlType Type;
        public byte* Weights;
        public long GroupBytes;
        public int Blocks;
        public int Rows;
        public int Columns;
        public ActivationRow* Acts;
        public int N;
        public float* Y;
        public bool Fast;
        public bool RepackGroups;   // plain rows: interleave each group into the thread's buffer first
        public float Softcap;       // above 0: cap the outputs of groups [first, end) once they are written

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int first, int end)
        {
            Products(first, end);
            if (Softcap > 0)
            {
                // Whole groups of sixteen outputs per activation row: the same vector/tail split as Ops.Softcap over the row.
                for (int j = 0; j < N; j++)
                {
                    var rows = new Span<float>(Y + (long)j * Rows + first * Q4_0x16.GroupRows, (end - first) * Q4_0x16.GroupRows);
                    ElementwiseDriver.Unary(new SoftcapOperator(Softcap), rows, rows, fast: true);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Products(int first, int end)
        {
            if (!Fast)
            {
                Scalar(first, end);
                return;
            }
            if (N == 1)
            {
                InterleavedGroups(Type, Weights + first * GroupBytes, GroupBytes, end - first, Blocks, Acts[0], Y + first * Q4_0x16.GroupRows);
                return;
            }
            byte* buffer = RepackGroups ? GroupBuffer(GroupBytes) : null;
            for (int g = first; g < end; g++)
            {
                byte* group = Weights + g * GroupBytes;
                if (RepackGroups)
                {
                    Q4_0x16.InterleaveGroup(group, buffer, Blocks);
                    group = buffer;
                }
                if (Type == GgmlType.Q8_0) Q8_0x16.Fast(group, Blocks, Acts, N, Y + g * Q4_0x16.GroupRows, Rows);
                else Q4_0x16.Fast(group, Blocks, Acts, N, Y + g * Q4_0x16.GroupRows, Rows);
            }
        }

        /// <summary>This thread's buffer for one interleaved group, grown on demand and kept (a few tens of KiB).</summary>
        private static byte* GroupBuffer(long bytes)
        {
            if (t_groupBytes < bytes)
            {
                NativeMemory.Free(t_group);
                t_group = (byte*)NativeMemory.Alloc((nuint)bytes);
                t_groupBytes = bytes;
            }
            return t_group;
        }

        [ThreadStatic] private static byte* t_group;
        [ThreadStatic] private static long t_groupBytes;

        /// <summary>The scalar twin: each row back in ggml layout, then the plain reference dot.</summary>
        private readonly void Scalar(int firstGroup, int endGroup)
        {
            int rowBytes = (int)GgmlTypeInfo.RowBytes(Type, Columns);
            byte* plain = (byte*)NativeMemory.Alloc((nuint)rowBytes);
            try
            {
                for (int r = firstGroup * Q4_0x16.GroupRows; r < endGroup * Q4_0x16.GroupRows; r++)
                {
                    ExtractInterleavedRow(Type, Weights, Blocks, r, plain);
                    for (int j = 0; j < N; j++) Y[(long)j * Rows + r] = RowDot.Scalar(Type, plain, Acts[j], Columns);
                }
            }
            finally
            {
                NativeMemory.Free(plain);
            }
        }
    }
}
