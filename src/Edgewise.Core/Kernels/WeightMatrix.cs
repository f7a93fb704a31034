using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Edgewise.Core.IO;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Core.Threading;
using Microsoft.Win32.SafeHandles;

namespace Edgewise.Core.Kernels;

/// <summary>
/// A 2-D weight in any supported ggml format, seen as <see cref="Rows"/> rows of <see cref="Columns"/> values
/// (a HF <c>[out, in]</c> linear weight; GGUF <c>ne = [in, out]</c>). Model code calls the same methods whatever
/// the format. The bytes are not copied: the matrix is a view over the mapped file, which must outlive it.
/// </summary>
public sealed unsafe partial class WeightMatrix
{
    private readonly byte* _data;
    // Set when the bytes were copied out of the file (Create with inHugePages): keeps the copy alive for slices too.
    private readonly HugePageMemory? _owner;

    private WeightMatrix(string name, GgmlType type, byte* data, int rows, int columns, HugePageMemory? owner = null, bool interleaved = false)
    {
        _owner = owner;
        IsInterleaved = interleaved;
        Name = name;
        Type = type;
        _data = data;
        Rows = rows;
        Columns = columns;
        RowBytes = GgmlTypeInfo.RowBytes(type, columns);
        Activation = ActivationQuantizer.KindFor(type);
    }

    public string Name { get; }
    public GgmlType Type { get; }
    /// <summary>Output features (the product of every dimension after ne0).</summary>
    public int Rows { get; }
    /// <summary>Input features (ne0).</summary>
    public int Columns { get; }
    /// <summary>Bytes of one row in the file format.</summary>
    public long RowBytes { get; }

    internal ActivationKind Activation { get; }

    /// <summary>
    /// True when the bytes are Q4_0 or Q8_0 with sixteen rows interleaved (<see cref="Interleave"/>): matrix products,
    /// <see cref="DequantizeRow"/> and 16-aligned <see cref="SliceRows"/> work; the sparse row kernels refuse it.
    /// </summary>
    public bool IsInterleaved { get; }

    /// <summary>
    /// True when prompt-sized batches (<see cref="InterleavedBatchRows"/> rows or more) through this plain Q4_0 matrix
    /// interleave each 16-row group on the fly into a per-thread buffer and take the interleaved kernel, where the
    /// plain batch kernel runs at about half its speed. For matrices that must stay plain because single rows are
    /// gathered from them (Gemma 3n's activation-sparse up projections). Such a batch's results can differ from
    /// <see cref="MatVec"/>'s in the last bits (another summation order). See <see cref="WithInterleavedBatches"/>.
    /// </summary>
    public bool InterleavesBatches { get; private init; }

    /// <summary>Activation rows from which <see cref="InterleavesBatches"/> applies: the repack of a group is then paid for many times over.</summary>
    public const int InterleavedBatchRows = 16;

    /// <summary>This matrix (same bytes) with <see cref="InterleavesBatches"/> set, when it is plain Q4_0 that can be interleaved; otherwise itself.</summary>
    public WeightMatrix WithInterleavedBatches() => Type == GgmlType.Q4_0 && CanInterleave && !IsInterleaved
        ? new WeightMatrix(Name, Type, _data, Rows, Columns, _owner) { InterleavesBatches = true }
        : this;

    /// <summary>True when <see cref="Interleave"/> would repack this matrix (Q4_0 or Q8_0 with a multiple of sixteen rows).</summary>
    public bool CanInterleave => Type is GgmlType.Q4_0 or GgmlType.Q8_0 && Q4_0x16.Fits(Rows);

    /// <summary>True when this format has a matrix kernel (F32, F16, BF16, Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K).</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Wraps a tensor without copying: <c>Columns = ne0</c>, <c>Rows</c> = product of the other dimensions.</summary>
    public static WeightMatrix Create(TensorView view) => Create(view, inHugePages: false);

