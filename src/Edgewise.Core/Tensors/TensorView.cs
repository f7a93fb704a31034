namespace Edgewise.Core.Tensors;

/// <summary>
/// A zero-copy view of one tensor's bytes inside a mapped file (or any pinned memory that outlives it).
/// Shape is in ggml order: <c>Shape[0]</c> is the contiguous row length (ne0), <c>Shape[1]</c> the row count (ne1), ...
/// </summary>
public readonly unsafe struct TensorView
{
    public TensorView(string name, GgmlType type, long[] shape, byte* data, long byteLength)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Data = data;
        ByteLength = byteLength;
    }

    public string Name { get; }
    public GgmlType Type { get; }
    /// <summary>ggml order: [ne0 (row length), ne1 (rows), ne2, ne3].</summary>
    public long[] Shape { get; }
    public byte* Data { get; }
    public long ByteLength { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Row length (ne0).</summary>
    public long Columns => Shape.Length > 0 ? Shape[0] : 1;

    /// <summary>Number of rows: the product of every dimension after the first.</summary>
    public long Rows => Shape.Length > 0 ? ElementCount / Shape[0] : 1;

    public ReadOnlySpan<byte> Bytes => ByteLength <= int.MaxValue
        ? new ReadOnlySpan<byte>(Data, (int)ByteLength)
        : throw new InvalidOperationException($"Tensor '{Name}' is {ByteLength} bytes; take a row or slice instead of the whole span.");
}
