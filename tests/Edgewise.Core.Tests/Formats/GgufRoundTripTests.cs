using System.Runtime.InteropServices;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Formats;

public sealed class GgufRoundTripTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public unsafe void WriteThenRead_IsIdentity(int alignment)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.gguf");
        var rng = new Random(1234 + alignment);

        float[] f32 = RandomFloats(rng, 3 * 5);
        Half[] f16 = [.. RandomFloats(rng, 4 * 2).Select(v => (Half)v)];
        ushort[] bf16 = [.. RandomFloats(rng, 6).Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16))];
        byte[] q8 = RandomBytes(rng, 2 * 34 * 2);   // [64, 2] Q8_0: two 34-byte blocks per row
        byte[] q4k = RandomBytes(rng, 3 * 144);     // [256, 3] Q4_K
        byte[] i32 = RandomBytes(rng, 7 * 4);

        using (var writer = new GgufWriter(path, alignment))
        {
            writer.AddString("general.architecture", "gemma4");
            writer.AddString("general.name", "ünïcode ✓ name\nwith newline");
            writer.AddUInt8("t.u8", 200);
            writer.AddInt8("t.i8", -100);
            writer.AddUInt16("t.u16", 60000);
            writer.AddInt16("t.i16", -30000);
            writer.AddUInt32("t.u32", 4_000_000_000);
            writer.AddInt32("t.i32", -2_000_000_000);
            writer.AddFloat32("t.f32", 1e-6f);
            writer.AddBool("t.bool", true);
            writer.AddUInt64("t.u64", ulong.MaxValue - 1);
            writer.AddInt64("t.i64", long.MinValue + 1);
            writer.AddFloat64("t.f64", Math.PI);
            writer.AddString("t.empty", "");
            writer.AddStringArray("tokenizer.ggml.tokens", ["<pad>", "<eos>", "", "▁hello", "🙂"]);
            writer.AddArray<float>("tokenizer.ggml.scores", [0f, -1.5f, float.MaxValue, float.NegativeInfinity]);
            writer.AddArray<int>("tokenizer.ggml.token_type", [1, 3, 3, 1, 6]);
            writer.AddArray<bool>("t.bools", [true, false, true]);
            writer.AddArray<ulong>("t.u64s", [0, ulong.MaxValue]);
            writer.AddArray<double>("t.empty_f64s", []);
            writer.AddArrayOfArrays<int>("t.nested", [[1, 2], [], [3]]);

            writer.AddTensor("f32", GgmlType.F32, [3, 5], MemoryMarshal.AsBytes(f32.AsSpan()).ToArray());
            writer.AddTensor("f16", GgmlType.F16, [4, 2], MemoryMarshal.AsBytes(f16.AsSpan()).ToArray());
            writer.AddTensor("bf16", GgmlType.BF16, [6], MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray());
            writer.AddTensor("q8", GgmlType.Q8_0, [64, 2], q8);
            writer.AddTensor("q4k.streamed", GgmlType.Q4_K, [256, 3], stream =>
            {
                // Several small writes, as a quantizer emitting row by row would.
                for (int row = 0; row < 3; row++) stream.Write(q4k, row * 144, 144);
            });
            writer.AddTensor("i32.4d", GgmlType.I32, [1, 7, 1, 1], i32);
            writer.Write();
        }

        using GgufFile file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(alignment, file.Alignment);
        Assert.Equal(0, file.DataOffset % alignment);
        Assert.Equal("gemma4", file.GetString("general.architecture"));
        Assert.Equal("ünïcode ✓ name\nwith newline", file.GetString("general.name"));
        Assert.Equal(GgufValueType.UInt8, file["t.u8"].Type);
        Assert.Equal(200u, file.GetUInt32("t.u8"));
        Assert.Equal(-100, file.GetInt32("t.i8"));
        Assert.Equal(60000u, file.GetUInt32("t.u16"));
        Assert.Equal(-30000, file.GetInt32("t.i16"));
        Assert.Equal(4_000_000_000u, file.GetUInt32("t.u32"));
        Assert.Equal(-2_000_000_000, file.GetInt32("t.i32"));
        Assert.Equal(1e-6f, file.GetFloat32("t.f32"));
        Assert.True(file.GetBool("t.bool"));
        Assert.Equal(ulong.MaxValue - 1, file.GetUInt64("t.u64"));
        Assert.Equal(long.MinValue + 1, file.GetInt64("t.i64"));
        Assert.Equal(Math.PI, file.GetFloat64("t.f64"));
        Assert.Equal("", file.GetString("t.empty"));
        Assert.Equal(["<pad>", "<eos>", "", "▁hello", "🙂"], file.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal([0f, -1.5f, float.MaxValue, float.NegativeInfinity], file.GetArray<float>("tokenizer.ggml.scores"));
        Assert.Equal([1, 3, 3, 1, 6], file.GetArraySpan<int>("tokenizer.ggml.token_type").ToArray());
        Assert.Equal([true, false, true], file.GetArray<bool>("t.bools"));
        Assert.Equal([0UL, ulong.MaxValue], file.GetArray<ulong>("t.u64s"));
        Assert.Empty(file.GetArray<double>("t.empty_f64s"));
        IReadOnlyList<GgufValue> nested = file["t.nested"].AsArrayOfValues();
        Assert.Equal(3, nested.Count);
        Assert.Equal([1, 2], nested[0].AsArray<int>());
        Assert.Empty(nested[1].AsArray<int>());
        Assert.Equal([3], nested[2].AsArray<int>());

        // File order is preserved; the writer adds general.alignment last when it is not the default.
        string[] keys = [.. file.MetadataEntries.Select(e => e.Key)];
        Assert.Equal("general.architecture", keys[0]);
        Assert.Equal("t.nested", keys[alignment == 32 ? ^1 : ^2]);
        Assert.Equal(alignment != 32, file.ContainsKey("general.alignment"));

        Assert.Equal(["f32", "f16", "bf16", "q8", "q4k.streamed", "i32.4d"], file.Tensors.Select(t => t.Name));
        AssertTensor(file, "f32", GgmlType.F32, [3, 5], MemoryMarshal.AsBytes(f32.AsSpan()));
        AssertTensor(file, "f16", GgmlType.F16, [4, 2], MemoryMarshal.AsBytes(f16.AsSpan()));
        AssertTensor(file, "bf16", GgmlType.BF16, [6], MemoryMarshal.AsBytes(bf16.AsSpan()));
        AssertTensor(file, "q8", GgmlType.Q8_0, [64, 2], q8);
        AssertTensor(file, "q4k.streamed", GgmlType.Q4_K, [256, 3], q4k);
        AssertTensor(file, "i32.4d", GgmlType.I32, [1, 7, 1, 1], i32);
        foreach (GgufTensorInfo t in file.Tensors)
        {
            Assert.Equal(0, t.Offset % alignment);
            // The mapping starts on a page boundary, so aligned offsets give aligned pointers (SIMD loads rely on it).
            Assert.Equal(0, (long)file.GetTensor(t.Name).Data % alignment);
        }
        Assert.False(file.TryGetTensor("missing", out _));
        var missing = Assert.Throws<GgufFormatException>(() => file.GetTensor("missing"));
        Assert.Contains("'missing'", missing.Message);
        Assert.Contains(path, missing.Message);
    }

    [Fact]
    public void CopyingValuesIntoAnotherFile_PreservesThem()
    {
        using var dir = new TempDirectory();
        using (var writer = new GgufWriter(dir.File("a.gguf")))
        {
            writer.AddStringArray("s", ["x", "yy"]);
            writer.AddArrayOfArrays<short>("n", [[1, -2], [3]]);
            writer.AddFloat64("d", -0.25);
            writer.Write();
        }
        using (GgufFile source = GgufFile.Open(dir.File("a.gguf")))
        using (var copy = new GgufWriter(dir.File("b.gguf")))
        {
            foreach (GgufMetadataEntry e in source.MetadataEntries) copy.AddValue(e.Key, e.Value);
            copy.Write();
        }
        Assert.Equal(File.ReadAllBytes(dir.File("a.gguf")), File.ReadAllBytes(dir.File("b.gguf")));
    }

    [Fact]
    public void TypedGetters_NameKeyExpectedAndFound()
    {
        using var dir = new TempDirectory();
        using (var writer = new GgufWriter(dir.File("a.gguf")))
        {
            writer.AddString("general.architecture", "gemma4");
            writer.AddInt32("negative", -1);
            writer.AddArray<int>("ints", [1]);
            writer.Write();
        }
        using GgufFile file = GgufFile.Open(dir.File("a.gguf"));
        var wrongType = Assert.Throws<GgufFormatException>(() => file.GetUInt32("general.architecture"));
        Assert.Contains("'general.architecture'", wrongType.Message);
        Assert.Contains("expected UInt32, found String", wrongType.Message);
        var outOfRange = Assert.Throws<GgufFormatException>(() => file.GetUInt32("negative"));
        Assert.Contains("out of range", outOfRange.Message);
        var wrongElement = Assert.Throws<GgufFormatException>(() => file.GetArray<float>("ints"));
        Assert.Contains("expected Array of Float32, found Array of Int32", wrongElement.Message);
        var missingKey = Assert.Throws<GgufFormatException>(() => file.GetString("general.name"));
        Assert.Contains("'general.name' is missing", missingKey.Message);
        Assert.Equal(7u, file.GetUInt32OrDefault("absent", 7));
        Assert.Equal(-1, file.GetInt32OrDefault("negative", 0));
    }

    [Fact]
    public void Writer_RejectsDataOfTheWrongSize()
    {
        using var dir = new TempDirectory();
        using var writer = new GgufWriter(dir.File("a.gguf"));
        Assert.Throws<ArgumentException>(() => writer.AddTensor("short", GgmlType.F32, [4], new byte[15]));
        Assert.Throws<ArgumentException>(() => writer.AddTensor("ragged", GgmlType.Q8_0, [33], new byte[34]));
        writer.AddTensor("overrun", GgmlType.F32, [2], stream => stream.Write(new byte[12]));
        var e = Assert.Throws<InvalidOperationException>(() => writer.Write());
        Assert.Contains("'overrun'", e.Message);
    }

    private static unsafe void AssertTensor(GgufFile file, string name, GgmlType type, long[] shape, ReadOnlySpan<byte> expected)
    {
        TensorView view = file.GetTensor(name);
        Assert.Equal(name, view.Name);
        Assert.Equal(type, view.Type);
        Assert.Equal(shape, view.Shape);
        Assert.Equal(expected.Length, view.ByteLength);
        Assert.True(expected.SequenceEqual(view.Bytes), $"bytes of '{name}' differ");
        Assert.True(file.TryGetTensor(name, out TensorView again));
        Assert.True(again.Data == view.Data);
    }

    private static float[] RandomFloats(Random rng, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(rng.NextDouble() * 4 - 2);
        return values;
    }

    private static byte[] RandomBytes(Random rng, int count)
    {
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }
}
