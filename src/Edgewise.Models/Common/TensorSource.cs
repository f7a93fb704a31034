using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Common;

/// <summary>
/// Tensors of one model, looked up by their GGUF name whatever the file format, so one model class reads
/// GGUF files and safetensors checkpoints alike. Views stay valid while the source is alive.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>The file or directory the tensors come from (for error messages).</summary>
    string Path { get; }

    bool TryGetTensor(string ggufName, out TensorView view);

    /// <summary>
    /// Where a tensor's bytes lie in a file, for positioned reads (<c>--ple stream</c>); false when the source has no
    /// such file range.
    /// </summary>
    bool TryGetFileRange(string ggufName, out string file, out long offset)
    {
        file = "";
        offset = 0;
        return false;
    }
}

/// <summary>Typed, checked access to an <see cref="ITensorSource"/>: matrices as <see cref="WeightMatrix"/>, small vectors as floats.</summary>
public sealed class WeightReader
{
    private readonly ITensorSource _source;
    private readonly WeightArena _arena = new();

    /// <param name="placement">Where <see cref="Matrix"/> puts matrices; <see cref="MappedMatrix"/> always maps.</param>
    public WeightReader(ITensorSource source, WeightPlacement placement = WeightPlacement.Mapped)
    {
        _source = source;
        Placement = placement;
    }

    public WeightPlacement Placement { get; }

    /// <summary>
    /// With <see cref="WeightPlacement.HugePages"/>, Q4_0 and Q8_0 matrices are repacked sixteen rows at a time as they
    /// are read (<see cref="WeightMatrix.Interleave"/>): a faster decode matvec and prompt batch at no extra memory. Mapped, they
    /// come interleaved from the GGUF source's repack cache when it has one (<see cref="ModelLoadOptions.RepackCacheDirectory"/>). Only for
    /// matrices that never meet the row-sparse kernels (<see cref="WeightMatrix.MatVecRows"/>): load those with
    /// <see cref="RowSparseMatrix"/>.
    /// </summary>
    public bool InterleaveRows { get; init; }

    public string Path => _source.Path;

    public bool Has(string name) => _source.TryGetTensor(name, out _);

    /// <summary>The file and byte offset of tensor <paramref name="name"/>, when the source stores it in one file.</summary>
    public bool TryGetFileRange(string name, out string file, out long offset) => _source.TryGetFileRange(name, out file, out offset);

    /// <summary>Rows (ne1 and beyond) of a present tensor, for hyperparameters only a shape states.</summary>
    public int Rows(string name) => _source.TryGetTensor(name, out TensorView view)
        ? checked((int)view.Rows)
        : throw Missing(name, "a tensor");

    /// <summary>
    /// A required matrix of <paramref name="rows"/> × <paramref name="columns"/> (ggml ne1 × ne0) that every token
    /// reads in full (projections, the output head), placed as <see cref="Placement"/> says.
    /// </summary>
    public WeightMatrix Matrix(string name, long rows, long columns) =>
        OptionalMatrix(name, rows, columns) ?? throw Missing(name, $"a [{columns}, {rows}] tensor");

    public WeightMatrix? OptionalMatrix(string name, long rows, long columns) => Load(name, rows, columns, Placement, InterleaveRows);

    /// <summary>
    /// A required matrix that a decode step reads whole or only some rows of (the row-sparse kernels,
    /// <see cref="WeightMatrix.MatVecRows"/>): placed as <see cref="Placement"/> says, but never interleaved, since those
    /// kernels read ggml rows.
    /// </summary>
    public WeightMatrix RowSparseMatrix(string name, long rows, long columns) =>
        Load(name, rows, columns, Placement, interleave: false) ?? throw Missing(name, $"a [{columns}, {rows}] tensor");

    /// <summary>
    /// A required matrix that tokens read a few rows of (embedding tables, routed experts): it stays a view of the
    /// mapped file whatever <see cref="Placement"/> says, so only the rows used are ever paged in.
    /// </summary>
    public WeightMatrix MappedMatrix(string name, long rows, long columns) =>
        Load(name, rows, columns, WeightPlacement.Mapped, interleave: false) ?? throw Missing(name, $"a [{columns}, {rows}] tensor");

    public WeightMatrix? OptionalMappedMatrix(string name, long rows, long columns) => Load(name, rows, columns, WeightPlacement.Mapped, interleave: false);

    private WeightMatrix? Load(string name, long rows, long columns, WeightPlacement placement, bool interleave)
    {
        if (!_source.TryGetTensor(name, out TensorView view)) return null;
        if (view.Columns != columns || view.Rows != rows)
        {
            throw ModelErrors.Field(Path, name, $"ne [{columns}, {rows}]", $"ne [{string.Join(", ", view.Shape)}]");
        }
        WeightMatrix mapped = WeightMatrix.Create(view);   // checks type and block alignment
        if (placement == WeightPlacement.Mapped)
        {
            if (_source is not GgufTensorSource gguf) return mapped;
            if (interleave && mapped.CanInterleave)
            {
                if (gguf.TryGetInterleaved(name, mapped.Rows, mapped.Columns, out WeightMatrix cached)) return cached;
                gguf.NoteNotInterleaved(mapped);
            }
            gguf.NoteReadAtRuntime(name);
            return mapped;
        }
        // Positioned reads, not a copy out of the mapping: the mapped pages are never touched, so the weights are
        // counted once in the resident set, not twice.
        return _source.TryGetFileRange(name, out string file, out long offset)
            ? WeightMatrix.ReadFromFile(name, view.Type, mapped.Rows, mapped.Columns, file, offset, arena: _arena, interleave: interleave)
            : mapped.CopyToMemory(_arena, interleave: interleave);
    }

    /// <summary>
    /// A matrix the model computes from file tensors (<see cref="DerivedMatrix"/>): the repack cache's copy when the
    /// source is a mapped GGUF file whose cache holds it, else null, and the model computes it itself. With a cache
    /// directory the cache's next build runs <see cref="DerivedMatrix.Produce"/> (on its own thread, after the load,
    /// while the model's views of the file stay valid) so later loads map it.
    /// </summary>
    public WeightMatrix? CachedDerived(DerivedMatrix derived) =>
        _source is GgufTensorSource gguf && gguf.TryGetDerived(derived, out WeightMatrix cached) ? cached : null;

    /// <summary>A required vector of exactly <paramref name="length"/> values, dequantized to floats.</summary>
    public float[] Vector(string name, int length) =>
        OptionalVector(name, length) ?? throw Missing(name, $"a [{length}] tensor");

    public float[]? OptionalVector(string name, int length)
    {
        if (!_source.TryGetTensor(name, out TensorView view)) return null;
        if (view.ElementCount != length)
        {
            throw ModelErrors.Field(Path, name, $"{length} values", $"ne [{string.Join(", ", view.Shape)}]");
        }
        var values = new float[length];
        WeightMatrix m = WeightMatrix.Create(view);
        int columns = (int)m.Columns;
        for (int r = 0; r < m.Rows; r++)
        {
            m.DequantizeRow(r, values.AsSpan(r * columns, columns));
        }
        return values;
    }

    private Edgewise.Core.Formats.ModelFormatException Missing(string name, string expected) => ModelErrors.Field(Path, name, expected, "no such tensor");
}