    /// <summary>
    /// Like <see cref="Create(TensorView)"/>; with <paramref name="inHugePages"/> the bytes are copied once into
    /// 2 MiB-aligned native memory backed by transparent huge pages (same ggml layout), which the kernels stream
    /// faster than mapped-file pages. Costs the tensor's size in RAM; the view is not needed afterwards.
    /// </summary>
    public static WeightMatrix Create(TensorView view, bool inHugePages)
    {
        if (!IsSupported(view.Type))
        {
            throw new NotSupportedException($"Tensor '{view.Name}' has type {view.Type}; matrix kernels exist for F32, F16, BF16, Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K and Q6_K.");
        }
        long columns = view.Columns, rows = view.Rows;
        if (columns > int.MaxValue || rows > int.MaxValue || columns <= 0)
        {
            throw new ArgumentException($"Tensor '{view.Name}': shape [{string.Join(", ", view.Shape)}] does not fit a matrix of int rows and columns.", nameof(view));
        }
        int blockSize = GgmlTypeInfo.BlockSize(view.Type);
        if (columns % blockSize != 0)
        {
            throw new ArgumentException($"Tensor '{view.Name}': row length {columns} is not a multiple of the {view.Type} block size {blockSize}.", nameof(view));
        }
        long expected = GgmlTypeInfo.RowBytes(view.Type, columns) * rows;
        if (view.ByteLength < expected)
        {
            throw new ArgumentException($"Tensor '{view.Name}': {rows} rows of {columns} {view.Type} values need {expected} bytes; the view has {view.ByteLength}.", nameof(view));
        }
        if (!inHugePages)
        {
            return new WeightMatrix(view.Name, view.Type, view.Data, (int)rows, (int)columns);
        }
        var memory = new HugePageMemory(expected);
        Buffer.MemoryCopy(view.Data, memory.Pointer, expected, expected);
        return new WeightMatrix(view.Name, view.Type, memory.Pointer, (int)rows, (int)columns, memory);
    }

    /// <summary>
    /// A matrix read from <paramref name="path"/> at <paramref name="offset"/> with positioned reads into huge-page
    /// memory (ggml layout): unlike copying from a mapping, the bytes do not stay behind in this process's mapped
    /// pages as well. With <paramref name="dropFromPageCache"/> the range also leaves the page cache afterwards (a
    /// big table read once), at the cost of a disk read on the next load.
    /// </summary>
    /// <param name="arena">Where to place the bytes; null = a huge-page allocation of this matrix's own.</param>
    /// <param name="interleave">Repack Q4_0 or Q8_0 rows sixteen at a time (see <see cref="Interleave"/>) once read; ignored for other formats.</param>
    public static WeightMatrix ReadFromFile(string name, GgmlType type, int rows, int columns, string path, long offset,
        bool dropFromPageCache = false, WeightArena? arena = null, bool interleave = false)
    {
        if (!IsSupported(type)) throw new NotSupportedException($"Tensor '{name}' has type {type}, which has no matrix kernel.");
        long bytes = GgmlTypeInfo.RowBytes(type, columns) * rows;
        HugePageMemory memory;
        byte* data = arena is null ? (memory = new HugePageMemory(bytes)).Pointer : arena.Allocate(bytes, out memory);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        for (long done = 0; done < bytes;)
        {
            int chunk = (int)Math.Min(bytes - done, 1 << 30);
            int read = RandomAccess.Read(file, new Span<byte>(data + done, chunk), offset + done);
            if (read <= 0)
            {
                throw new EndOfStreamException($"'{path}': tensor '{name}' needs {bytes} bytes at offset {offset}; the file ends after {done}.");
            }
            done += read;
        }
        if (dropFromPageCache) FileAdvice.DontNeed(file, offset, bytes);
        var matrix = new WeightMatrix(name, type, data, rows, columns, memory);
        return interleave ? matrix.InterleaveInPlace() : matrix;
    }

    /// <summary>This matrix copied into huge-page memory (a resident copy of a mapped or borrowed tensor).</summary>
    /// <param name="arena">Where to place the bytes; null = a huge-page allocation of this matrix's own.</param>
    /// <param name="interleave">Repack Q4_0 or Q8_0 rows sixteen at a time (see <see cref="Interleave"/>); ignored for other formats.</param>
    public WeightMatrix CopyToMemory(WeightArena? arena = null, bool interleave = false)
    {
        long bytes = RowBytes * Rows;
        HugePageMemory memory;
        byte* data = arena is null ? (memory = new HugePageMemory(bytes)).Pointer : arena.Allocate(bytes, out memory);
        Buffer.MemoryCopy(_data, data, bytes, bytes);
        var copy = new WeightMatrix(Name, Type, data, Rows, Columns, memory, IsInterleaved);
        return interleave ? copy.InterleaveInPlace() : copy;
    }

