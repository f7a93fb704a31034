using Edgewise.Core.Tensors;

namespace Edgewise.Core.Formats.Gguf;

/// <summary>One entry of a GGUF's tensor table.</summary>
/// <param name="Name">Tensor name as stored (e.g. <c>blk.0.attn_q.weight</c>).</param>
/// <param name="Type">Element type.</param>
/// <param name="Shape">ggml order: <c>Shape[0]</c> is the row length (ne0).</param>
/// <param name="Offset">Byte offset of the data, relative to <see cref="GgufFile.DataOffset"/>.</param>
/// <param name="ByteSize">Bytes of data (whole rows of whole blocks).</param>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Shape, long Offset, long ByteSize)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }
}

/// <summary>One metadata key/value pair, in file order.</summary>
public sealed record GgufMetadataEntry(string Key, GgufValue Value);
