using Edgewise.Core.Tensors;

namespace Edgewise.Core.Kernels;

/// <summary>Writes a whole matrix, in ggml layout, into <paramref name="destination"/> (exactly its size).</summary>
public delegate void MatrixProducer(Span<byte> destination);

/// <summary>
/// A matrix a model computes from its file's tensors (a transpose, a requantization) rather than reads from the file:
/// <paramref name="Rows"/> ggml rows of <paramref name="Columns"/> <paramref name="Type"/> values, which
/// <paramref name="Produce"/> computes. The repack cache stores it under <paramref name="Name"/> so later loads map it
/// instead of computing it again (<see cref="RepackCache.TryGetDerived"/>).
/// </summary>
public sealed record DerivedMatrix(string Name, GgmlType Type, int Rows, int Columns, MatrixProducer Produce)
{
    /// <summary>Bytes of the whole matrix; the row length must be a whole number of <see cref="Type"/> blocks.</summary>
    public long Bytes => GgmlTypeInfo.RowBytes(Type, Columns) * Rows;
}
