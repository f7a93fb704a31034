using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Formats;

/// <summary>Each malformed file fails with a <see cref="GgufFormatException"/> that says what is wrong and where.</summary>
public sealed class GgufMalformedInputTests
{
    private static GgufFormatException Rejects(byte[] bytes, string expectedFragment, long expectedOffset = long.MinValue)
    {
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.FromBytes(bytes, "bad.gguf").Dispose());
        Assert.Contains(expectedFragment, e.Message);
        Assert.StartsWith("bad.gguf", e.Message);
        if (expectedOffset != long.MinValue) Assert.Equal(expectedOffset, e.Offset);
        return e;
    }

    private static RawGguf OneTensor(GgmlType type, ulong offset, params ulong[] shape) =>
        new RawGguf(tensorCount: 1).Tensor("t", type, offset, shape);

    [Fact]
    public void EmptyFileOnDisk_NamesThePath()
    {
        using var dir = new TempDirectory();
        string path = dir.File("empty.gguf");
        File.WriteAllBytes(path, []);
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("file is 0 bytes", e.Message);
    }

    [Fact]
    public void MissingFile_IsFileNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open(dir.File("missing.gguf")));
    }

    [Fact]
    public void WrongMagic() => Rejects("GGML\x03\0\0\0"u8.ToArray().Concat(new byte[16]).ToArray(), "wrong magic", 0);

    [Fact]
    public void SafetensorsFileGivenAsGguf() => Rejects([0x10, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}'], "not a GGUF file");

    [Fact]
    public void Version1_IsRejectedClearly() => Rejects(new RawGguf(version: 1).ToArray(), "version 1 is not supported", 4);

    [Fact]
    public void UnknownVersion() => Rejects(new RawGguf(version: 7).ToArray(), "unsupported GGUF version 7; expected 2 or 3");

    [Fact]
    public void BigEndian() => Rejects(new RawGguf(version: 0x03000000).ToArray(), "big-endian");

    [Fact]
    public void Version2_IsAccepted()
    {
        using GgufFile file = GgufFile.FromBytes(new RawGguf(version: 2, kvCount: 1).KvU32("a", 5).ToArray());
        Assert.Equal(2u, file.Version);
        Assert.Equal(5u, file.GetUInt32("a"));
    }

    [Fact]
    public void EveryTruncation_IsTyped()
    {
        byte[] full = new RawGguf(tensorCount: 2, kvCount: 3)
            .KvString("general.architecture", "gemma4")
            .Kv("tokens", GgufValueType.Array).ArrayHeader(GgufValueType.String, 2).String("a").String("bc")
            .Kv("scores", GgufValueType.Array).ArrayHeader(GgufValueType.Float32, 2).U32(0).U32(0)
            .Tensor("w", GgmlType.F32, 0, 8, 2)
            .Tensor("q", GgmlType.Q8_0, 64, 32)
            .Data(64 + 34).ToArray();
        using (GgufFile ok = GgufFile.FromBytes(full)) Assert.Equal(2, ok.Tensors.Count);
        for (int length = 0; length < full.Length; length++)
        {
            Assert.Throws<GgufFormatException>(() => GgufFile.FromBytes(full[..length]).Dispose());
        }
    }

    [Fact]
    public void AbsurdMetadataCount_FailsFastWithoutAllocating()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(new RawGguf(kvCount: 1UL << 60).ToArray(), "metadata count 1152921504606846976 cannot fit", 16);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "rejecting a lying count must not allocate for it");
    }

    [Fact]
    public void AbsurdTensorCount() => Rejects(new RawGguf(tensorCount: 1UL << 60).ToArray(), "tensor count 1152921504606846976 cannot fit", 8);

    [Fact]
    public void AbsurdStringLength() =>
        Rejects(new RawGguf(kvCount: 1).U64(1UL << 62).Bytes(new byte[32]).ToArray(), "string length 4611686018427387904 runs past the end", 24);

    [Fact]
    public void AbsurdArrayLength()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(new RawGguf(kvCount: 1).Kv("a", GgufValueType.Array).ArrayHeader(GgufValueType.Array, 1UL << 60).ToArray(), "claims 1152921504606846976 Array elements");
        Rejects(new RawGguf(kvCount: 1).Kv("a", GgufValueType.Array).ArrayHeader(GgufValueType.String, ulong.MaxValue).ToArray(), "cannot fit");
        Rejects(new RawGguf(kvCount: 1).Kv("a", GgufValueType.Array).ArrayHeader(GgufValueType.UInt64, 1UL << 61).ToArray(), "cannot fit");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void UnknownValueType() => Rejects(new RawGguf(kvCount: 1).Kv("k", (GgufValueType)13).U32(0).ToArray(), "key 'k': unknown value type id 13", 33);

    [Fact]
    public void UnknownArrayElementType() =>
        Rejects(new RawGguf(kvCount: 1).Kv("k", GgufValueType.Array).ArrayHeader((GgufValueType)99, 0).ToArray(), "unknown element type id 99");

    [Fact]
    public void DeeplyNestedArrays_AreBounded()
    {
        var raw = new RawGguf(kvCount: 1).Kv("k", GgufValueType.Array);
        for (int i = 0; i < 100; i++) raw.ArrayHeader(GgufValueType.Array, 1);
        raw.ArrayHeader(GgufValueType.UInt8, 0);
        Rejects(raw.ToArray(), "nests arrays more than 8 deep");
    }

    [Fact]
    public void DuplicateKey() => Rejects(new RawGguf(kvCount: 2).KvU32("a", 1).KvU32("a", 2).ToArray(), "duplicate metadata key 'a'", 41);

    [Fact]
    public void DuplicateTensorName() =>
        Rejects(new RawGguf(tensorCount: 2).Tensor("w", GgmlType.F32, 0, 8).Tensor("w", GgmlType.F32, 32, 8).Data(64).ToArray(), "duplicate tensor name 'w'");

    [Theory]
    [InlineData(0u)]
    [InlineData(48u)]
    public void AlignmentNotAPowerOfTwo(uint alignment) =>
        Rejects(new RawGguf(kvCount: 1).KvU32("general.alignment", alignment).ToArray(), $"expected a power of two, found {alignment}");

    [Fact]
    public void AlignmentOfTheWrongType() =>
        Rejects(new RawGguf(kvCount: 1).KvString("general.alignment", "32").ToArray(), "'general.alignment': expected UInt32, found String");

    [Fact]
    public void TooManyDimensions() => Rejects(OneTensor(GgmlType.F32, 0, 1, 1, 1, 1, 1).Data(4).ToArray(), "tensor 't' has 5 dimensions; expected at most 4");

    [Fact]
    public void ZeroDimension() => Rejects(OneTensor(GgmlType.F32, 0, 4, 0).Data(16).ToArray(), "dimension 1 is 0; expected a positive size");

    [Fact]
    public void NegativeDimension() => Rejects(OneTensor(GgmlType.F32, 0, ulong.MaxValue).ToArray(), "dimension 0 is -1");

    [Fact]
    public void ElementCountOverflow() => Rejects(OneTensor(GgmlType.F32, 0, 1UL << 40, 1UL << 40).ToArray(), "element count overflows");

    [Fact]
    public void ByteSizeOverflow() => Rejects(OneTensor(GgmlType.F64, 0, 1UL << 31, 1UL << 31).ToArray(), "byte size overflows");

    [Fact]
    public void UnknownTensorType() => Rejects(OneTensor((GgmlType)99, 0, 32).ToArray(), "unknown ggml type id 99");

    [Fact]
    public void TensorTypeWithoutKnownLayout() => Rejects(OneTensor(GgmlType.IQ2_XXS, 0, 256).ToArray(), "type IQ2_XXS, whose block layout");

    [Fact]
    public void RowNotAWholeNumberOfBlocks() =>
        Rejects(OneTensor(GgmlType.Q8_0, 0, 33, 2).Data(200).ToArray(), "rows of 33 values; expected a multiple of the 32-value block");

    [Fact]
    public void MisalignedOffset() => Rejects(OneTensor(GgmlType.F32, 16, 4).Data(64).ToArray(), "offset 16 is not a multiple of the alignment 32");

    [Fact]
    public void HugeOffset() => Rejects(OneTensor(GgmlType.F32, 1UL << 63, 4).Data(64).ToArray(), "is not a multiple of the alignment");

    [Fact]
    public void DataPastEndOfFile() => Rejects(OneTensor(GgmlType.F32, 0, 8).Data(31).ToArray(), "tensor 't' data [0, 0 + 32) relative to the data region");

    [Fact]
    public void DataOffsetPastEndOfFile() => Rejects(OneTensor(GgmlType.F32, 1UL << 40, 8).Data(32).ToArray(), "runs past the end of the file");

    [Fact]
    public void OverlappingTensors() =>
        Rejects(new RawGguf(tensorCount: 2).Tensor("a", GgmlType.F32, 0, 16).Tensor("b", GgmlType.F32, 32, 8).Data(96).ToArray(), "tensor 'b' data at offset 32 overlaps tensor 'a' [0, 64)");

    [Fact]
    public void AdjacentTensors_AreFine()
    {
        using GgufFile file = GgufFile.FromBytes(new RawGguf(tensorCount: 2).Tensor("a", GgmlType.F32, 0, 16).Tensor("b", GgmlType.F32, 64, 8).Data(96).ToArray());
        Assert.Equal(64, file.GetTensorInfo("b").Offset);
    }

    [Fact]
    public void ErrorsAreModelFormatExceptions()
    {
        ModelFormatException e = Rejects(new RawGguf(version: 1).ToArray(), "version");
        Assert.Equal("bad.gguf", e.FilePath);
    }
}
