using System.Diagnostics;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Formats;

public sealed class GgufLayoutTests
{
    /// <summary>
    /// The writer's bytes equal a file assembled field by field from the GGUF spec, so reader and writer cannot
    /// agree on a private misreading of the format.
    /// </summary>
    [Fact]
    public void WriterOutput_MatchesTheSpecLayoutByteForByte()
    {
        using var dir = new TempDirectory();
        string path = dir.File("spec.gguf");
        byte[] data = [.. Enumerable.Range(0, 8 * 4).Select(i => (byte)i)];
        using (var writer = new GgufWriter(path))
        {
            writer.AddString("general.architecture", "gemma4");
            writer.AddUInt32("gemma4.block_count", 2);
            writer.AddStringArray("tokenizer.ggml.tokens", ["a", "bc"]);
            writer.AddTensor("w", GgmlType.F32, [4, 2], data);
            writer.AddTensor("v", GgmlType.F32, [1], new byte[4]);
            writer.Write();
        }

        byte[] expected = new RawGguf(version: 3, tensorCount: 2, kvCount: 3)
            .KvString("general.architecture", "gemma4")
            .KvU32("gemma4.block_count", 2)
            .Kv("tokenizer.ggml.tokens", GgufValueType.Array).ArrayHeader(GgufValueType.String, 2).String("a").String("bc")
            .Tensor("w", GgmlType.F32, 0, 4, 2)
            .Tensor("v", GgmlType.F32, 32, 1)
            .Data(0).Bytes(data).Bytes(new byte[4]).Data(0)
            .ToArray();
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    /// <summary>
    /// A 6 GiB file whose big tensors are sparse holes: opening reads only the header, and a tensor beyond the
    /// 4 GiB mark is viewed at the right place (no 32-bit offset truncation anywhere).
    /// </summary>
    [Fact]
    public unsafe void MultiGigabyteSparseFile_OpensFromTheHeaderAndViewsPast4GiB()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.gguf");
        byte[] tail = [.. Enumerable.Range(0, 256).Select(i => (byte)(255 - i))];
        using (var writer = new GgufWriter(path, alignment: 64))
        {
            for (int i = 0; i < 3; i++) writer.AddTensor($"blk.{i}.ffn_up.weight", GgmlType.F16, [8192, 131072], writeData: null);
            writer.AddTensor("output_norm.weight", GgmlType.F32, [64], tail);
            writer.Write();
        }
        Assert.True(new FileInfo(path).Length > 6L << 30);

        var stopwatch = Stopwatch.StartNew();
        using GgufFile file = GgufFile.Open(path);
        stopwatch.Stop();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"open took {stopwatch.Elapsed}");

        GgufTensorInfo last = file.GetTensorInfo("output_norm.weight");
        Assert.Equal(3L * (2L << 30), last.Offset);
        TensorView view = file.GetTensor("output_norm.weight");
        Assert.Equal(tail, view.Bytes.ToArray());
        TensorView hole = file.GetTensor("blk.2.ffn_up.weight");
        Assert.Equal(2L << 30, hole.ByteLength);
        Assert.Equal(0, hole.Data[hole.ByteLength - 1]);   // holes read back as zeros
        Assert.Throws<InvalidOperationException>(() => hole.Bytes.Length);
    }
}
