using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;

namespace Edgewise.Core.Kernels;

/// <summary>
/// Row-selective kernels for activation-sparse layers (Gemma 3n's Gaussian top-k FFN): a mat-vec over a chosen
/// set of rows, and a weighted sum of chosen rows. Both read only the rows they are given, so a layer whose
/// activations are 95 % zero reads about 5 % of those matrices.
/// </summary>
public sealed unsafe partial class WeightMatrix
{
    private readonly byte[]? _owned;

    private WeightMatrix(string name, GgmlType type, byte[] owned, int rows, int columns)
        : this(name, type, (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(owned)), rows, columns)
    {
        _owned = owned;
    }

    /// <summary>Bytes of the whole matrix in its storage format.</summary>
    public long ByteLength => RowBytes * Rows;

    /// <summary>
    /// A matrix that owns its bytes: <paramref name="values"/> ([rows, columns] row-major) stored as
    /// <paramref name="type"/> with ggml's reference rounding (e.g. a transposed copy of a file matrix).
    /// </summary>
    public static WeightMatrix FromRows(string name, GgmlType type, ReadOnlySpan<float> values, int rows, int columns)
    {
        if (!IsSupported(type) || !Quantizer.CanQuantize(type))
        {
            throw new NotSupportedException($"'{name}': cannot store a matrix as {type}.");
        }
        if (columns <= 0 || rows < 0 || columns % GgmlTypeInfo.BlockSize(type) != 0 || values.Length < (long)rows * columns)
        {
            throw new ArgumentException($"'{name}': {rows} × {columns} values of {type} (block {GgmlTypeInfo.BlockSize(type)}) from {values.Length} floats.", nameof(values));
        }
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        byte[] owned = GC.AllocateUninitializedArray<byte>(checked((int)(rowBytes * rows)), pinned: true);
        for (int r = 0; r < rows; r++)
        {
            Quantizer.Quantize(type, values.Slice(r * columns, columns), owned.AsSpan((int)(r * rowBytes), (int)rowBytes));
        }
        return new WeightMatrix(name, type, owned, rows, columns);
    }

    /// <summary><c>y[k] = W[rows[k]] · x</c>: the mat-vec restricted to the listed rows (activations quantized once, as in <see cref="MatVec"/>).</summary>
    public void MatVecRows(ReadOnlySpan<float> x, ReadOnlySpan<int> rows, Span<float> y, WorkerPool pool) => MatVecRowsCore(x, rows, y, pool, fast: true);

