using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Bench;

/// <summary>
/// A weight matrix of a given format and shape in huge-page memory: 16 quantized random rows tiled over all rows;
/// with <c>interleaved</c>, Q4_0 or Q8_0 rows are repacked sixteen at a time (<see cref="WeightMatrix.Interleave"/>).
/// </summary>
internal sealed unsafe class BenchWeights : IDisposable
{
    private readonly NativeBuffer _buffer;

    public BenchWeights(GgmlType type, int rows, int columns, bool interleaved = false)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        _buffer = new NativeBuffer(rowBytes * rows);
        var rng = new Random(42);
        var values = new float[columns];
        var row = new byte[rowBytes];
        const int distinct = 16;
        for (int r = 0; r < distinct; r++)
        {
            for (int c = 0; c < columns; c++) values[c] = (float)(rng.NextDouble() * 2 - 1);
            Quantizer.Quantize(type, values, row);
            for (long target = r; target < rows; target += distinct)
            {
                row.CopyTo(new Span<byte>(_buffer.Pointer + target * rowBytes, (int)rowBytes));
            }
        }
        Matrix = WeightMatrix.Create(new TensorView($"bench.{type}.{rows}x{columns}", type, [columns, rows], _buffer.Pointer, rowBytes * rows));
        if (interleaved) Matrix = Matrix.Interleave();
        Bytes = rowBytes * rows;
    }

    public WeightMatrix Matrix { get; }
    public long Bytes { get; }

    public void Dispose() => _buffer.Dispose();
}
