using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Conversion;

/// <summary>Fills <paramref name="destination"/> with row <paramref name="row"/> of a tensor as floats.</summary>
public delegate void RowSource(long row, Span<float> destination);

/// <summary>Progress of a conversion or quantization, reported once per tensor written.</summary>
/// <param name="Index">Tensors finished so far (1-based after the first one).</param>
public sealed record TensorProgress(int Index, int Count, string Name, GgmlType Type, long BytesDone, long BytesTotal);

/// <summary>
/// Streams one tensor into a GGUF data section: a slab of rows at a time is read as floats, encoded to the target
/// type (rows in parallel) and written, so memory stays at one slab whatever the tensor size.
/// </summary>
internal static unsafe class TensorEncoder
{
    private const long SlabValues = 1 << 22;

    public static void Write(Stream stream, RowSource source, long rows, long columns, GgmlType type, int threads)
    {
        if (!Quantizer.CanQuantize(type))
        {
            throw new NotSupportedException($"Edgewise cannot encode {type}; choose another type for this tensor.");
        }
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        int slabRows = (int)Math.Clamp(SlabValues / columns, 1, rows);
        var slab = new byte[slabRows * rowBytes];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        for (long row0 = 0; row0 < rows; row0 += slabRows)
        {
            int n = (int)Math.Min(slabRows, rows - row0);
            long first = row0;
            Parallel.For(0, n, parallel, () => new float[columns], (r, _, values) =>
            {
                source(first + r, values);
                Quantizer.Quantize(type, values, slab.AsSpan((int)(r * rowBytes), (int)rowBytes));
                return values;
            }, _ => { });
            stream.Write(slab, 0, (int)(n * rowBytes));
        }
    }

    /// <summary>Copies a tensor's bytes unchanged (its type is kept).</summary>
    public static void Copy(TensorView view, Stream stream)
    {
        const int chunk = 1 << 20;
        for (long offset = 0; offset < view.ByteLength; offset += chunk)
        {
            int n = (int)Math.Min(chunk, view.ByteLength - offset);
            stream.Write(new ReadOnlySpan<byte>(view.Data + offset, n));
        }
    }

    /// <summary>Rows of a view (any type the dequantizer reads) as floats.</summary>
    public static RowSource Rows(TensorView view)
    {
        if (!Dequantizer.CanDequantize(view.Type))
        {
            throw new NotSupportedException($"Tensor '{view.Name}' is stored as {view.Type}, which Edgewise cannot read back as floats.");
        }
        long columns = view.Columns;
        long rowBytes = GgmlTypeInfo.RowBytes(view.Type, columns);
        byte* data = view.Data;
        GgmlType type = view.Type;
        return (row, destination) =>
        {
            fixed (float* d = destination)
            {
                Dequantizer.DequantizeRow(type, data + row * rowBytes, d, (int)columns);
            }
        };
    }
}