    internal void MatVecRowsCore(ReadOnlySpan<float> x, ReadOnlySpan<int> rows, Span<float> y, WorkerPool pool, bool fast)
    {
        RefuseInterleaved(nameof(MatVecRows));
        if (x.Length < Columns) throw new ArgumentException($"'{Name}' has {Columns} columns; x has {x.Length}.", nameof(x));
        if (y.Length < rows.Length) throw new ArgumentException($"{rows.Length} rows asked; y holds {y.Length}.", nameof(y));
        foreach (int r in rows)
        {
            if ((uint)r >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), r, $"'{Name}' has {Rows} rows.");
        }
        if (rows.IsEmpty) return;
        int actBytes = ActivationQuantizer.BytesPerRow(Activation, Columns);
        byte* scratch = Scratch.Get(actBytes);
        fixed (float* xp = x)
        fixed (float* yp = y)
        fixed (int* rp = rows)
        {
            ActivationRow act = ActivationQuantizer.Layout(Activation, xp, scratch, Columns);
            ActivationQuantizer.Quantize(Activation, act, Columns);
            var job = new RowsJob
            {
                Weights = _data, RowBytes = RowBytes, Type = Type, Kind = Activation, Columns = Columns,
                X = xp, Scratch = scratch, RowIds = rp, Count = rows.Length, Y = yp, Fast = fast,
                PerItem = Math.Max(8, rows.Length / (pool.ThreadCount * 4)),
            };
            pool.Run(ref job, (rows.Length + job.PerItem - 1) / job.PerItem);
        }
    }

    /// <summary>
    /// <c>y = Σ_k coefficients[k] · W[rows[k]]</c> (y has <see cref="Columns"/> values and is overwritten):
    /// a mat-vec with a sparse input when W is stored transposed. Parallel over column ranges of whole blocks, so
    /// each thread owns its slice of y and reads only the listed rows.
    /// </summary>
    public void SumRows(ReadOnlySpan<int> rows, ReadOnlySpan<float> coefficients, Span<float> y, WorkerPool pool) =>
        SumRowsCore(rows, coefficients, y, pool, fast: true);

    internal void SumRowsCore(ReadOnlySpan<int> rows, ReadOnlySpan<float> coefficients, Span<float> y, WorkerPool pool, bool fast)
    {
        RefuseInterleaved(nameof(SumRows));
        if (coefficients.Length < rows.Length) throw new ArgumentException($"{rows.Length} rows but {coefficients.Length} coefficients.", nameof(coefficients));
        if (y.Length < Columns) throw new ArgumentException($"'{Name}' rows have {Columns} values; y holds {y.Length}.", nameof(y));
        foreach (int r in rows)
        {
            if ((uint)r >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), r, $"'{Name}' has {Rows} rows.");
        }
        int block = GgmlTypeInfo.BlockSize(Type);
        // Column ranges of whole blocks, at least 256 values, about 4 per thread.
        int blocks = Columns / block;
        int blocksPerItem = Math.Max(Math.Max(1, 256 / block), blocks / (pool.ThreadCount * 4));
        fixed (int* rp = rows)
        fixed (float* cp = coefficients)
        fixed (float* yp = y)
        {
            var job = new SumJob
            {
                Weights = _data, RowBytes = RowBytes, Type = Type, Block = block, BlockBytes = GgmlTypeInfo.BlockBytes(Type),
                Blocks = blocks, BlocksPerItem = blocksPerItem, RowIds = rp, Coefficients = cp, Count = rows.Length, Y = yp, Fast = fast,
            };
            pool.Run(ref job, (blocks + blocksPerItem - 1) / blocksPerItem);
        }
    }

    private struct RowsJob : IParallelJob
    {
        public byte* Weights;
        public long RowBytes;
        public GgmlType Type;
        public ActivationKind Kind;
        public int Columns;
        public float* X;
        public byte* Scratch;
        public int* RowIds;
        public int Count;
        public float* Y;
        public bool Fast;
        public int PerItem;

        private const int RowsAhead = 2;

        public readonly void Execute(int item)
        {
            ActivationRow act = ActivationQuantizer.Layout(Kind, X, Scratch, Columns);
            int end = Math.Min(Count, (item + 1) * PerItem);
            for (int k = item * PerItem; k < end; k++)
            {
                byte* w = Weights + RowIds[k] * RowBytes;
                // Listed rows are scattered (and a mapped file's are on 4 KiB pages): ask for the row after next while this one runs.
                if (k + RowsAhead < end) Prefetch.ToL2(Weights + RowIds[k + RowsAhead] * RowBytes, RowBytes);
                Y[k] = Fast ? RowDot.Fast(Type, w, act, Columns) : RowDot.Scalar(Type, w, act, Columns);
            }
        }
    }

    private struct SumJob : IParallelJob
    {
        public byte* Weights;
        public long RowBytes;
        public GgmlType Type;
        public int Block;
        public int BlockBytes;
        public int Blocks;
        public int BlocksPerItem;
        public int* RowIds;
        public float* Coefficients;
        public int Count;
        public float* Y;
        public bool Fast;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int item)
        {
            int b0 = item * BlocksPerItem, b1 = Math.Min(Blocks, b0 + BlocksPerItem);
            int c0 = b0 * Block, n = (b1 - b0) * Block;
            float* y = Y + c0;
            if (Type == GgmlType.Q8_0 && Fast && Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
            {
                SumQ8_0Wide(b0, b1, y);
                return;
            }
            if (Type == GgmlType.Q8_0 && Fast && Avx2.IsSupported && Fma.IsSupported)
            {
                SumQ8_0(b0, b1, y);
                return;
            }
            new Span<float>(y, n).Clear();
            // Formats without a dedicated loop are dequantized 256 values (whole blocks) at a time.
            int chunk = Math.Max(Block, 256 / Block * Block);
            float* tmp = stackalloc float[chunk];
            for (int k = 0; k < Count; k++)
            {
                byte* row = Weights + RowIds[k] * RowBytes;
                float c = Coefficients[k];
                if (Type == GgmlType.F32)
                {
                    AddScaled((float*)row + c0, c, y, n, Fast);
                }
                else if (Type == GgmlType.Q8_0)
                {
                    for (int b = b0; b < b1; b++)
                    {
                        var blk = (BlockQ8_0*)(row + (long)b * BlockBytes);
                        AddScaledQ8(blk->Qs, c * Fp16.ScaleToFloat(*(ushort*)&blk->D), y + (b - b0) * Block, Fast);
                    }
                }
                else
                {
                    for (int v = 0; v < n; v += chunk)
                    {
                        int m = Math.Min(chunk, n - v);
                        Dequantizer.DequantizeRow(Type, row + (long)(c0 + v) / Block * BlockBytes, tmp, m);
                        AddScaled(tmp, c, y + v, m, Fast);
                    }
                }
            }
        }

        // Scattered rows defeat the hardware prefetcher: SumQ8_0 asks for the row this many ahead.
        private const int PrefetchRows = 8;

        /// <summary>
        /// Q8_0 blocks [b0, b1) of y (at <paramref name="y"/>), two blocks at a time: the 64 sums stay in eight
        /// registers while every listed row passes, so y is loaded and stored once instead of once per row. Each
        /// element still takes y = fma(q, c·d, y) in row order from zero: the same floats as the block loop.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void SumQ8_0(int b0, int b1, float* y)
        {
            int b = b0;
            for (; b + 2 <= b1; b += 2, y += 64)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector256<float> a4 = default, a5 = default, a6 = default, a7 = default;
                long offset = (long)b * 34;
                for (int k = 0; k < Count; k++)
                {
                    byte* blk = Weights + RowIds[k] * RowBytes + offset;
                    if (k + PrefetchRows < Count)
                    {
                        // The two cache lines of the block pair, a few rows ahead.
                        byte* ahead = Weights + RowIds[k + PrefetchRows] * RowBytes + offset;
                        Sse.Prefetch0(ahead);
                        Sse.Prefetch0(ahead + 67);
                    }
                    AddBlockQ8_0(blk, Coefficients[k], ref a0, ref a1, ref a2, ref a3);
                    AddBlockQ8_0(blk + 34, Coefficients[k], ref a4, ref a5, ref a6, ref a7);
                }
                Avx.Store(y, a0);
                Avx.Store(y + 8, a1);
                Avx.Store(y + 16, a2);
                Avx.Store(y + 24, a3);
                Avx.Store(y + 32, a4);
                Avx.Store(y + 40, a5);
                Avx.Store(y + 48, a6);
                Avx.Store(y + 56, a7);
            }
            if (b < b1)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                long offset = (long)b * 34;
                for (int k = 0; k < Count; k++) AddBlockQ8_0(Weights + RowIds[k] * RowBytes + offset, Coefficients[k], ref a0, ref a1, ref a2, ref a3);
                Avx.Store(y, a0);
                Avx.Store(y + 8, a1);
                Avx.Store(y + 16, a2);
                Avx.Store(y + 24, a3);
            }
        }

        /// <summary>
        /// <see cref="SumQ8_0"/> for 512-bit registers, rows in the outer loop: the item's slice of y (a few KiB) stays
        /// in L1 and takes two rows per visit, four blocks at a time, so each listed row is read once, as one contiguous
        /// run of the item's blocks, with the rows a few ahead prefetched whole. Each element still takes
        /// y = fma(q, c·d, y) in row order from zero: the same floats as the block loop.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void SumQ8_0Wide(int b0, int b1, float* y)
        {
            int quads = (b1 - b0) / 4, span = quads * 4 * 34;
            if (quads == 0)
            {
                SumQ8_0(b0, b1, y);
                return;
            }
            new Span<float>(y, quads * 128).Clear();
            long offset = (long)b0 * 34;
            for (int k = 0; k < Count; k += 2)
            {
                // Whole rows into L2 (into L1 they crowded out the lines being summed).
                if (k + PrefetchRows < Count) Prefetch.ToL2(Weights + RowIds[k + PrefetchRows] * RowBytes + offset, span);
                if (k + PrefetchRows + 1 < Count) Prefetch.ToL2(Weights + RowIds[k + PrefetchRows + 1] * RowBytes + offset, span);
                byte* r0 = Weights + RowIds[k] * RowBytes + offset;
                // An odd last row is added alone (adding it again at coefficient zero could turn a -0 sum into +0).
                bool pair = k + 1 < Count;
                byte* r1 = pair ? Weights + RowIds[k + 1] * RowBytes + offset : r0;
                float c0 = Coefficients[k], c1 = pair ? Coefficients[k + 1] : 0f;
                float* a = y;
                for (int quad = 0; quad < quads; quad++, r0 += 136, r1 += 136, a += 128)
                {
                    Vector512<float> s0 = Vector512.Load(a), s1 = Vector512.Load(a + 16), s2 = Vector512.Load(a + 32), s3 = Vector512.Load(a + 48);
                    Vector512<float> s4 = Vector512.Load(a + 64), s5 = Vector512.Load(a + 80), s6 = Vector512.Load(a + 96), s7 = Vector512.Load(a + 112);
                    AddBlockQ8_0(r0, c0, ref s0, ref s1);
                    AddBlockQ8_0(r0 + 34, c0, ref s2, ref s3);
                    AddBlockQ8_0(r0 + 68, c0, ref s4, ref s5);
                    AddBlockQ8_0(r0 + 102, c0, ref s6, ref s7);
                    if (pair)
                    {
                        AddBlockQ8_0(r1, c1, ref s0, ref s1);
                        AddBlockQ8_0(r1 + 34, c1, ref s2, ref s3);
                        AddBlockQ8_0(r1 + 68, c1, ref s4, ref s5);
                        AddBlockQ8_0(r1 + 102, c1, ref s6, ref s7);
                    }
                    s0.Store(a); s1.Store(a + 16); s2.Store(a + 32); s3.Store(a + 48);
                    s4.Store(a + 64); s5.Store(a + 80); s6.Store(a + 96); s7.Store(a + 112);
                }
            }
            if (b0 + quads * 4 < b1) SumQ8_0(b0 + quads * 4, b1, y + quads * 128);
        }

        /// <summary>a0, a1 = fma(q, c·d, a) over the 32 values of the Q8_0 block at <paramref name="block"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddBlockQ8_0(byte* block, float c, ref Vector512<float> a0, ref Vector512<float> a1)
        {
            Vector512<float> s = Vector512.Create(c * Fp16.ScaleToFloat(*(ushort*)block));
            sbyte* q = (sbyte*)block + 2;
            a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q))), s, a0);
            a1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + 16))), s, a1);
        }

        /// <summary>a0..a3 = fma(q, c·d, a) over the 32 values of the Q8_0 block at <paramref name="block"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddBlockQ8_0(byte* block, float c, ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3)
        {
            Vector256<float> s = Vector256.Create(c * Fp16.ScaleToFloat(*(ushort*)block));
            sbyte* q = (sbyte*)block + 2;
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q)), s, a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 8)), s, a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 16)), s, a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 24)), s, a3);
        }
    }

    /// <summary><c>y[i] += s · x[i]</c>; the scalar loop is the twin of the vector one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaled(float* x, float s, float* y, int n, bool fast)
    {
        int i = 0;
        if (fast && Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
            {
                Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vs, Vector256.Load(y + i)), y + i);
            }
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i], s, y[i]);
    }

    /// <summary><c>y[i] += s · q[i]</c> over one 32-value Q8_0 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaledQ8(sbyte* q, float s, float* y, bool fast)
    {
        if (fast && Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vs = Vector256.Create(s);
            // Two 16-byte loads cover the block exactly (never past its end), widened 8 values at a time.
            for (int h = 0; h < 32; h += 16)
            {
                Vector128<sbyte> v = Vector128.Load(q + h);
                Vector128<short> lo = Vector128.WidenLower(v), hi = Vector128.WidenUpper(v);
                Store8(Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)), vs, y + h);
                Store8(Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi)), vs, y + h + 8);
            }
            return;
        }
        for (int i = 0; i < 32; i++) y[i] = MathF.FusedMultiplyAdd(q[i], s, y[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8(Vector256<int> q, Vector256<float> s, float* y) =>
        Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(q), s, Vector256.Load(y)), y);

    /// <summary>Row-sparse kernels read single rows, which an interleaved layout spreads over sixteen rows' cache lines.</summary>
    private void RefuseInterleaved(string kernel)
    {
        if (IsInterleaved)
        {
            throw new NotSupportedException($"'{Name}' is interleaved in groups of {Q4_0x16.GroupRows} rows; {kernel} needs the ggml row layout (load it without interleaving).");
        }
    }
}