    /// <summary>
    /// A copy of this matrix in memory with Q4_0 or Q8_0 rows interleaved sixteen at a time (<see cref="Q4_0x16"/>,
    /// <see cref="Q8_0x16"/>; ggml's <c>q4_0x8</c> idea, wider): the
    /// decode matvec then needs no horizontal reductions and a prompt batch unpacks each weight block once for every
    /// four activation rows. Same size as the ggml bytes. Only for matrices read in full every token: a table read a
    /// row at a time (token or per-layer embeddings, routed experts) would touch sixteen rows' cache lines per row.
    /// Returns this matrix when it cannot be interleaved (<see cref="CanInterleave"/> is false) or already is.
    /// </summary>
    public WeightMatrix Interleave(WeightArena? arena = null) => !CanInterleave || IsInterleaved ? this : CopyToMemory(arena, interleave: true);

    /// <summary>Repacks bytes this matrix owns; the caller has just made them.</summary>
    private WeightMatrix InterleaveInPlace()
    {
        if (!CanInterleave || IsInterleaved) return this;
        InterleaveRows(Type, _data, Rows, Columns / 32);
        return new WeightMatrix(Name, Type, _data, Rows, Columns, _owner, interleaved: true);
    }

    /// <summary>A view of Q4_0 or Q8_0 bytes already interleaved sixteen rows at a time (<see cref="RepackCache"/>'s mapping).</summary>
    internal static WeightMatrix FromInterleaved(string name, GgmlType type, byte* data, int rows, int columns)
        => new(name, type, data, rows, columns, interleaved: true);

    /// <summary>First byte of row <paramref name="row"/> in the ggml layout (not for interleaved matrices).</summary>
    internal byte* RowPointer(int row)
    {
        if (IsInterleaved) throw new InvalidOperationException($"'{Name}' is interleaved: its rows are not contiguous.");
        return _data + row * RowBytes;
    }

    /// <summary>True when the matrix owns its bytes (a huge-page copy, or built by <see cref="FromRows"/>) rather than viewing the file.</summary>
    public bool OwnsMemory => _owner is not null || _owned is not null;

    /// <summary>Rows [firstRow, firstRow + rowCount) as their own matrix, sharing the bytes (one MoE expert, a gate or up half).</summary>
    public WeightMatrix SliceRows(long firstRow, int rowCount)
    {
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > Rows)
        {
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"Rows [{firstRow}, {firstRow + rowCount}) are outside '{Name}' which has {Rows} rows.");
        }
        if (IsInterleaved && (firstRow % Q4_0x16.GroupRows != 0 || rowCount % Q4_0x16.GroupRows != 0))
        {
            throw new NotSupportedException($"'{Name}' is interleaved in groups of {Q4_0x16.GroupRows} rows; rows [{firstRow}, {firstRow + rowCount}) do not start and end on a group boundary.");
        }
        return new WeightMatrix(Name, Type, _data + firstRow * RowBytes, rowCount, Columns, _owner, IsInterleaved);
    }

    /// <summary>y[Rows] = W · x[Columns].</summary>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, WorkerPool pool) => MatMulCore(x, 1, y, pool, fast: true);

    /// <summary>x is [n, Columns] row-major; y is [n, Rows]. Activations are quantized once, each weight tile is reused for all n rows.</summary>
    public void MatMul(ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool) => MatMulCore(x, n, y, pool, fast: true);

    /// <summary>
    /// <see cref="MatMul"/> followed by <c>y = cap · tanh(y / cap)</c>, Gemma's final logit softcap. Where the product
    /// runs over interleaved groups each work item caps the outputs it has just written, while they sit in L1, so a
    /// vocabulary of tanh's rides on the output head's memory stream instead of taking a pass of its own. The same
    /// floats as <see cref="MatMul"/> then <see cref="Ops.Softcap(Span{float}, float, WorkerPool)"/>.
    /// </summary>
    public void MatMulSoftcapped(ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool, float cap)
    {
        if (!(cap > 0)) throw new ArgumentOutOfRangeException(nameof(cap), cap, "Softcap needs a positive cap.");
        MatMulCore(x, n, y, pool, fast: true, cap);
    }

    /// <summary>The dequantized values of one row.</summary>
    public void DequantizeRow(int row, Span<float> dst)
    {
        if ((uint)row >= (uint)Rows)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"'{Name}' has {Rows} rows.");
        }
        if (dst.Length < Columns)
        {
            throw new ArgumentException($"Row of '{Name}' has {Columns} values; the destination holds {dst.Length}.", nameof(dst));
        }
        fixed (float* d = dst)
        {
            if (IsInterleaved)
            {
                Span<byte> plain = RowBytes <= 16384 ? stackalloc byte[(int)RowBytes] : new byte[RowBytes];
                fixed (byte* p = plain)
                {
                    ExtractInterleavedRow(Type, _data, Columns / 32, row, p);
                    Dequantizer.DequantizeRow(Type, p, d, Columns);
                }
                return;
            }
            Dequantizer.DequantizeRow(Type, _data + row * RowBytes, d, Columns);
        }
    }

    /// <summary>Embedding lookup: the same as <see cref="DequantizeRow"/>.</summary>
    public void GatherRow(int row, Span<float> dst) => DequantizeRow(row, dst);

    /// <summary>The kernel entry with the path chosen explicitly, so tests can run the scalar twin beside the fast one.</summary>
    /// <param name="softcap">Above 0: <see cref="MatMulSoftcapped"/>'s cap, applied by the interleaved work items or, on plain rows, by a pass after the product.</param>
    internal void MatMulCore(ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool, bool fast, float softcap = 0)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "MatMul needs at least one activation row.");
        if (x.Length < (long)n * Columns)
        {
            throw new ArgumentException($"'{Name}' has {Columns} columns: {n} activation rows need {(long)n * Columns} values; x has {x.Length}.", nameof(x));
        }
        if (y.Length < (long)n * Rows)
        {
            throw new ArgumentException($"'{Name}' has {Rows} rows: {n} outputs need {(long)n * Rows} values; y has {y.Length}.", nameof(y));
        }
        if (Rows == 0) return;

        int actBytes = ActivationQuantizer.BytesPerRow(Activation, Columns);
        if (IsInterleaved || (InterleavesBatches && n >= InterleavedBatchRows && fast && RowDot.HasFastPath))
        {
            MatMulInterleaved(x, n, y, pool, fast, actBytes, softcap);
            return;
        }
        byte* scratch = Scratch.Get((long)actBytes * n);
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            QuantizeRows(xp, n, scratch, actBytes, null, pool);
            var job = new MatMulJob
            {
                Weights = _data,
                RowBytes = RowBytes,
                Type = Type,
                Kind = Activation,
                Rows = Rows,
                Columns = Columns,
                X = xp,
                Scratch = scratch,
                ScratchStride = actBytes,
                N = n,
                Y = yp,
                RowsPerItem = RowsPerItem(Rows, n, pool.ThreadCount, RowBytes),
                Fast = fast,
            };
            pool.Run(ref job, (Rows + job.RowsPerItem - 1) / job.RowsPerItem);
        }
        if (softcap > 0) Ops.Softcap(y[..(n * Rows)], softcap, pool);
    }

    /// <summary>
    /// Quantizes activation rows x[0..n) into <paramref name="scratch"/> (<paramref name="stride"/> bytes a row), and
    /// fills their descriptors when <paramref name="descriptors"/> is given. A prompt chunk's rows are split over the
    /// pool: on the caller alone they kept the other threads waiting (about 3% of a Gemma 3n prompt).
    /// </summary>
    private void QuantizeRows(float* x, int n, byte* scratch, int stride, ActivationRow* descriptors, WorkerPool pool)
    {
        var job = new QuantizeJob { Kind = Activation, Columns = Columns, X = x, Scratch = scratch, Stride = stride, Descriptors = descriptors };
        // Quantizing costs a few float operations per value.
        pool.RunRanges(ref job, n, 4L * Columns);
    }

    private readonly struct QuantizeJob : IRangeJob
    {
        public ActivationKind Kind { get; init; }
        public int Columns { get; init; }
        public float* X { get; init; }
        public byte* Scratch { get; init; }
        public int Stride { get; init; }
        public ActivationRow* Descriptors { get; init; }

        public void Execute(int start, int end)
        {
            for (int j = start; j < end; j++)
            {
                ActivationRow row = ActivationQuantizer.Layout(Kind, X + (long)j * Columns, Scratch + (long)j * Stride, Columns);
                ActivationQuantizer.Quantize(Kind, row, Columns);
                if (Descriptors != null) Descriptors[j] = row;
            }
        }
    }

    /// <summary>
    /// Enough items (about 16 per thread) that a slow core hands work to a fast one; for batches, tiles small
    /// enough that a tile of weight rows stays in cache while every activation row passes over it. Prompt batches
    /// (many rows) take 32-row tiles; a decode batch of a few sequences takes tiles of up to 256 KiB (half an L2
    /// here): 32-row tiles cut the 262144-row output head into 8192 items, whose hand-offs cost more than a
    /// B = 2 step saves.
    /// </summary>
    private static int RowsPerItem(int rows, int n, int threads, long rowBytes)
    {
        int perItem = Math.Max(4, rows / (threads * 16));
        if (n >= DecodeBatchRows) return Math.Min(perItem, 32);
        if (n > 1) perItem = Math.Min(perItem, (int)Math.Max(32, DecodeTileBytes / Math.Max(1, rowBytes)));
        return perItem;
    }

    private const int DecodeBatchRows = 16;
    private const long DecodeTileBytes = 256 << 10;

    private struct MatMulJob : IParallelJob
    {
        public byte* Weights;
        public long RowBytes;
        public GgmlType Type;
        public ActivationKind Kind;
        public int Rows;
        public int Columns;
        public float* X;
        public byte* Scratch;
        public int ScratchStride;
        public int N;
        public float* Y;
        public int RowsPerItem;
        public bool Fast;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Execute(int item)
        {
            int first = item * RowsPerItem;
            int end = Math.Min(Rows, first + RowsPerItem);
            int j = 0;
            if (Fast && N >= 4 && RowDot.HasBatch4(Type))
            {
                // Four activation rows per pass over the tile, each weight row unpacked once for all four.
                ActivationRow* acts = stackalloc ActivationRow[4];
                for (; j + 4 <= N; j += 4)
                {
                    for (int k = 0; k < 4; k++)
                    {
                        acts[k] = ActivationQuantizer.Layout(Kind, X + (long)(j + k) * Columns, Scratch + (long)(j + k) * ScratchStride, Columns);
                    }
                    float* y4 = Y + (long)j * Rows;
                    byte* w4 = Weights + first * RowBytes;
                    for (int r = first; r < end; r++, w4 += RowBytes) RowDot.FastBatch4(Type, w4, acts, Columns, y4 + r, Rows);
                }
            }
            for (; j < N; j++)
            {
                ActivationRow act = ActivationQuantizer.Layout(Kind, X + (long)j * Columns, Scratch + (long)j * ScratchStride, Columns);
                float* y = Y + (long)j * Rows;
                byte* w = Weights + first * RowBytes;
                if (Fast)
                {
                    RowDot.FastRows(Type, w, RowBytes, act, Columns, y + first, end - first);
                    continue;
                }
                for (int r = first; r < end; r++, w += RowBytes) y[r] = RowDot.Scalar(Type, w, act, Columns);
            }
        }
    }

    /// <summary>Per-thread activation scratch: grows to the largest request and is reused, so steady-state calls allocate nothing.</summary>
    private static class Scratch
    {
        [ThreadStatic] private static byte[]? t_buffer;

        public static byte* Get(long bytes)
        {
            if (bytes > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Activation scratch above 2 GiB; split the batch.");
            byte[]? buffer = t_buffer;
            if (buffer is null || buffer.Length < bytes)
            {
                buffer = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, 4096), pinned: true);
                t_buffer = buffer;
            }
            return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        }
    }
}
